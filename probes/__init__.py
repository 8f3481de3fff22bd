"""How the site is observed: probe kinds (one module each, the kind's parameters beside its
implementation, registered into ``harness.spec.registry.PROBES``) and Locust journeys in ``journeys/``."""
