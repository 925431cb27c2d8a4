"""Web pages served by the queue server (staff and manager consoles, the resident's ticket page).

Each module here exposes a Flask blueprint named ``bp``; the app factory
registers them all. JSON lives under ``queue_server.api``; pages here call
the same domain service.
"""
