"""A chaos and resilience test harness for a multi-zone GKE shop.

One subpackage per step of the data flow, each importing only the layers below it (the import-linter
`layers` contract in pyproject.toml): `demo` | `__main__` (both start the CLI) > `cli` > `run` |
`rollback` > `plan` > `report` | `load` > `faults` | `probes` (a root package of its own) > `clients` >
`spec` > `measure` > the shared utilities `journal`, `aio`, `retry`, `selectors` > `events` | `errors`.
`sandbox` is the simulated GKE, apart from the engine: only the CLI and the demo import it.
"""

__version__ = "0.1.0"
