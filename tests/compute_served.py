"""A sandbox Compute API (and optionally the controller) served on its own event loop in a thread, for
component tests that drive it with the official google-cloud-compute client."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from harness.sandbox.compute.api import ComputeApi, compute_client_options
from harness.sandbox.controller.manager import Controller
from harness.sandbox.core.context import Context
from harness.sandbox.core.truth import read_truth


class Served:
    """A ComputeApi (and optionally the controller, for node conditions) on a loop in a thread."""

    def __init__(self, ctx: Context, controller: bool = False) -> None:
        self.ctx = ctx
        self.api = ComputeApi()
        self.controller = Controller(run_bootstrap=True) if controller else None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.call(self.api.start(ctx))
        if self.controller is not None:
            self.call(self.controller.start(ctx))
        self.url = ctx.url("compute")

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def client(self, cls: Any) -> Any:
        return cls(**compute_client_options(self.url))

    def truth(self, *events: str) -> list[dict[str, Any]]:
        return [e for e in read_truth(self.ctx.dir / "truth.jsonl") if e["event"] in events]

    def close(self) -> None:
        if self.controller is not None:
            self.call(self.controller.stop())
        self.call(self.api.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
        self.ctx.truth.close()
