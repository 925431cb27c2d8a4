"""The top of the house: the ``hallq`` command and the supervisor of ``hallq start``.

* :mod:`launcher.cli`: the ``hallq`` command; its own subcommands (``serve``,
  ``start``, ``broker``, ``tls``…) and those the parts register
  (:mod:`launcher.components`);
* :mod:`launcher.supervisor`: ``hallq start``, every part of the hall as its own process;
* :mod:`launcher.banner`: what ``hallq start`` prints once the hall is up (parts, links, accounts);
* :mod:`launcher.processes`: a real ``hallq serve`` started from Python, for the
  simulator, the tests and the benchmarks.

Nothing imports this package but the command itself (``python -m launcher`` is
``hallq``), the simulator and the tests: the parts are found by name, so each
stays free of the command that starts it.
"""
