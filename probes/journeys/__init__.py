"""Locust journeys: what simulated shoppers do. Loaded by path inside the Locust processes only:
these modules import Locust (which monkey-patches on import) and nothing of the harness, and no module
of the harness may import them, even indirectly (the locust contract in pyproject.toml).
"""
