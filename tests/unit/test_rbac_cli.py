"""`harness rbac`: experiments, folders and game days in; the YAML out (harness.cli.rbac)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.cli.main import main
from harness.plan.rbac import allows

CATALOGUE = Path(__file__).resolve().parents[2] / "experiments"


def test_cli_expands_a_game_day_and_writes_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gameday = CATALOGUE / "gamedays" / "demo.yaml"
    assert main(["rbac", str(gameday), "--namespace", "chaos"]) == 0
    out = capsys.readouterr().out
    assert "Least-privilege RBAC for checkout-pod-kill, catalog-scale-down" in out
    docs = [d for d in yaml.safe_load_all(out) if d]
    assert allows(docs, "delete", "", "pods", "shop") and allows(docs, "patch", "apps", "deployments/scale", "shop")
    target = tmp_path / "rbac.yaml"
    assert main(["rbac", str(CATALOGUE / "checkout-pod-kill.yaml"), "-o", str(target)]) == 0
    assert target.read_text().startswith("# Least-privilege RBAC for checkout-pod-kill\n")
