"""A simulated three-zone GKE on loopback that speaks the real Kubernetes and Compute Engine APIs.

Only the CLI and the demo import this package (and the tests); the engine never does, not even
indirectly. One daemon (`daemon`, started and stopped by `manage`, configured by `config`) runs the
components in this order: `postgres`, `partner` (the payment partner), `network` (fault proxy, later
the ingress), `kube` (API server), `compute` (Compute Engine API), `controller` (controllers,
scheduler, kubelets, the processes behind the `shop`'s pods) and `prometheus`. They share the state in
`core`; `bench` is ``make bench``. Inside, its own layers contract: `bench` | `daemon` > `manage` >
the components (independent of each other) > `core` > `config`. Of the engine it may import only the
pure helpers (`harness.selectors`, `harness.aio`, `harness.errors`; `bench` also reads run folders
through `harness.journal` and `harness.measure`).
"""
