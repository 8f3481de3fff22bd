"""Freeze windows: the file's validation, yearly recurrence, offsets, the window covering now, and the
CLI's refusal (exit 2, the window and its end named) and override (journal notes, who and why)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.freeze import check_freeze
from harness.errors import InvalidExperiment, Refused
from harness.events import Event
from harness.spec.freeze import (
    FreezeWindow,
    covering,
    default_freeze_path,
    load_freeze,
    occurrences,
    upcoming,
)

ROOT = Path(__file__).resolve().parents[2]


def _window(start: str, end: str, recurrence: str = "none", name: str = "sale") -> FreezeWindow:
    return FreezeWindow.model_validate({"name": name, "start": start, "end": end, "reason": "a sale",
                                        "recurrence": recurrence})


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_a_window_covers_from_its_start_inclusive_to_its_end_exclusive_whatever_the_offset() -> None:
    w = _window("2026-11-27T00:00:00+01:00", "2026-11-28T00:00:00+01:00")
    assert covering([w], _at("2026-11-26T23:00:00+00:00")) is not None  # = 00:00 in Paris
    assert covering([w], _at("2026-11-26T22:59:59+00:00")) is None
    occ = covering([w], _at("2026-11-27T22:59:59+00:00"))
    assert occ is not None and occ.end == _at("2026-11-28T00:00:00+01:00")
    assert covering([w], _at("2026-11-27T23:00:00+00:00")) is None


def test_a_yearly_window_repeats_on_the_same_dates_and_a_one_off_does_not() -> None:
    yearly = _window("2024-11-29T00:00:00+01:00", "2024-12-02T08:00:00+01:00", "yearly")
    once = _window("2024-11-29T00:00:00+01:00", "2024-12-02T08:00:00+01:00", name="once")
    occ = covering([yearly, once], _at("2031-11-30T12:00:00+01:00"))
    assert occ is not None and occ.window.name == "sale"
    assert (occ.start, occ.end) == (_at("2031-11-29T00:00:00+01:00"), _at("2031-12-02T08:00:00+01:00"))
    assert covering([yearly], _at("2031-12-02T08:00:00+01:00")) is None
    assert list(occurrences(once, _at("2025-01-01T00:00:00+00:00"))) == []


def test_a_yearly_window_across_new_year_covers_early_january() -> None:
    freeze = _window("2026-12-21T00:00:00+01:00", "2027-01-04T08:00:00+01:00", "yearly")
    occ = covering([freeze], _at("2030-01-02T10:00:00+01:00"))
    assert occ is not None and occ.start == _at("2029-12-21T00:00:00+01:00")


def test_29_february_falls_on_the_28th_in_other_years() -> None:
    leap = _window("2028-02-29T00:00:00+00:00", "2028-03-01T00:00:00+00:00", "yearly")
    first = next(occurrences(leap, _at("2029-01-01T00:00:00+00:00")))
    assert first.start == _at("2029-02-28T00:00:00+00:00")


def test_upcoming_lists_the_windows_by_start_within_the_horizon() -> None:
    a = _window("2026-12-21T00:00:00+01:00", "2027-01-04T00:00:00+01:00", name="code-freeze")
    b = _window("2026-11-27T00:00:00+01:00", "2026-12-01T00:00:00+01:00", "yearly", name="black-friday")
    found = upcoming([a, b], _at("2026-12-07T00:00:00+00:00"), horizon_days=800)
    assert [(o.window.name, o.start.year) for o in found] == [("code-freeze", 2026), ("black-friday", 2027),
                                                              ("black-friday", 2028)]


def test_the_freeze_file_is_validated_with_lines_fields_and_what_was_expected(tmp_path: Path) -> None:
    path = tmp_path / "freeze.yaml"
    path.write_text("windows:\n  - name: sale\n    start: 2026-11-27T00:00:00\n    end: 2026-11-26T00:00:00+01:00\n"
                    "    reason: x\n  - name: b\n    start: 2026-11-27T00:00:00+01:00\n"
                    "    end: 2026-11-26T00:00:00+01:00\n    reason: y\n"
                    "  - {name: c, start: 2026-11-27, end: 2026-11-28T00:00:00+01:00, reason: z, recurence: yearly}\n")
    with pytest.raises(InvalidExperiment) as exc:
        load_freeze(path)
    text = [str(p) for p in exc.value.problems]
    assert any(t.startswith(f"{path}:3: windows[0].start:") and "has no offset" in t for t in text), text
    assert any(f"{path}:6: windows[1]:" in t and "is not after start" in t for t in text), text
    assert any(f"{path}:10: windows[2].recurence: unknown field" in t and "recurrence" in t for t in text), text
    assert any(f"{path}:10: windows[2].start: 2026-11-27 is a date" in t for t in text), text


def test_the_repository_freeze_file_is_valid_and_found_beside_the_experiments() -> None:
    path = default_freeze_path(ROOT / "experiments" / "checkout-pod-kill.yaml")
    assert path == ROOT / "experiments" / "freeze.yaml"
    assert default_freeze_path(ROOT / "experiments" / "gamedays" / "demo.yaml") == path
    names = {w.name for w in load_freeze(path)}
    assert {"black-friday", "summer-flash-sale", "year-end-code-freeze"} <= names


def _args(freeze: Path, override: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(freeze=str(freeze), override_freeze=override)


def _covering_now(tmp_path: Path) -> Path:
    now = datetime.now(UTC)
    path = tmp_path / "freeze.yaml"
    path.write_text(f"windows:\n  - name: flash-sale\n    start: {(now - timedelta(hours=1)).isoformat()}\n"
                    f"    end: {(now + timedelta(hours=2)).isoformat()}\n    reason: Flash sale\n")
    return path


def test_inside_a_window_a_command_is_refused_naming_the_window_and_its_end(tmp_path: Path) -> None:
    path = _covering_now(tmp_path)
    with pytest.raises(Refused, match=r"inside freeze window flash-sale \(Flash sale\) until 20"):
        check_freeze(_args(path), tmp_path / "x.yaml")
    later = datetime.now(UTC) + timedelta(hours=3)
    assert check_freeze(_args(path), tmp_path / "x.yaml", now=later) == []
    path.write_text(path.read_text() + "    targets: [gke-production]\n")
    assert check_freeze(_args(path), tmp_path / "x.yaml", ["sandbox"]) == []
    with pytest.raises(Refused, match="flash-sale"):
        check_freeze(_args(path), tmp_path / "x.yaml", ["sandbox", "gke-production"])


def test_the_override_returns_the_journal_note_with_who_and_why(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_USER", "alice")
    [(kind, note)] = check_freeze(_args(_covering_now(tmp_path), "incident replay, approved by SRE lead"),
                                  tmp_path / "x.yaml")
    assert kind is Event.FREEZE_OVERRIDDEN
    assert note["window"] == "flash-sale" and note["by"].startswith("alice@")
    assert note["reason"] == "incident replay, approved by SRE lead"


def test_harness_run_refuses_with_exit_2_before_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _covering_now(tmp_path)
    code = main(["run", str(ROOT / "experiments" / "checkout-pod-kill.yaml"), "--freeze", str(path),
                 "--reports", str(tmp_path / "reports")])
    assert code == 2 and "refused: inside freeze window flash-sale" in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()
    assert main(["gate", str(ROOT / "experiments" / "checkout-pod-kill.yaml"), "--freeze", str(path),
                 "--reports", str(tmp_path / "reports")]) == 2


def test_harness_freeze_lists_upcoming_windows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["freeze", "--freeze", str(_covering_now(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "NOW" in out and "flash-sale [every target]: Flash sale" in out
    assert main(["freeze", "--freeze", str(tmp_path / "missing.yaml")]) == 2
