"""The data plane: the ingress in front of the shop (`ingress.Ingress`), the TCP fault proxy that speaks
Toxiproxy's HTTP API (`toxiproxy.Toxiproxy`, with its `proxy`, `link` and `toxics`), and `netpolicy`,
which enforces Compute Engine deny rules on that traffic. It may import `harness.sandbox.core` and,
for `netpolicy` only, `harness.sandbox.compute.firewalls`.
"""
