"""Layout rules a change can break without noticing. The test tiers share one namespace (no __init__.py): two test files with one basename make pytest
refuse to collect the second ("import file mismatch") and the whole suite fail."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_every_test_file_name_is_unique_across_the_tiers() -> None:
    names = Counter(p.name for p in TESTS.rglob("test_*.py"))
    assert [n for n, count in names.items() if count > 1] == []


def test_no_module_is_over_400_lines() -> None:
    root = TESTS.parent
    long = {str(p.relative_to(root)): n for p in [*root.joinpath("harness").rglob("*.py"),
                                                  *root.joinpath("probes").rglob("*.py")]
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}
