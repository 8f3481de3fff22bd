"""Shared fixtures: ONE sandbox per test session, and helpers to write and run experiments on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent

# the harness's pytest plugin collects experiment YAML; these are broken on purpose (read by the tests)
collect_ignore = ["fixtures"]


@dataclass
class SandboxHandle:
    dir: Path
    endpoints: dict[str, Any]

    @property
    def kubeconfig(self) -> str:
        return str(self.endpoints["kubeconfig"])

    def kube_access(self) -> Any:
        """URL, bearer token and CA of the sandbox's Kubernetes API, read from its kubeconfig."""
        from harness.sandbox.kube.kubeconfig import read_kubeconfig

        return read_kubeconfig(Path(self.kubeconfig))

    def kube_request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A raw HTTP request to the sandbox's Kubernetes API (e.g. ``PUT /sandbox/api-faults``), sent as
        kubectl sends it: with the kubeconfig's bearer token, trusting its CA."""
        access = self.kube_access()
        with httpx.Client(base_url=access.server, headers=access.headers, verify=access.verify(), timeout=10) as http:
            return http.request(method, path, **kwargs)

    def truth(self) -> list[dict[str, Any]]:
        from harness.sandbox.core.truth import read_truth

        return read_truth(self.dir / "truth.jsonl")

    def kube(self) -> Any:
        from harness.clients.kube import KubeClient

        return KubeClient(self.kubeconfig)

    def wait_deployments_ready(self, namespace: str = "shop", timeout: float = 60) -> None:
        kube = self.kube()
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                deps = kube.list_deployments(namespace)
                if all((d.get("status") or {}).get("readyReplicas", 0) == d["spec"]["replicas"] for d in deps):
                    return
                time.sleep(0.3)
        finally:
            kube.close()
        raise AssertionError("deployments not ready in time")


    def spread(self, namespace: str = "shop", timeout: float = 90) -> None:
        """Put every deployment back on all zones (earlier tests move pods away and nothing moves them
        back): delete a pod from a crowded zone until each app has a pod in every zone."""
        kube = self.kube()
        zone_of = {n["metadata"]["name"]: n["metadata"]["labels"]["topology.kubernetes.io/zone"]
                   for n in kube.list_nodes()}
        zones = set(zone_of.values())
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.wait_deployments_ready(namespace)
                by_app: dict[str, dict[str, list[str]]] = {}
                for p in kube.list_pods(namespace):
                    if p["metadata"].get("deletionTimestamp") or not p["spec"].get("nodeName"):
                        continue
                    app = p["metadata"]["labels"].get("app", "")
                    zone = zone_of[p["spec"]["nodeName"]]
                    by_app.setdefault(app, {}).setdefault(zone, []).append(p["metadata"]["name"])
                moved = False
                for placed in by_app.values():
                    if len(placed) < len(zones) and any(len(v) > 1 for v in placed.values()):
                        crowded = max(placed.values(), key=len)
                        kube.delete_pod(namespace, crowded[0], 0)
                        moved = True
                if not moved:
                    return
                time.sleep(1.0)
        finally:
            kube.close()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    """The one sandbox of this test session (default topology, compressed timings)."""
    from harness.sandbox import manage

    directory = tmp_path_factory.mktemp("sandbox")
    eps = manage.up(directory, timeout=180)
    try:
        yield SandboxHandle(directory, eps)
    finally:
        manage.down(directory)


@dataclass
class Workspace:
    """A folder holding experiments, a targets.yaml pointing at the session sandbox, and reports."""

    root: Path
    sandbox: SandboxHandle

    def experiment(self, name: str, body: str) -> Path:
        path = self.root / f"{name}.yaml"
        path.write_text(f"name: {name}\ntitle: {name}\ntarget: sandbox\n" + textwrap.dedent(body))
        return path

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def harness(self, *args: str, env: dict[str, str] | None = None, timeout: float = 180,
                check: int | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "harness", *args],
            cwd=self.root, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout,
        )
        if check is not None:
            assert proc.returncode == check, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "harness", *args],
            cwd=self.root, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )

    def run_dirs(self) -> list[Path]:
        return sorted(p for p in self.reports.glob("*") if p.is_dir()) if self.reports.exists() else []

    def last_run(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.run_dirs()[-1] / "run.json").read_text())
        return data


@pytest.fixture
def workspace(tmp_path: Path, sandbox: SandboxHandle) -> Workspace:
    (tmp_path / "targets.yaml").write_text(
        f"targets:\n  sandbox:\n    kind: sandbox\n    endpoints_file: {sandbox.dir / 'endpoints.json'}\n"
    )
    journeys = tmp_path / "probes" / "journeys"
    journeys.mkdir(parents=True)
    (journeys / "storefront.py").write_text((REPO / "probes/journeys/storefront.py").read_text())
    return Workspace(tmp_path, sandbox)
