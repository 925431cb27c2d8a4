"""The demo credentials of the sample halls, so the server can warn while they are in use.

The sample configs in config/ ship with one password for every demo account
(``hallq-demo``) and fixed device keys, so that a first run works without any
set-up. A hall that keeps them is open to anyone who has read this file:
the server logs a warning at every start until they are replaced (see
docs/deployment.md, "Accounts and keys").
"""

DEMO_PASSWORD = "hallq-demo"
DEMO_PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$RjnulUTa59e75OYcUdUX5w$ZoRNJ72Vf1bApAEEYn3YmxTinrLNqGNU4nqYNf2rDNo"
DEMO_KEYS = ("demo-kiosk-1", "demo-kiosk-2", "demo-gateway-1", "demo-tablet-1", "demo-kiosk-station")
