"""A real Prometheus scraping every pod, when a ``prometheus`` binary is on PATH.

Targets are written to a file_sd JSON file and kept current as pods come and go, so Prometheus picks
them up without a restart. Without a binary the component reports itself disabled and ``url`` is None.
Prometheus binds its port itself: when the port it was given is taken by the time it starts, it is
started again on a new one (`ports.start_on_free_port`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp

from .core.context import Context
from .core.ports import PortTaken, start_on_free_port

_CONFIG = """\
global:
  scrape_interval: {interval}
  evaluation_interval: {interval}
scrape_configs:
  - job_name: shop
    file_sd_configs:
      - files: ['{targets}']
        refresh_interval: 1s
"""


def scrape_targets(ctx: Context) -> list[dict[str, Any]]:
    """file_sd entries for every running pod with an IP (one entry per pod, labelled)."""
    out = []
    for pod in ctx.store.list("pods", copy_out=False):
        ip = (pod.get("status") or {}).get("podIP")
        if not ip or pod["metadata"].get("deletionTimestamp"):
            continue
        labels = pod["metadata"].get("labels") or {}
        node = pod["spec"].get("nodeName", "")
        out.append(
            {
                "targets": [f"{ip}:{ctx.config.pod_port}"],
                "labels": {
                    "namespace": pod["metadata"].get("namespace", ""),
                    "pod": pod["metadata"]["name"],
                    "service": labels.get("app", ""),
                    "node": node,
                    "zone": ctx.zone_of_node(node) or "",
                },
            }
        )
    return out


class Prometheus:
    """Runs ``prometheus`` as a child process with a generated config."""

    name = "prometheus"

    def __init__(self) -> None:
        self.url: str | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._ctx: Context | None = None
        self._last: str = ""
        self._dirty = False
        self._task: asyncio.Task[None] | None = None
        self._log_from = 0

    @property
    def _dir(self) -> Path:
        assert self._ctx is not None
        return self._ctx.dir / "prometheus"

    async def start(self, ctx: Context) -> None:
        self._ctx = ctx
        binary = shutil.which("prometheus")
        if not ctx.config.prometheus or binary is None:
            return
        pdir = ctx.dir / "prometheus"
        pdir.mkdir(exist_ok=True)
        targets = pdir / "targets.json"
        self._write_targets()
        (pdir / "prometheus.yml").write_text(_CONFIG.format(interval=ctx.config.scrape_interval, targets=targets))

        async def start_on(port: int) -> None:
            await self._spawn(binary, port)
            await self._wait_ready(timeout=30)

        port, _ = await start_on_free_port(start_on, first=ctx.ports["prometheus"])
        ctx.ports["prometheus"] = port
        ctx.store.listeners.append(self._on_change)
        self._task = asyncio.create_task(self._sync_loop())

    async def _spawn(self, binary: str, port: int) -> None:
        pdir = self._dir
        log = open(pdir / "prometheus.log", "ab")  # noqa: SIM115 - owned by the child
        try:
            self._log_from = log.tell()
            self._proc = await asyncio.create_subprocess_exec(
                binary,
                f"--config.file={pdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={pdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1d",
                stdout=log,
                stderr=log,
            )
        finally:
            log.close()
        self.url = f"http://127.0.0.1:{port}"

    async def _wait_ready(self, timeout: float) -> None:
        """Until our process answers ``/-/ready``; `PortTaken` when it exits because it could not listen."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while time.monotonic() < deadline:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(f"{self.url}/-/ready") as resp:
                        if resp.status == 200 and await self._answered_by_us(session):
                            return
                if self._proc and self._proc.returncode is not None:
                    self._proc, self.url = None, None
                    raise self._start_failure()
                await asyncio.sleep(0.2)
        raise TimeoutError("prometheus not ready")

    async def _answered_by_us(self, session: aiohttp.ClientSession) -> bool:
        """Whether the Prometheus on our URL runs our config (not another sandbox's on the same port)."""
        async with session.get(f"{self.url}/api/v1/status/flags") as resp:
            body = await resp.json()
        flags = body.get("data") if isinstance(body, dict) else None
        return isinstance(flags, dict) and flags.get("config.file") == str(self._dir / "prometheus.yml")

    def _start_failure(self) -> Exception:
        with open(self._dir / "prometheus.log", "rb") as f:
            f.seek(self._log_from)
            text = f.read().decode(errors="replace")
        if "address already in use" in text:
            return PortTaken("prometheus could not listen on its port")
        return RuntimeError(f"prometheus exited at start; see {self._dir / 'prometheus.log'}")

    def _on_change(self, kind: str, plural: str, obj: dict[str, Any]) -> None:
        if plural == "pods":
            self._dirty = True

    def _write_targets(self) -> None:
        assert self._ctx is not None
        text = json.dumps(scrape_targets(self._ctx), sort_keys=True)
        if text == self._last:
            return
        self._last = text
        path = self._ctx.dir / "prometheus" / "targets.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)

    async def _sync_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if self._dirty:
                self._dirty = False
                self._write_targets()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        if self._proc and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), timeout=10)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()

    def health(self) -> dict[str, Any]:
        if self.url is None:
            return {"ok": True, "enabled": False, "reason": "no prometheus binary on PATH"}
        alive = self._proc is not None and self._proc.returncode is None
        return {"ok": alive, "enabled": True, "url": self.url}
