"""A run's verdict in the language of pipelines: JUnit test properties and a failure message.

One experiment is one test case. The pytest plugin (``harness.pytest_plugin``) puts ``properties`` on
its items (pytest's ``--junitxml`` writes them) and fails them with ``failure_message``; ``harness run
--junit FILE`` writes the same test cases without pytest (``JunitFile``). Both read the result dict a
run returns (run.json's content), so the two files say the same thing.

Properties (all strings): ``harness.run_dir``, ``harness.verdict`` (passed, failed, aborted …),
``harness.exit_code``, ``harness.target``, per SLO ``harness.slo.<name>.measured`` (the raw number,
empty when nothing was measured), ``.display``, ``.objective`` and ``.status``,
``harness.detection_seconds`` and ``harness.recovery_seconds`` (empty when not measured), and when
they apply ``harness.aborted_by``, ``harness.still_injected``, ``harness.gate`` and
``harness.gate.baseline``.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harness.report.gate import GateVerdict

PREFIX = "harness."
_NOT_MET = ("fail", "inconclusive", "not_judged")


def _num(value: Any) -> str:
    return "" if value is None else f"{float(value):g}"


def gate_word(gate: GateVerdict) -> str:
    """``regression``, ``no regression`` or ``no baseline``."""
    if gate.baseline is None:
        return "no baseline"
    return "regression" if gate.regressed else "no regression"


def properties(result: dict[str, Any], gate: GateVerdict | None = None) -> list[tuple[str, str]]:
    """The JUnit properties of one run (see the module docstring for the names)."""
    rec = result.get("recovery") or {}
    props = [("run_dir", str(result.get("run_dir", ""))), ("verdict", str(result.get("status", ""))),
             ("exit_code", str(result.get("exit_code", ""))), ("target", str(result.get("target", "")))]
    for slo in result.get("slos") or []:
        key = f"slo.{slo['name']}"
        props += [(f"{key}.measured", _num(slo.get("measured"))), (f"{key}.display", str(slo.get("display", ""))),
                  (f"{key}.objective", str(slo.get("objective", ""))), (f"{key}.status", str(slo.get("status", "")))]
    props += [("detection_seconds", _num(rec.get("detection_seconds", result.get("detection_seconds")))),
              ("recovery_seconds", _num(rec.get("recovery_seconds", result.get("recovery_seconds"))))]
    if result.get("aborted_by"):
        props.append(("aborted_by", str(result["aborted_by"])))
    if result.get("still_injected"):
        props.append(("still_injected", "; ".join(result["still_injected"])))
    if gate is not None:
        props += [("gate", gate_word(gate)), ("gate.baseline", gate.baseline.folder if gate.baseline else "")]
    return [(PREFIX + k, v) for k, v in props]


def slo_line(slo: dict[str, Any]) -> str:
    """``SLO latency fail: step.checkout.p95 measured 2.1 s, objective <= 1500ms (fault window)``."""
    text = (f"SLO {slo['name']} {slo.get('status')}: {slo.get('sli')} measured {slo.get('display', 'n/a')}, "
            f"objective {slo.get('objective')} ({slo.get('window')} window)")
    return f"{text}: {slo['detail']}" if slo.get("detail") else text


def failure_message(result: dict[str, Any], gate: GateVerdict | None = None) -> str | None:
    """Why the run is a failed test, or None when it passed (and the gate, if any, found no regression).

    Names every failed, inconclusive or unjudged SLO with measured vs objective, what stopped the run
    early (a guard, a signal, a refusal), a harness error, and, for exit 4, exactly what is still
    injected."""
    code = int(result.get("exit_code") or 0)
    regressed = gate is not None and gate.regressed
    if code == 0 and not regressed:
        return None
    lines = [f"{result.get('name')}: {str(result.get('status', '')).upper()} (exit {code})"]
    if result.get("aborted_by"):
        lines.append(f"{result.get('status')}: {result['aborted_by']}")
    lines += [slo_line(s) for s in result.get("slos") or [] if s.get("status") in _NOT_MET]
    lines += [f"steady state after the run: {p}" for p in result.get("steady_state_after") or []]
    if result.get("error"):
        lines.append(f"harness error: {result['error']} (traceback in {result.get('run_dir')}/error.txt)")
    if result.get("still_injected"):
        lines.append(f"STILL INJECTED, a human must act (harness rollback {result.get('run_dir')}):")
        lines += [f"  {item}" for item in result["still_injected"]]
    if gate is not None and (regressed or code):
        lines.append(gate.headline())
        lines += [f"  {what}: baseline {base}, now {now} ({rule})" for what, base, now, rule in gate.table()]
    lines.append(f"run folder: {result.get('run_dir')}")
    return "\n".join(lines)


def duration(result: dict[str, Any]) -> float:
    """Seconds from ``started`` to ``ended`` (0 when either is missing)."""
    try:
        start, end = (datetime.fromisoformat(str(result[k]).replace("Z", "+00:00")) for k in ("started", "ended"))
    except (KeyError, ValueError):
        return 0.0
    return max(0.0, (end - start).total_seconds())


def classname(path: Path) -> str:
    """The test case's classname as pytest writes it: the path from the working directory, dotted."""
    try:
        rel = path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        rel = path
    return rel.as_posix().replace("/", ".")


@dataclass
class Case:
    """One test case: an experiment's run, or its refusal before anything started."""

    classname: str
    name: str
    seconds: float = 0.0
    props: list[tuple[str, str]] = field(default_factory=list)
    failure: str | None = None


@dataclass
class JunitFile:
    """The JUnit XML of ``harness run --junit FILE``: one testsuite, one testcase per experiment.

    Use as a context manager: the file is written on the way out, also when a refusal or an error
    stops the command (the experiment it was running then is a failed case naming the error)."""

    path: Path | None
    cases: list[Case] = field(default_factory=list)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    _current: Case | None = None

    def start(self, path: Path, name: str) -> None:
        """An experiment is about to run."""
        self._current = Case(classname(path), name)

    def add(self, result: dict[str, Any], gate: GateVerdict | None = None) -> None:
        """The running experiment ended with ``result`` (run.json's content)."""
        case = self._current or Case(str(result.get("name")), str(result.get("name")))
        case.seconds, case.props, case.failure = duration(result), properties(result, gate), failure_message(result, gate)
        self.cases.append(case)
        self._current = None

    def __enter__(self) -> JunitFile:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._current is not None and exc is not None:
            self._current.failure = f"{self._current.name}: {type(exc).__name__}: {exc}"
            self.cases.append(self._current)
        if self.path is not None:
            self.write(self.path)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        ET.ElementTree(self.element()).write(path, encoding="utf-8", xml_declaration=True)

    def element(self) -> ET.Element:
        failures = sum(1 for c in self.cases if c.failure)
        total = sum(c.seconds for c in self.cases)
        root = ET.Element("testsuites", name="harness")
        suite = ET.SubElement(root, "testsuite", name="harness", errors="0", failures=str(failures), skipped="0",
                              tests=str(len(self.cases)), time=f"{total:.3f}",
                              timestamp=self.started.isoformat(timespec="seconds"), hostname=socket.gethostname())
        for c in self.cases:
            case = ET.SubElement(suite, "testcase", classname=c.classname, name=c.name, time=f"{c.seconds:.3f}")
            if c.props:
                props = ET.SubElement(case, "properties")
                for name, value in c.props:
                    ET.SubElement(props, "property", name=name, value=value)
            if c.failure:
                ET.SubElement(case, "failure", message=c.failure).text = c.failure
        return root
