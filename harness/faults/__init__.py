"""Fault kinds: what the harness can break, one module per fault family; params in ``params``."""
