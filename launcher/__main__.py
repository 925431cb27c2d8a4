"""``python -m launcher`` is the ``hallq`` command (how the supervisor and the tests start parts).

``hallq start``, once it has checked the hall, becomes ``python -m launcher start`` with its plan in
the environment (launcher/supervisor.py): that process goes straight to the plan, without the command's
parser and the parts' modules it imports.
"""

import os

code = None
if "HALLQ_START_PLAN" in os.environ:  # launcher.supervisor.PLAN_ENV, named here so that a part need not import it
    from launcher.supervisor import resume_from_environment

    code = resume_from_environment()
if code is None:
    from hallq.lazyimports import tls_and_proxy

    tls_and_proxy()  # first: ssl and urllib.request loaded when used, not because a module imports them (hallq.mqtt)
    from launcher.cli import main

    code = main()
raise SystemExit(code)
