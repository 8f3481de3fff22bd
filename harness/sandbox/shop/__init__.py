"""The shop's pods: one process per pod (``python -m harness.sandbox.shop.server``) serving the
storefront, catalog, cart or checkout, with the capacity, metrics and draining every pod shares
(`runtime`) and its PostgreSQL pool (`db`). The daemon only writes the pods' `settings`. It may import
`harness.sandbox.core` (for the settings); the pod modules import nothing else of the sandbox.
"""
