"""The journal records undo before action and tells rollback exactly what is still injected."""

from __future__ import annotations

import json

from harness.journal import Journal, pending_faults, read_journal


def test_pending_faults_are_those_with_undo_and_no_revert(tmp_path):
    j = Journal(tmp_path / "events.jsonl")
    j.write("fault.undo", id="a", kind="deployment-scale", undo={"name": "cart", "replicas": 3})
    j.write("fault.injected", id="a", kind="deployment-scale")
    j.write("fault.undo", id="b", kind="pod-kill", undo={"killed": ["p1"]})
    j.write("fault.reverted", id="b", kind="pod-kill")
    j.write("fault.undo", id="c", kind="zone-drain", undo={"node": "n1"})
    j.write("fault.undo", id="c", kind="zone-drain", undo={"node": "n2"})
    j.close()
    pending = pending_faults(read_journal(tmp_path / "events.jsonl"))
    assert [p.id for p in pending] == ["a", "c"]
    assert pending[1].undo == [{"node": "n1"}, {"node": "n2"}]
    assert "cart" in pending[0].describe()


def test_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "events.jsonl"
    j = Journal(path)
    j.write("run.started", name="x")
    j.close()
    with open(path, "a") as fh:
        fh.write('{"ts": 1, "type": "fault.un')
    assert [e["type"] for e in read_journal(path)] == ["run.started"]


def test_journal_redacts_secrets_and_tells_listeners(tmp_path):
    seen = []
    j = Journal(tmp_path / "events.jsonl", redact=lambda s: s.replace("hunter2", "***"))
    j.listeners.append(seen.append)
    j.write("run.started", dsn="postgresql://u:hunter2@h/db")
    j.close()
    text = (tmp_path / "events.jsonl").read_text()
    assert "hunter2" not in text and "***" in text
    assert json.loads(text)["type"] == "run.started"
    assert seen and seen[0]["type"] == "run.started"
