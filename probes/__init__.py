"""How the site is observed: probe kinds (one module each, the kind's parameters beside its
implementation, registered into ``harness.spec.registry.PROBES``; `base` holds `Probe`,
`Observation` and the environment a probe reaches the world through) and Locust journeys in
``journeys/``.

A root package of its own, in the engine's layers beside ``harness.faults`` (neither imports the
other): it may import ``harness.clients``, ``harness.spec``, ``harness.measure`` and the shared
utilities (``aio``, ``retry``, ``selectors``, ``events``, ``errors``); the run imports it. ``journeys``
imports Locust and nothing of the harness, and only the Locust processes load it.
"""
