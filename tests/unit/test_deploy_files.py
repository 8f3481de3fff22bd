"""deploy/'s generated files are what the catalogue, the game days and `harness rbac` make of them now
(``make deploy`` rewrites them), and a scheduled game day becomes a CronJob (harness.plan.deploy)."""

from __future__ import annotations

from pathlib import Path

import yaml

from harness.plan.deploy import NAMESPACE, cronjob, generate, stale
from harness.plan.rbac import allows
from harness.spec.loader import load_experiment
from harness.spec.targets import GkeTarget

REPO = Path(__file__).resolve().parents[2]


def test_generated_files_are_up_to_date() -> None:
    old = [str(p.relative_to(REPO)) for p in stale(REPO)]
    assert not old, f"stale in deploy/: {', '.join(old)}; run `make deploy` and commit them"


def test_rbac_covers_the_catalogue_with_the_lease_in_the_harness_namespace() -> None:
    docs = [d for d in yaml.safe_load_all(generate(REPO)[REPO / "deploy" / "rbac.yaml"]) if d]
    assert allows(docs, "update", "coordination.k8s.io", "leases", NAMESPACE)
    assert not allows(docs, "update", "coordination.k8s.io", "leases", "default")
    assert allows(docs, "create", "", "pods/eviction", "shop") and allows(docs, "patch", "", "nodes", None)


def test_a_scheduled_game_day_is_a_cronjob_in_its_time_zone() -> None:
    job = cronjob("tue.yaml", {"name": "tue", "schedule": {"cron": "30 6 * * 2", "timezone": "Europe/Paris"}},
                  ["tue.yaml", "other.yaml"])
    spec = job["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["concurrencyPolicy"]) == ("30 6 * * 2", "Europe/Paris", "Forbid")
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert spec["jobTemplate"]["spec"]["backoffLimit"] == 0  # a game day is never re-run behind people's backs
    assert pod["containers"][0]["args"] == ["gameday", "run", "experiments/gamedays/tue.yaml", "--target", "in-cluster"]
    items = pod["volumes"][0]["projected"]["sources"][1]["configMap"]["items"]
    assert [i["path"] for i in items] == ["gamedays/tue.yaml", "gamedays/other.yaml"]
    assert cronjob("u.yaml", {"name": "u", "schedule": {"cron": "0 0 * * *"}}, [])["spec"]["timeZone"] == "UTC"


def test_the_in_cluster_target_has_no_kubeconfig_and_its_lease_in_the_harness_namespace() -> None:
    loaded = load_experiment(REPO / "deploy" / "experiments" / "checkout-pod-kill.yaml", target_override="in-cluster",
                             environ={"PG_PASSWORD": "from-the-secret"})
    assert isinstance(loaded.target, GkeTarget)
    assert loaded.target.kubeconfig is None and loaded.target.context is None
    assert loaded.target.lease.namespace == NAMESPACE
    assert "from-the-secret" in loaded.secrets  # redacted from every report


def test_the_load_worker_deployment_runs_a_real_harness_command() -> None:
    from harness.cli.main import build_parser

    docs = [d for d in yaml.safe_load_all((REPO / "deploy" / "loadworkers.yaml").read_text()) if d]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    parsed = build_parser().parse_args(args)
    assert parsed.master == "harness-master:5557" and (REPO / parsed.journeys).is_file()
    service = next(d for d in docs if d["kind"] == "Service")
    assert parsed.master.split(":") == [service["metadata"]["name"], str(service["spec"]["ports"][0]["port"])]
