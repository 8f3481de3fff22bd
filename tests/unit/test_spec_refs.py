"""SLI references checked at validate/plan: journey steps against the journeys file's STEPS, probes
against the experiment's probes, load SLIs against the presence of load; and the journeys files' STEPS
declarations kept equal to their requests' ``name=``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import InvalidExperiment, Problem
from harness.spec.loader import json_schema, load_experiment
from harness.spec.steps import CATALOGUE, StepsUndeclared, catalogue_steps, declared_steps, requested_steps

ROOT = Path(__file__).resolve().parents[2]
TARGETS = ROOT / "experiments" / "targets.yaml"
JOURNEYS = sorted(p for p in CATALOGUE.glob("*.py") if not p.name.startswith("_"))
STOREFRONT = ("home", "search", "product", "catalog.api", "cart.add", "cart.view", "checkout")

FIRST = """\
name: first-experiment
title: Cart survives a cart pod kill
load: {users: 10, spawn_rate: 5}
probes:
  - {name: cart-health, http: {url: /api/cart/health}}
slos:
  - {name: cart-latency, sli: step.cart-add.p95, objective: "<= 800ms"}
  - {name: cart-up, sli: probe.cart-helth.success_ratio, objective: ">= 99%"}
timeline:
  baseline: 10s
  faults:
    - pod-kill: {namespace: shop, selector: app=cart, count: 1, duration: 10s}
  recovery: 10s
safety:
  abort_when: [{sli: step.chekout.error_ratio, above: 0.5}]
"""

NO_LOAD = """\
name: no-load
title: Load SLIs without load
probes:
  - {name: site, http: {url: /}}
slos:
  - {name: site-up, sli: probe.site.success_ratio, objective: ">= 99%"}
  - {name: checkout-latency, sli: step.checkout.p95, objective: "<= 1s"}
timeline: {baseline: 5s, recovery: 5s}
safety:
  abort_when: [{sli: load.error_ratio, above: 0.5}]
"""


def _write(folder: Path, text: str, name: str = "exp.yaml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def _problems(path: Path) -> dict[str, Problem]:
    with pytest.raises(InvalidExperiment) as info:
        load_experiment(path, targets_path=TARGETS)
    return {p.field: p for p in info.value.problems}


# -- the declaration ----------------------------------------------------------------------------------
def test_the_catalogue_has_journeys_files() -> None:
    assert [p.name for p in JOURNEYS] == ["storefront.py"]
    assert declared_steps(CATALOGUE / "storefront.py") == STOREFRONT


@pytest.mark.parametrize("journeys", JOURNEYS, ids=lambda p: p.name)
def test_steps_declaration_matches_the_requests(journeys: Path) -> None:
    requested = requested_steps(journeys)
    assert None not in requested, "every request name= must be a string literal, so it can be declared"
    assert set(declared_steps(journeys)) == set(requested)


def test_requested_steps_sees_names_it_cannot_declare(tmp_path: Path) -> None:
    path = _write(tmp_path, 'def t(self):\n    self.client.get("/", name="home")\n'
                  '    self.client.post(f"/x/{1}", name=f"item-{1}")\n    print("x", sep="")\n', "j.py")
    assert requested_steps(path) == ["home", None]


@pytest.mark.parametrize(
    ("text", "message"),
    [('"""No steps."""\n', "does not declare its step names (STEPS)"),
     ("STEPS = tuple(['a'])\n", "is not a literal"),
     ("STEPS = ('a', 3)\n", "tuple of non-empty strings"),
     ("STEPS = ()\n", "is empty"),
     ("STEPS = (\n", "not valid Python")],
)
def test_unreadable_declarations_say_so(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text, "j.py")
    with pytest.raises(StepsUndeclared) as info:
        declared_steps(path)
    assert message in str(info.value)


def test_declaration_forms(tmp_path: Path) -> None:
    path = _write(tmp_path, 'STEPS: tuple[str, ...] = ("a.b", "c", "c")\n', "j.py")
    assert declared_steps(path) == ("a.b", "c")
    assert catalogue_steps(CATALOGUE) == {"probes/journeys/storefront.py": STOREFRONT}


def test_reading_steps_never_imports_locust() -> None:
    code = ("import sys; from pathlib import Path; from harness.spec.loader import load_experiment; "
            "load_experiment(Path('experiments/db-latency-checkout.yaml')); assert 'locust' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


# -- step and probe references ------------------------------------------------------------------------
def test_unknown_step_is_located_with_did_you_mean_and_the_steps(tmp_path: Path) -> None:
    problems = _problems(_write(tmp_path, FIRST))
    slo = problems["slos[0].sli"]
    assert slo.line == 7
    assert "`step.cart-add.p95` names step `cart-add`" in slo.message
    assert "`probes/journeys/storefront.py` does not declare" in slo.message
    assert slo.hint == "did you mean `cart.add`? steps: " + ", ".join(STOREFRONT)
    guard = problems["safety.abort_when[0].sli"]
    assert guard.line == 15 and (guard.hint or "").startswith("did you mean `checkout`? steps: home, ")


def test_unknown_probe_lists_the_probes(tmp_path: Path) -> None:
    probe = _problems(_write(tmp_path, FIRST))["slos[1].sli"]
    assert probe.line == 8 and "names probe `cart-helth`, which is not defined" in probe.message
    assert probe.hint == "did you mean `cart-health`? probes: cart-health"


def test_unknown_probe_without_a_close_match_or_any_probe(tmp_path: Path) -> None:
    text = FIRST.replace("probe.cart-helth.", "probe.zzz.").replace("step.cart-add.", "step.cart.add.")
    text = text.replace("step.chekout.", "step.checkout.")
    assert _problems(_write(tmp_path, text))["slos[1].sli"].hint == "probes: cart-health"
    bare = text.replace("  - {name: cart-health, http: {url: /api/cart/health}}\n", "").replace("probes:\n", "")
    assert "add it under `probes`" in (_problems(_write(tmp_path, bare))["slos[1].sli"].hint or "")


def test_known_dotted_steps_pass(tmp_path: Path) -> None:
    text = FIRST.replace("step.cart-add.", "step.cart.add.").replace("step.chekout.", "step.catalog.api.")
    text = text.replace("probe.cart-helth.", "probe.cart-health.")
    loaded = load_experiment(_write(tmp_path, text), targets_path=TARGETS)
    assert [s.sli for s in loaded.experiment.slos][0] == "step.cart.add.p95"


def test_unknown_step_with_a_bad_metric_reports_both(tmp_path: Path) -> None:
    with pytest.raises(InvalidExperiment) as info:
        load_experiment(_write(tmp_path, FIRST.replace("step.cart-add.p95", "step.cart-add.p59")), targets_path=TARGETS)
    messages = [p.message for p in info.value.problems if (p.line, p.field) == (7, "slos[0].sli")]
    assert any("unknown step metric 'p59'" in m for m in messages), messages
    assert any("names step `cart-add`" in m for m in messages), messages


def test_load_and_step_slis_without_load(tmp_path: Path) -> None:
    problems = _problems(_write(tmp_path, NO_LOAD))
    assert set(problems) == {"slos[1].sli", "safety.abort_when[0].sli"}
    assert problems["slos[1].sli"].line == 7 and "no `load:`" in problems["slos[1].sli"].message
    assert problems["safety.abort_when[0].sli"].line == 10
    assert "add `load:" in (problems["slos[1].sli"].hint or "")


def test_probe_slis_need_no_load(tmp_path: Path) -> None:
    text = NO_LOAD.replace("  - {name: checkout-latency, sli: step.checkout.p95, objective: \"<= 1s\"}\n", "")
    text = text.replace("load.error_ratio", "probe.site.error_ratio")
    assert load_experiment(_write(tmp_path, text), targets_path=TARGETS).experiment.load is None


# -- journeys files of one's own ----------------------------------------------------------------------
def _own_journeys(tmp_path: Path, journeys: str, sli: str = "step.pay.p95") -> Path:
    """An experiment in its own repository (pyproject.toml marks the root) loading ``journeys.py``."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "journeys.py").write_text(journeys)
    text = FIRST.replace("load: {users: 10, spawn_rate: 5}", "load: {journeys: journeys.py, users: 10, spawn_rate: 5}")
    text = text.replace("step.cart-add.p95", sli).replace("probe.cart-helth.", "probe.cart-health.")
    return _write(tmp_path, text.replace("step.chekout.error_ratio", "load.error_ratio"))


def test_own_journeys_file_steps(tmp_path: Path) -> None:
    path = _own_journeys(tmp_path, 'STEPS = ("browse", "pay")\n')
    assert load_experiment(path, targets_path=TARGETS).journeys == tmp_path / "journeys.py"
    path = _own_journeys(tmp_path, 'STEPS = ("browse", "pay")\n', sli="step.payy.p95")
    assert _problems(path)["slos[0].sli"].hint == "did you mean `pay`? steps: browse, pay"


def test_journeys_file_without_steps_says_how_to_declare(tmp_path: Path) -> None:
    problems = _problems(_own_journeys(tmp_path, '"""Users only."""\n'))
    problem = problems["load.journeys"]
    assert problem.line == 3
    assert "journeys file `journeys.py` does not declare its step names (STEPS)" in problem.message
    assert "STEPS = (" in (problem.hint or "")


def test_journeys_file_without_steps_is_fine_without_step_slis(tmp_path: Path) -> None:
    path = _own_journeys(tmp_path, '"""Users only."""\n', sli="load.p95")
    assert load_experiment(path, targets_path=TARGETS).experiment.slos[0].sli == "load.p95"


# -- the CLI ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("verb", ["validate", "plan"])
def test_cli_refuses_an_unknown_step_with_exit_2(tmp_path: Path, verb: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, FIRST)
    assert main([verb, str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:7: slos[0].sli: SLI `step.cart-add.p95` names step `cart-add`" in err
    assert "did you mean `cart.add`? steps: home, search, product, catalog.api, cart.add" in err
    assert f"{path}:8: slos[1].sli:" in err and f"{path}:15: safety.abort_when[0].sli:" in err


def test_cli_validate_catalogue_still_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "experiments")]) == 0
    assert "ok" in capsys.readouterr().out


# -- harness schema -----------------------------------------------------------------------------------
def test_schema_lists_the_catalogue_steps(capsys: pytest.CaptureFixture[str]) -> None:
    schema = json_schema()
    assert schema["x-journey-steps"] == {"probes/journeys/storefront.py": list(STOREFRONT)}
    for model in ("SloSpec", "Guard"):
        sli = schema["$defs"][model]["properties"]["sli"]
        assert "probes/journeys/storefront.py: home, search, product, catalog.api, cart.add" in sli["description"]
        assert "step.cart.add.p95" in sli["examples"]
    assert main(["schema"]) == 0
    assert '"cart.add"' in capsys.readouterr().out
