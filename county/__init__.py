"""The county platform (``hallq platform``): the halls of a county's four levels, connected.

Every hall stays the shard: its own server, broker and SQLite, working on its own when the county
network is down. The platform receives every hall's journal events through the county's clustered
broker (NATS with its MQTT gateway; each hall's Mosquitto bridges to it), keeps them exactly once in
effect in PostgreSQL, fills any gap from the hall's own journal over HTTP, and keeps the registry of
the county's halls and its own accounts. docs/county.md is the design.
"""
