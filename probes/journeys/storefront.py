"""Storefront shoppers: browse a lot, add to cart sometimes, check out now and then.

A Locust journeys file, loaded by path in the Locust worker processes (never imported by the
harness). Request names are the journey step names the SLIs use (``step.<name>.<metric>``); ``STEPS``
declares them all, and the harness reads that literal (without importing this file) to check every
``step.*`` SLI at validate time. A test keeps ``STEPS`` and the ``name=`` of the requests equal.
Think time between tasks comes from ``HARNESS_THINK_MIN`` / ``HARNESS_THINK_MAX`` (seconds), set by
the harness from the experiment's ``load.think_time``.
"""

from __future__ import annotations

import os
import random
import uuid

from locust import FastHttpUser, between, task

STEPS = ("home", "search", "product", "catalog.api", "cart.add", "cart.view", "checkout")
"""Every request ``name=`` below: the steps an SLI can name as ``step.<name>.<metric>``."""

THINK_MIN = float(os.environ.get("HARNESS_THINK_MIN", "1.0"))
THINK_MAX = float(os.environ.get("HARNESS_THINK_MAX", "3.0"))
PRODUCTS = 1000
WORDS = ("shoes", "jacket", "lamp", "phone", "socks", "kettle", "desk", "watch", "bag", "toy")


class Shopper(FastHttpUser):
    """One shopper with a cart; a failed step (4xx, 5xx, timeout, refused) is a failed request."""

    wait_time = between(THINK_MIN, max(THINK_MIN, THINK_MAX))
    network_timeout = 10.0
    connection_timeout = 10.0

    def on_start(self) -> None:
        self.cart_id = str(uuid.uuid4())
        self.items = 0

    @task(3)
    def home(self) -> None:
        self.client.get("/", name="home")

    @task(2)
    def search(self) -> None:
        self.client.get(f"/search?q={random.choice(WORDS)}", name="search")

    @task(4)
    def product(self) -> None:
        self.client.get(f"/products/{random.randint(1, PRODUCTS)}", name="product")

    @task(1)
    def catalog_api(self) -> None:
        self.client.get(f"/api/catalog/products/{random.randint(1, PRODUCTS)}", name="catalog.api")

    @task(2)
    def add_to_cart(self) -> None:
        body = {"product_id": random.randint(1, PRODUCTS), "qty": random.randint(1, 3)}
        response = self.client.post(f"/api/cart/{self.cart_id}/items", json=body, name="cart.add")
        if response.status_code and response.status_code < 400:
            self.items += 1
        self.client.get(f"/api/cart/{self.cart_id}", name="cart.view")

    @task(1)
    def checkout(self) -> None:
        if not self.items:
            return
        self.client.post("/api/checkout", json={"cart_id": self.cart_id}, name="checkout")
        self.cart_id = str(uuid.uuid4())
        self.items = 0
