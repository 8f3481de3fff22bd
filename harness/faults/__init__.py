"""Fault kinds: what the harness can break, one module per family (`pods`, `zones`, `databases`,
`mongo`, `proxies`), each kind's parameters beside its implementation and registered into
``harness.spec.registry.FAULTS``; `base` holds the `Fault` lifecycle (plan, inject, hold, revert with
its undo recorded first) and the environment a fault acts through, `preflight` the capacity and
blast-radius checks every kind shares.

It may import `harness.clients`, `harness.spec`, `harness.measure` and the shared utilities; never
`probes` (a sibling layer), the plan, the run, reports or the CLI, which sit above it.
"""
