"""A run's verdict for a terminal: status, each SLO with measured vs objective, detection and
recovery, what is still injected, where the report is."""

from __future__ import annotations

from typing import Any

from harness.cli.common import err

_MARKS = {"pass": "ok  ", "fail": "FAIL", "inconclusive": "INCONCLUSIVE", "skipped": "skip", "not_judged": "not judged"}


def print_result(result: dict[str, Any]) -> None:
    print(f"{result['name']}: {result['status'].upper()} (exit {result['exit_code']})")
    if result.get("aborted_by"):
        print(f"  aborted: {result['aborted_by']}")
    for slo in result.get("slos", []):
        mark = _MARKS.get(str(slo.get("status")), str(slo.get("status")))
        print(f"  {mark} {slo['name']}: {slo['sli']} {slo['objective']} ({slo['window']}) measured {slo['display']}")
        if slo.get("status") in ("inconclusive", "not_judged", "fail"):
            print(f"       {slo.get('detail')}")
    rec = result.get("recovery") or {}
    if rec:
        det, sec = rec.get("detection_seconds"), rec.get("recovery_seconds")
        print(f"  detection {'n/a' if det is None else f'{det:.1f} s'}, "
              f"recovery {'n/a' if sec is None else f'{sec:.1f} s'} ({rec.get('reason')})")
    if result.get("error"):
        err(f"  harness error: {result['error']} (traceback in {result['run_dir']}/error.txt)")
    if result.get("still_injected"):
        err("STILL INJECTED — a human must act:")
        for item in result["still_injected"]:
            err(f"  {item}")
    print(f"  report: {result['run_dir']}/report.html (summary.md beside it)")
