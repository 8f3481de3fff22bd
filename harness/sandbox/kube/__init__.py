"""The Kubernetes API server (the ``kubeapi`` component, `apiserver.KubeApi`): request resolution,
CRUD, patch, delete and eviction, scale, watch, discovery, server-side Tables, Status errors, bearer
auth and TLS, plus the kubeconfig it is reached with and `testing` helpers that run it alone. It may
import `harness.sandbox.core` and `harness.selectors`; no other component.
"""
