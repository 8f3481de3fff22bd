"""Past runs from the reports folder: the index, filters, incidents, `harness runs` and `harness compare`,
on hand-built run folders."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness.cli import main
from harness.report.compare import rows, to_html, to_markdown
from harness.report.history import INDEX_FILE, load_history, parse_since, read_entry, select
from tests.runfolders import NOW, make_run


def test_index_is_built_reused_refreshed_and_pruned(tmp_path: Path) -> None:
    a = make_run(tmp_path, "checkout-pod-kill", days_ago=2)
    make_run(tmp_path, "zone-drain", days_ago=1)
    (tmp_path / "not-a-run").mkdir()
    entries = load_history(tmp_path)
    assert [e.name for e in entries] == ["checkout-pod-kill", "zone-drain"]  # oldest first
    index = json.loads((tmp_path / INDEX_FILE).read_text())
    assert set(index["runs"]) == {e.folder for e in entries}
    # a stale entry is re-read: the run was re-reported with another status
    run = json.loads((a / "run.json").read_text())
    (a / "run.json").write_text(json.dumps({**run, "status": "failed"}))
    os.utime(a / "run.json", ns=(1, 10**18))
    assert load_history(tmp_path)[0].status == "failed"
    # a removed folder leaves the index; a corrupt index is rebuilt, not trusted
    (a / "run.json").unlink()
    assert [e.name for e in load_history(tmp_path)] == ["zone-drain"]
    (tmp_path / INDEX_FILE).write_text("{not json")
    assert [e.name for e in load_history(tmp_path)] == ["zone-drain"]


def test_the_index_holds_what_it_was_given_not_a_cached_lie(tmp_path: Path) -> None:
    folder = make_run(tmp_path, "x")
    index = {"version": 2, "runs": {folder.name: {"stamp": [0, 0], "entry": {"folder": folder.name, "name": "stale"}}}}
    (tmp_path / INDEX_FILE).write_text(json.dumps(index))
    assert load_history(tmp_path)[0].name == "x"  # the stamp differs from the files': re-read


def test_filters(tmp_path: Path) -> None:
    make_run(tmp_path, "checkout-pod-kill", days_ago=10, tags=["pre-release"])
    make_run(tmp_path, "checkout-pod-kill", days_ago=2, status="failed", tags=["pre-release"])
    make_run(tmp_path, "zone-drain", days_ago=1, status="aborted", tags=["gameday"])
    entries = load_history(tmp_path)
    since = parse_since("7d", now=NOW)
    assert [e.name for e in select(entries, since=since)] == ["checkout-pod-kill", "zone-drain"]
    assert [e.status for e in select(entries, experiment="checkout-pod-kill")] == ["passed", "failed"]
    assert [e.name for e in select(entries, tag="gameday")] == ["zone-drain"]
    assert [e.status for e in select(entries, status="failed,aborted")] == ["failed", "aborted"]
    assert select(entries, target="staging") == []


def test_parse_since() -> None:
    assert parse_since("7d", now=NOW) == NOW - timedelta(days=7)
    assert parse_since("12h", now=NOW) == NOW - timedelta(hours=12)
    assert parse_since("2026-11-30", now=NOW) == datetime(2026, 11, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="neither a duration"):
        parse_since("last week")


def test_incidents_are_aborts_errors_leftovers_and_rollbacks(tmp_path: Path) -> None:
    ok = read_entry(make_run(tmp_path, "a"))
    aborted = read_entry(make_run(tmp_path, "b", status="aborted"))
    rolled = read_entry(make_run(tmp_path, "c", events=[
        {"ts": 1, "type": "fault.undo", "id": "f", "kind": "pod-kill", "undo": {}},
        {"ts": 2, "type": "fault.reverted", "id": "f", "kind": "pod-kill", "by": "rollback"}]))
    left = read_entry(make_run(tmp_path, "d", status="revert_failed", still_injected=["db-latency f: toxic"]))
    assert ok and aborted and rolled and left
    assert (ok.incident, aborted.incident, rolled.incident, left.incident) == (False, True, True, True)
    assert rolled.rolled_back and left.still_injected == 1


def test_old_folders_take_their_tags_from_experiment_yaml(tmp_path: Path) -> None:
    folder = make_run(tmp_path, "old")
    run = json.loads((folder / "run.json").read_text())
    del run["tags"]
    (folder / "run.json").write_text(json.dumps(run))
    (folder / "experiment.yaml").write_text("name: old\ntags: [gameday, checkout]\n")
    entry = read_entry(folder)
    assert entry is not None and entry.tags == ["gameday", "checkout"]


def test_compare_names_every_change(tmp_path: Path) -> None:
    a = read_entry(make_run(tmp_path, "checkout-pod-kill", days_ago=8, recovery=8.0, p95=0.2))
    b = read_entry(make_run(tmp_path, "checkout-pod-kill", days_ago=1, recovery=25.0, p95=0.45,
                            image="shop/checkout:1.1", status="failed"))
    assert a and b
    table = {r[0]: r for r in rows(a, b)}
    assert table["recovery"][1:] == ("8.00 s", "25.00 s", "+17.00 s")
    assert table["status"][3] == "changed"
    assert table["image shop/checkout"][1:] == ("shop/checkout:1.0", "shop/checkout:1.1", "changed")
    assert table["SLO latency: step.checkout.p95 <= 1s"][1:] == ("200 ms (pass)", "450 ms (pass)", "+0.25")
    md = to_markdown(a, b)
    assert "| | A | B | change |" in md and md.startswith("# checkout-pod-kill vs checkout-pod-kill")
    assert "<script" not in to_html(a, b) and "shop/checkout:1.1" in to_html(a, b)


def test_cli_runs_and_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_run(tmp_path, "checkout-pod-kill", days_ago=3)
    b = make_run(tmp_path, "checkout-pod-kill", days_ago=1, status="failed")
    assert main(["runs", "--reports", str(tmp_path), "--status", "failed"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["started", "experiment", "target", "status"]
    assert len(out) == 2 and "FAILED" in out[1] and b.name in out[1]
    assert main(["runs", "--reports", str(tmp_path), "--since", "yesterday-ish"]) == 2
    assert "--since" in capsys.readouterr().err
    assert main(["compare", "--reports", str(tmp_path), a.name, b.name]) == 0
    assert "| status | PASSED | FAILED | changed |" in capsys.readouterr().out
    assert main(["compare", "--reports", str(tmp_path), a.name, "nope"]) == 2
    out_file = tmp_path / "cmp.html"
    assert main(["compare", "--reports", str(tmp_path), "--format", "html", "--out", str(out_file), a.name, b.name]) == 0
    assert out_file.read_text().startswith("<!doctype html>")
