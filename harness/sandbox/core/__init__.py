"""The shared state of one sandbox daemon, which every component receives: the `context.Context`
(config, ports, VMs, firewalls, secrets), the object `store`, the ground-`truth` log, race-free listening
`ports`, injected `apifaults` and owner-only `files`. It may import `harness.sandbox.config` and the
engine's pure helpers (`harness.selectors`), never a component: components talk to each other only
through the context.
"""
