"""``python -m harness`` from a folder that holds its own ``probes/journeys`` (as an experiments
repository does): the harness's probe kinds must still be known."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_probes_folder_in_the_working_directory_does_not_hide_the_probe_kinds(tmp_path: Path) -> None:
    (tmp_path / "probes" / "journeys").mkdir(parents=True)
    shutil.copy(REPO / "probes/journeys/storefront.py", tmp_path / "probes/journeys/storefront.py")
    shutil.copy(REPO / "experiments/checkout-pod-kill.yaml", tmp_path / "exp.yaml")
    done = subprocess.run([sys.executable, "-m", "harness", "validate", "exp.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "exp.yaml: ok"
