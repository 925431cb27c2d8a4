"""The read model: every read the JSON API and the console pages make, in one place.

Routes (``queue_server/api``) and pages (``queue_server/web``) hold no SQL and open no
transaction. A route parses and authorises the request, then either calls a domain service
for a change (:class:`~queue_server.domain.service.QueueService` and its desks: one
``BEGIN IMMEDIATE`` transaction per call) or a function here for a view, and shapes the answer.

Every function here takes the server's state ``st`` (``current_app.extensions["hallq"]``:
``db``, ``hall``, ``service``, ``snapshots``), reads in one snapshot (``db.read()``, or a single
statement on ``db.connection()``) and returns plain dicts and lists. Nothing here writes, and
nothing here knows Flask: what both the API and the pages show (a window's console, the live hall,
statistics, tidal windows, settings, follow-ups, the journal) is built once.

* :mod:`.hall`: the open reads (board, businesses, items, windows, notices, calls);
* :mod:`.consoles`: the window consoles (live version, console, queue, rating prompt, pages);
* :mod:`.manager`: the manager's views (live hall, journal, notices, accounts, throttles, tidal,
  help requests and device health);
* :mod:`.settings`: hall settings (overview, catalogue, CSV exports) and reloading them into the process;
* :mod:`.stats`: statistics reports; :mod:`.followups`: bad-review follow-ups.
"""
