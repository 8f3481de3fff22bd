"""The `harness` command: parses arguments, calls the engine, renders what it returns for a terminal,
and is the only place errors become exit codes.

It may import every other part of the harness (run, rollback, plan, report, spec and what lies below
them), and it is the only part besides `harness.demo` that imports the sandbox (`harness sandbox
up|down|status|config`). Only `harness.__main__` and `harness.demo` import it. One module per group of
commands (`experiments`, `gate`, `history`, `sandbox`), `common` for what they share, `render` for
terminal output, `main` for the parser and the exit codes.
"""

from harness.cli.main import entry, main

__all__ = ["entry", "main"]
