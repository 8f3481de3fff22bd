"""Locust journeys: what simulated shoppers do. Loaded by path inside the Locust processes only."""
