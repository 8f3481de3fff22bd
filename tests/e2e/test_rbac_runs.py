"""Least privilege, checked against what the harness really asks: run catalogue experiments on the
session sandbox, read every API request they made from the sandbox's request log, and check that the
RBAC ``harness rbac`` printed for those experiments allows each one (and that it grants nothing they
did not use, beyond what other experiments of the catalogue need)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import yaml

from harness.plan.rbac import allows, allows_url
from harness.sandbox.kube.requestlog import read_requests
from tests.conftest import REPO, Workspace

SHORT = {"baseline": "3s", "recovery": "3s", "duration": "6s", "every": "3s", "hold": "3s"}


def _compressed(doc: dict[str, Any]) -> dict[str, Any]:
    """The catalogue experiment with its timings compressed (same kinds, targets and API calls, seconds
    instead of minutes) and a lighter load."""
    timeline = doc["timeline"]
    timeline.update({k: SHORT[k] for k in ("baseline", "recovery") if k in timeline})
    for step in timeline.get("faults") or []:
        for params in step.values():
            if isinstance(params, dict):
                params.update({k: SHORT[k] for k in ("duration", "every", "hold") if k in params})
    if doc.get("load"):
        doc["load"]["users"] = min(int(doc["load"].get("users", 10)), 10)
    return doc


def _run_and_log(workspace: Workspace, names: list[str]) -> tuple[list[Path], list[dict[str, Any]]]:
    """Run catalogue experiments ``names`` (copied into the workspace) and return their files and the API
    requests the harness made meanwhile (kubectl and the tests' own calls are not the harness)."""
    files = []
    for name in names:
        doc = _compressed(yaml.safe_load((REPO / "experiments" / f"{name}.yaml").read_text()))
        (workspace.root / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        files.append(workspace.root / f"{name}.yaml")
    started = time.time()
    proc = workspace.harness("run", *map(str, files), "--reports", str(workspace.reports), timeout=400)
    assert proc.returncode in (0, 1), f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    ended = time.time()
    log = read_requests(workspace.sandbox.dir / "requests.jsonl")
    # the preflight's SelfSubjectAccessReviews need no grant: every authenticated user may create them
    # (the built-in system:basic-user ClusterRole)
    mine = [r for r in log if started <= r["ts"] <= ended and not r["agent"].startswith("kubectl")
            and r.get("resource") != "selfsubjectaccessreviews"]
    return files, mine


def _rbac(workspace: Workspace, files: list[Path]) -> list[dict[str, Any]]:
    proc = workspace.harness("rbac", *map(str, files), check=0)
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def _denied(docs: list[dict[str, Any]], requests: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in requests:
        if "url" in r:
            ok = allows_url(docs, r["verb"], r["url"])
        else:
            ok = allows(docs, r["verb"], r["group"], r["resource"], r["namespace"])
        if not ok:
            out.append(f"{r['verb']} {r.get('group') or 'core'}/{r.get('resource', r.get('url'))} "
                       f"in {r.get('namespace') or '(cluster)'}")
    return sorted(set(out))


def _used(requests: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(r["verb"], r.get("group", ""), r.get("resource", r.get("url", ""))) for r in requests}


def test_pod_kill_and_scale_down_ask_only_what_rbac_grants(workspace: Workspace) -> None:
    workspace.sandbox.wait_deployments_ready()
    files, requests = _run_and_log(workspace, ["checkout-pod-kill", "catalog-scale-down"])
    used = _used(requests)
    assert ("delete", "", "pods") in used and ("patch", "apps", "deployments/scale") in used
    assert ("update", "coordination.k8s.io", "leases") in used
    docs = _rbac(workspace, files)
    assert _denied(docs, requests) == []
    assert not allows(docs, "patch", "", "nodes", None)  # neither experiment cordons
    assert not allows(docs, "create", "", "pods/eviction", "shop")


def test_zone_drain_asks_only_what_rbac_grants(workspace: Workspace) -> None:
    workspace.sandbox.spread()
    files, requests = _run_and_log(workspace, ["zone-drain-europe-west1-b"])
    used = _used(requests)
    assert {("patch", "", "nodes"), ("create", "", "pods/eviction"), ("list", "", "pods")} <= used
    docs = _rbac(workspace, files)
    assert _denied(docs, requests) == []
    assert not allows(docs, "delete", "", "pods", "shop")  # a drain evicts, it never deletes


def test_zone_outage_asks_only_what_rbac_grants(workspace: Workspace) -> None:
    workspace.sandbox.spread()
    files, requests = _run_and_log(workspace, ["zone-outage-europe-west1-c"])
    assert {("list", "", "nodes"), ("list", "", "pods")} <= _used(requests)
    docs = _rbac(workspace, files)
    assert _denied(docs, requests) == []
    assert not allows(docs, "patch", "", "nodes", None)  # the VMs stop through Compute Engine: no cordon
    proc = workspace.harness("rbac", *map(str, files), check=0)
    assert "compute.instances.stop" in proc.stdout  # the GCP IAM it needs instead, as a comment
