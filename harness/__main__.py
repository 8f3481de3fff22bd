"""``python -m harness``. Like ``python -P``, it first drops the working directory that ``-m`` put at the
front of ``sys.path``: a ``probes/`` folder where the user stands (their journeys) would otherwise
shadow the harness's own ``probes`` package and every probe kind would be unknown."""

import os
import sys

if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from harness.cli import entry  # noqa: E402 - after the path fix above

entry()
