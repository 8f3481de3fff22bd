"""`harness doctor` against live sandboxes: all green for the catalogue on the session sandbox; on a sandbox
that denies ``create pods/eviction``, a red row naming the verb and the resource, exit 2, and `harness run`,
`harness gate`, `harness gameday run` and the pytest plugin of a zone drain refused before anything is
touched; denying ``compute.instances.stop`` (tested on a VM) and ``compute.instanceGroupManagers.update``
(tested on the project, through Cloud Resource Manager), two red GCP rows for the zone outage."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.sandbox import manage
from tests.conftest import REPO, SandboxHandle, Workspace

CATALOGUE = sorted(p for p in (REPO / "experiments").glob("*.yaml") if p.name not in ("targets.yaml", "freeze.yaml"))
DENIED = """
zones: [b, c, d]
nodes_per_zone: 1
products: 20
prometheus: false
denied_permissions: ['create pods/eviction', 'compute.instances.stop', 'compute.instanceGroupManagers.update']
services:
  - {name: storefront, replicas: 1, path_prefix: /}
"""


def _copy_catalogue(root: Path) -> list[str]:
    """The catalogue's experiments copied beside ``root``'s targets.yaml (so they run on its sandbox)."""
    names = []
    for path in CATALOGUE:
        shutil.copy(path, root / path.name)
        names.append(path.name)
    return names


def _doctor_json(workspace: Workspace, *args: str) -> tuple[int, dict[str, Any], str]:
    proc = workspace.harness("doctor", "--format", "json", *args, timeout=120)
    assert proc.stdout.strip(), proc.stderr
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def _rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for target in report["targets"] for row in target["rows"]]


def test_doctor_is_all_green_on_the_session_sandbox_for_the_catalogue(workspace: Workspace) -> None:
    names = _copy_catalogue(workspace.root)
    started = time.monotonic()
    code, report, err = _doctor_json(workspace, *names)
    took = time.monotonic() - started
    rows = _rows(report)
    unchecked = [r for r in rows if r["result"] == "not checked"]
    assert [r for r in rows if r["result"] == "FAILED"] == [] and code == 0, (rows, err)
    kinds = {r["check"].split(":", 1)[0] for r in rows}
    assert kinds >= {"endpoint", "kubernetes", "gcp", "postgres"}
    assert any("create pods/eviction in namespace shop" in r["check"] for r in rows)
    assert any("toxiproxy" in r["check"] for r in rows)
    print(f"doctor on the catalogue: {len(rows)} checks, {took:.1f}s wall, "
          f"{report['targets'][0]['seconds']:.1f}s checking")
    assert unchecked == []
    gcp = [r for r in rows if r["check"].startswith("gcp:")]
    assert gcp and all(r["result"] == "ok" for r in gcp)
    assert {r["check"].rsplit("(", 1)[1] for r in gcp} >= {"instances.testIamPermissions)",
                                                          "projects.testIamPermissions)"}


@pytest.fixture(scope="module")
def denied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    """A small sandbox of its own that denies `create pods/eviction`."""
    directory = tmp_path_factory.mktemp("denied")
    (directory / "config.yaml").write_text(DENIED)
    eps = manage.up(directory / "sbx", directory / "config.yaml", timeout=120)
    try:
        yield SandboxHandle(directory / "sbx", eps)
    finally:
        manage.down(directory / "sbx")


@pytest.fixture
def denied_ws(tmp_path: Path, denied: SandboxHandle) -> Workspace:
    (tmp_path / "targets.yaml").write_text(
        f"targets:\n  sandbox:\n    kind: sandbox\n    endpoints_file: {denied.dir / 'endpoints.json'}\n")
    journeys = tmp_path / "probes" / "journeys"
    journeys.mkdir(parents=True)
    (journeys / "storefront.py").write_text((REPO / "probes/journeys/storefront.py").read_text())
    for name in ("zone-drain-europe-west1-b.yaml", "zone-outage-europe-west1-c.yaml"):
        shutil.copy(REPO / "experiments" / name, tmp_path)
    return Workspace(tmp_path, denied)


def test_a_denied_verb_is_a_red_row_naming_it_and_exit_2(denied_ws: Workspace) -> None:
    code, report, _ = _doctor_json(denied_ws, "zone-drain-europe-west1-b.yaml")
    assert code == 2 and report["ok"] is False
    [red] = [r for r in _rows(report) if r["result"] == "FAILED"]
    assert red["check"] == "kubernetes: create pods/eviction in namespace shop"
    assert red["needed_for"] == ["zone-drain (zone-drain-europe-west1-b)"]
    assert "resources: [pods/eviction]" in red["fix"] and "verbs: [create]" in red["fix"]


def test_denied_iam_permissions_are_red_rows_naming_the_resource_tested(denied_ws: Workspace) -> None:
    code, report, _ = _doctor_json(denied_ws, "zone-outage-europe-west1-c.yaml")
    gcp = {r["check"]: r for r in _rows(report) if r["check"].startswith("gcp:")}
    assert code == 2 and all(r["result"] != "not checked" for r in gcp.values()), gcp
    project = "sandbox-project"
    vm = gcp["gcp: 3 IAM permission(s) on an instance of europe-west1-c (instances.testIamPermissions)"]
    assert vm["result"] == "FAILED" and vm["detail"].startswith(f"not granted on projects/{project}/zones/europe-west1-c"
                                                                 "/instances/")
    assert vm["detail"].endswith(": compute.instances.stop"), vm
    proj = gcp[f"gcp: 5 IAM permission(s) on project {project} (projects.testIamPermissions)"]
    assert proj["result"] == "FAILED" and proj["detail"] == f"not granted on projects/{project}: " \
        "compute.instanceGroupManagers.update"
    assert proj["needed_for"] == vm["needed_for"] == ["zone-outage (zone-outage-europe-west1-c)"]
    assert sorted(r["check"] for r in _rows(report) if r["result"] == "FAILED") == sorted(gcp)


def _untouched(ws: Workspace) -> None:
    """No run folder, no cordoned node, no eviction: nothing was injected."""
    assert [p for p in ws.run_dirs() if "-gameday-" not in p.name] == []
    kube = ws.sandbox.kube()
    try:
        assert not [n["metadata"]["name"] for n in kube.list_nodes() if n["spec"].get("unschedulable")]
    finally:
        kube.close()
    assert not [t for t in ws.sandbox.truth() if t["event"] == "pod.evicted"]


def _refused(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "create pods/eviction" in proc.stderr and "nothing was run or injected" in proc.stderr
    assert "FAILED" in proc.stderr and "how to fix" in proc.stderr  # the doctor's table


def test_gate_refuses_before_any_fault_when_a_permission_is_missing(denied_ws: Workspace) -> None:
    _refused(denied_ws.harness("gate", "zone-drain-europe-west1-b.yaml", "--reports", str(denied_ws.reports),
                               timeout=120))
    _untouched(denied_ws)


def test_gameday_refuses_before_any_fault_when_a_permission_is_missing(denied_ws: Workspace) -> None:
    (denied_ws.root / "gd.yaml").write_text(
        "name: gd\ntitle: denied\ntarget: sandbox\nowners: [team-sre]\nexperiments:\n"
        "  - zone-drain-europe-west1-b.yaml\nbetween: {pause: 1s, timeout: 60s}\n")
    _refused(denied_ws.harness("gameday", "run", "gd.yaml", "--reports", str(denied_ws.reports), timeout=120))
    assert denied_ws.run_dirs() == []  # not even the game-day folder
    _untouched(denied_ws)


def test_pytest_plugin_fails_the_item_naming_the_rows_before_any_fault(denied_ws: Workspace) -> None:
    pytest_bin = str(Path(sys.executable).parent / "pytest")  # not `python -m`: its cwd's probes/ would shadow
    proc = subprocess.run([pytest_bin, "-p", "no:cacheprovider", "-q", "--rootdir", ".",
                           "--harness-reports", str(denied_ws.reports), "zone-drain-europe-west1-b.yaml"],
                          cwd=denied_ws.root, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "zone-drain-europe-west1-b: REFUSED by `harness doctor` (exit 2)" in out
    assert "FAILED kubernetes: create pods/eviction in namespace shop: " in out and "how to fix" in out
    assert "--harness-skip-doctor runs anyway" in out
    _untouched(denied_ws)


def test_run_refuses_before_any_fault_when_a_permission_is_missing(denied_ws: Workspace) -> None:
    proc = denied_ws.harness("run", "zone-drain-europe-west1-b.yaml", "--reports", str(denied_ws.reports),
                             timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "create pods/eviction" in proc.stderr and "nothing was run or injected" in proc.stderr
    assert "FAILED" in proc.stderr and "how to fix" in proc.stderr  # the doctor's table
    assert denied_ws.run_dirs() == []  # no run folder: not one event, let alone a fault
    _untouched(denied_ws)
