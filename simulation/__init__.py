"""A virtual hall day (``hallq simulate``): residents, windows and staff, against the real server.

* :mod:`simulation.scenario` reads and checks the simulation file
  (``config/<hall>/simulation.toml``): the arrival profile, the businesses'
  service times and behaviours, the scenarios to compare;
* :mod:`simulation.model` turns it into a day's plan (who arrives when,
  for what, how long they take), deterministic for a seed;
* :mod:`simulation.engine` plays the plan event by event against a
  backend: the real server over HTTP (:mod:`simulation.driver`) or an
  in-memory hall for tests and quick previews (:mod:`simulation.memory`);
* :mod:`simulation.stats` makes the report (waits, utilisation,
  unserved tickets) and the side-by-side comparison of scenarios;
* :mod:`simulation.verify` checks a report against the server's journal.

No Flask and no Kivy here: the simulator is a client of the server like a kiosk.
"""
