"""Game days: a series of experiments run in order against one target, with the shop made whole
between them, into one game-day folder that links each run (``runner``, ``whole``, ``render``), and
their schedule around freeze windows (``schedule``).

It sits between the CLI and the run: it runs each experiment through a callable the CLI gives it (the
same code ``harness run`` uses), and never imports the CLI.
"""

from __future__ import annotations
