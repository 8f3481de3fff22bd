"""The seam to the outside world: one client per API (`kube`, `compute`, `toxiproxy`, `postgres`,
`mongo`, the target `lease`) and how a target becomes a `connect.Connection`. Only this package imports
kubernetes, google.cloud, psycopg and pymongo.

Every client turns its library's errors into harness.errors.TransientClientError (429, 5xx, timeouts,
connection errors) or PermanentClientError (other 4xx), so callers retry through harness.retry. It
may import only the layers below it: `harness.spec`, `harness.measure` and the shared utilities
(`journal`, `aio`, `retry`, `selectors`, `events`, `errors`); faults, probes and the run import it.
"""
