"""A simulated three-zone GKE on loopback that speaks the real Kubernetes and Compute Engine APIs.

Only the CLI and the tests import this package; the engine never does. One daemon (`daemon`, started
and stopped by `manage`, configured by `config`) runs the components in this order: `postgres`,
`partner` (the payment partner), `network` (fault proxy, later the ingress), `kube` (API server),
`compute` (Compute Engine API), `controller` (controllers, scheduler, kubelets, the processes behind
the `shop`'s pods) and `prometheus`. They share the state in `core`; `bench` is ``make bench``.
"""
