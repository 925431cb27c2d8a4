"""``python -m launcher`` is the ``hallq`` command (how the supervisor and the tests start parts)."""

from launcher.cli import main

raise SystemExit(main())
