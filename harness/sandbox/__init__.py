"""A simulated three-zone GKE on loopback that speaks the real Kubernetes and Compute Engine APIs.

Only the CLI and the tests import this package; the engine never does.
"""
