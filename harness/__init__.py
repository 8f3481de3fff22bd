"""A chaos and resilience test harness for a multi-zone GKE shop."""

__version__ = "0.1.0"
