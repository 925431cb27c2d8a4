"""Web pages served by the queue server (staff and manager consoles, the resident's ticket page).

Each module here exposes a Flask blueprint named ``bp``; the app factory
registers them all. JSON lives under ``queue_server.api``. Pages call the same
domain service for a change and the same read model (``queue_server.readmodel``)
for what they show; they hold no SQL and never import the API: what both need
of a request (the session cookie, the language) is in ``queue_server.http_common``.
"""
