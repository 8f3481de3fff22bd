"""What `harness doctor` checks for some experiments (harness.plan.doctor.plan_checks): one check per need,
merged across steps and experiments, each naming who needs it."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

from harness.clients.connect import Connection
from harness.faults.base import fault_class
from harness.plan.doctor import EVERY_RUN, plan_checks
from harness.plan.doctor_checks import (
    ComputeCheck,
    EndpointCheck,
    KubeCheck,
    KubeUrlCheck,
    KubeVersionCheck,
    PostgresCheck,
    Result,
    Tools,
)
from harness.plan.rbac import RbacPlan
from harness.spec.access import Access, GcpRule
from harness.spec.loader import load_experiment

REPO = Path(__file__).resolve().parents[2]
CONN = Connection(kind="gke", site_url="https://shop.example.com", toxiproxy_url="http://toxiproxy:8474",
                  project="shop-staging", region="europe-west1",
                  postgres_dsn="postgresql://harness:s3cret@10.20.0.5:5432/shop")


def _checks(*names: str, conn: Connection = CONN) -> dict[object, set[str]]:
    loaded = [load_experiment(REPO / "experiments" / f"{n}.yaml") for n in names]
    return dict(plan_checks([(x.experiment, x.target.lease.namespace) for x in loaded], conn))


def _of(checks: dict[object, set[str]], kind: type) -> list[object]:
    return [c for c in checks if isinstance(c, kind)]


def test_every_run_checks_the_site_the_api_server_its_version_url_and_its_lease() -> None:
    checks = _checks("checkout-pod-kill")
    assert checks[EndpointCheck("site", CONN.site_url, "")] == {EVERY_RUN}
    assert checks[KubeVersionCheck()] == {EVERY_RUN}
    assert checks[KubeUrlCheck("get", "/version")] == {EVERY_RUN}
    assert checks[KubeCheck("update", "coordination.k8s.io", "leases", "default")] == {EVERY_RUN}
    assert checks[KubeCheck("delete", "", "pods", "shop")] == {"pod-kill (checkout-pod-kill)"}
    assert not _of(checks, ComputeCheck) and not _of(checks, PostgresCheck)


def test_zone_drain_needs_eviction_in_its_namespace_and_a_cluster_wide_cordon() -> None:
    checks = _checks("zone-drain-europe-west1-b")
    who = "zone-drain (zone-drain-europe-west1-b)"
    assert checks[KubeCheck("create", "", "pods/eviction", "shop")] == {who}
    assert checks[KubeCheck("patch", "", "nodes", None)] == {who}
    # listing pods in shop is covered by listing them cluster-wide: one check, both needs
    assert KubeCheck("list", "", "pods", "shop") not in checks
    assert who in checks[KubeCheck("list", "", "pods", None)]


def test_zone_outage_tests_its_iam_permissions_in_its_zone() -> None:
    checks = _checks("zone-outage-europe-west1-c")
    [compute] = _of(checks, ComputeCheck)
    assert isinstance(compute, ComputeCheck) and compute.zone == "europe-west1-c"
    assert {"compute.instances.stop", "compute.instances.start", "compute.zoneOperations.get",
            "compute.instanceGroupManagers.update"} <= set(compute.permissions)
    assert "compute.firewalls.create" not in compute.permissions  # stop-instances, not the network mode
    assert checks[compute] == {"zone-outage (zone-outage-europe-west1-c)"}


def test_gcp_rules_apply_by_mode() -> None:
    rules = fault_class("zone-outage").access.gcp
    network = {p for r in rules if r.applies(SimpleNamespace(mode="network")) for p in r.permissions}
    stop = {p for r in rules if r.applies(SimpleNamespace(mode="stop-instances")) for p in r.permissions}
    assert "compute.firewalls.create" in network - stop and "compute.instances.stop" in stop - network
    assert "compute.instances.list" in stop & network
    assert GcpRule(("compute.instances.get",)).applies(SimpleNamespace())


def test_database_faults_log_in_with_the_roles_that_terminate_sessions() -> None:
    checks = _checks("pg-connection-exhaustion")
    [pg] = _of(checks, PostgresCheck)
    assert isinstance(pg, PostgresCheck) and pg.dsn == CONN.postgres_dsn
    assert pg.roles == ("pg_read_all_stats", "pg_signal_backend")
    assert "s3cret" not in pg.title and "harness@10.20.0.5:5432/shop" in pg.title and "s3cret" not in repr(pg)
    assert "GRANT pg_read_all_stats, pg_signal_backend TO harness;" in pg.fix(Tools(CONN))


def test_proxy_faults_and_probes_reach_toxiproxy_and_the_postgres_probe_logs_in() -> None:
    checks = _checks("db-latency-checkout", "payment-partner-outage")
    toxi = checks[EndpointCheck("toxiproxy", CONN.toxiproxy_url, "/version")]
    assert {"db-latency (db-latency-checkout)", "toxiproxy probe (db-latency-checkout)"} <= toxi
    assert any(w.endswith("(payment-partner-outage)") for w in toxi)  # one check for both experiments
    [pg] = _of(checks, PostgresCheck)
    assert isinstance(pg, PostgresCheck) and pg.roles == () and checks[pg] == {"postgres probe (db-latency-checkout)"}


def test_a_prometheus_probe_without_a_url_fails_with_how_to_reach_it(tmp_path: Path) -> None:
    path = tmp_path / "prom.yaml"
    path.write_text(textwrap.dedent("""\
        name: prom
        title: prom
        target: sandbox
        probes:
          - {name: rate, every: 1s, timeout: 2s, prometheus: {query: "sum(up)", objective: "> 0"}}
        slos: [{name: recovery, sli: recovery_time, objective: "<= 60s"}]
        timeline: {baseline: 1s, recovery: 1s}
        """))
    loaded = load_experiment(path)
    checks = plan_checks([(loaded.experiment, "default")], CONN)
    prom = EndpointCheck("prometheus", None, "/-/ready")
    assert checks[prom] == {"prometheus probe (prom)"}
    assert prom.run(Tools(CONN)) == (Result.FAILED, "the target has no prometheus_url")
    assert "kubectl port-forward" in prom.fix(Tools(CONN))


def test_harness_rbac_lists_gcp_rules_as_comments() -> None:
    plan = RbacPlan()
    plan.add(Access(gcp=(GcpRule(("compute.instances.stop",)), GcpRule(("compute.firewalls.create",), "network"))),
             [], "default", "zone-outage (x)")
    assert plan.other == {"GCP IAM: compute.instances.stop": {"zone-outage (x)"},
                          "GCP IAM for mode: network: compute.firewalls.create": {"zone-outage (x)"}}
