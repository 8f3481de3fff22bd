"""How the site is observed: probe kinds (params in ``probes.params``) and Locust journeys."""
