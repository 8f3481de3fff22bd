"""The controller-manager, scheduler and kubelets (the ``controller`` component, `manager.Controller`):
the objects a fresh cluster starts with (`bootstrap`), deployments and replica sets, PDB status, node
lifecycle, scheduling across zones, and the kubelets' pod workers with the real processes behind pods
(`podproc`). It works on the store directly and may import `harness.sandbox.core`,
`harness.sandbox.config` and the engine's pure helpers; no other component.
"""
