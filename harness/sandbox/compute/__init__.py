"""The Compute Engine API (the ``compute`` component, `api.ComputeApi`): instances, zone and global
operations, firewall rules, VPC networks (`networks`), the zones' managed instance groups and their
repair of stopped VMs (`migs`), and IAM permission checks (`iam`), with the JSON shapes of the real API
in `model`. It may import `harness.sandbox.core`; no other component. `firewalls.vm_blocked` is the one
question the network asks of it.
"""
