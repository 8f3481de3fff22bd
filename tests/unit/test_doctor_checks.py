"""What `harness doctor` checks for some experiments (harness.plan.doctor.plan_checks): one check per need,
merged across steps and experiments, each naming who needs it."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

from harness.clients.connect import Connection
from harness.clients.permissions import missing_cluster_actions
from harness.faults.base import fault_class
from harness.plan.doctor import EVERY_RUN, Report, Row, gcp_resource, plan_checks
from harness.plan.doctor_checks import (
    EndpointCheck,
    GcpCheck,
    KubeCheck,
    KubeUrlCheck,
    KubeVersionCheck,
    MongoCheck,
    On,
    PostgresCheck,
    Result,
    Tools,
)
from harness.plan.preflight import Preflight
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
    assert not _of(checks, GcpCheck) and not _of(checks, PostgresCheck)


def test_zone_drain_needs_eviction_in_its_namespace_and_a_cluster_wide_cordon() -> None:
    checks = _checks("zone-drain-europe-west1-b")
    who = "zone-drain (zone-drain-europe-west1-b)"
    assert checks[KubeCheck("create", "", "pods/eviction", "shop")] == {who}
    assert checks[KubeCheck("patch", "", "nodes", None)] == {who}
    # listing pods in shop is covered by listing them cluster-wide: one check, both needs
    assert KubeCheck("list", "", "pods", "shop") not in checks
    assert who in checks[KubeCheck("list", "", "pods", None)]


def _gcp(checks: dict[object, set[str]]) -> dict[tuple[On, str], GcpCheck]:
    return {(c.on, c.where): c for c in checks if isinstance(c, GcpCheck)}


def test_zone_outage_tests_each_iam_permission_on_the_resource_it_belongs_to() -> None:
    checks = _checks("zone-outage-europe-west1-c")
    gcp = _gcp(checks)
    assert set(gcp) == {(On.INSTANCE, "europe-west1-c"), (On.PROJECT, "shop-staging")}
    vm, project = gcp[(On.INSTANCE, "europe-west1-c")], gcp[(On.PROJECT, "shop-staging")]
    assert vm.permissions == ("compute.instances.get", "compute.instances.start", "compute.instances.stop")
    assert project.permissions == ("compute.instanceGroupManagers.get", "compute.instanceGroupManagers.list",
                                   "compute.instanceGroupManagers.update", "compute.instances.list",
                                   "compute.zoneOperations.get")
    assert not any("firewalls" in p for c in gcp.values() for p in c.permissions)  # not the network mode
    assert checks[vm] == checks[project] == {"zone-outage (zone-outage-europe-west1-c)"}
    assert vm.title == ("gcp: 3 IAM permission(s) on an instance of europe-west1-c "
                        "(instances.testIamPermissions)")
    assert project.title == "gcp: 5 IAM permission(s) on project shop-staging (projects.testIamPermissions)"


def test_network_mode_permissions_go_to_the_host_project_on_a_shared_vpc(tmp_path: Path) -> None:
    text = (REPO / "experiments" / "zone-outage-europe-west1-c.yaml").read_text()
    assert "mode: stop-instances" in text
    path = tmp_path / "net.yaml"
    path.write_text(text.replace("mode: stop-instances", "mode: network"))
    loaded = load_experiment(path)
    shared = Connection(**{**CONN.__dict__, "host_project": "net-host"})
    gcp = _gcp(plan_checks([(loaded.experiment, "default")], shared))
    assert gcp[(On.PROJECT, "net-host")].permissions == (
        "compute.firewalls.create", "compute.firewalls.delete", "compute.globalOperations.get",
        "compute.networks.updatePolicy")
    assert "compute.instances.setTags" in gcp[(On.INSTANCE, "europe-west1-c")].permissions
    assert gcp[(On.PROJECT, "shop-staging")].permissions == ("compute.instances.list", "compute.zoneOperations.get")
    alone = _gcp(plan_checks([(loaded.experiment, "default")], CONN))  # no Shared VPC: all in the project
    assert "compute.firewalls.create" in alone[(On.PROJECT, "shop-staging")].permissions


def test_gcp_resource_of_a_permission() -> None:
    assert gcp_resource("compute.instances.stop", "z", "p") == (On.INSTANCE, "z")
    assert gcp_resource("compute.instanceGroups.get", "z", "p") == (On.INSTANCE_GROUP, "z")
    assert gcp_resource("compute.instanceGroupManagers.update", "z", "p") == (On.PROJECT, "p")  # no v1 API
    assert gcp_resource("compute.instances.list", "z", "p") == (On.PROJECT, "p")  # a collection's
    assert gcp_resource("compute.instances.stop", "", "p") == (On.PROJECT, "p")  # no zone named
    assert gcp_resource("compute.firewalls.create", "z", "p", "host") == (On.PROJECT, "host")


def test_mongo_stepdown_checks_the_replica_set_and_its_cluster_actions(tmp_path: Path) -> None:
    """No MongoDB in the sandbox: the check's construction, and the privileges' reading, are tested here."""
    path = tmp_path / "mongo.yaml"
    path.write_text(textwrap.dedent("""\
        name: mongo
        title: mongo
        target: sandbox
        slos: [{name: recovery, sli: recovery_time, objective: "<= 60s"}]
        timeline:
          baseline: 1s
          faults:
            - {at: 0s, mongo-stepdown: {uri: "mongodb://ops:s3cret@db-0:27017,db-1:27017/?replicaSet=rs0"}}
          recovery: 1s
        """))
    loaded = load_experiment(path)
    [mongo] = _of(plan_checks([(loaded.experiment, "default")], CONN), MongoCheck)
    assert isinstance(mongo, MongoCheck) and mongo.actions == ("replSetGetStatus", "replSetStateChange")
    assert "s3cret" not in mongo.title and "s3cret" not in repr(mongo) and "db-0:27017" in mongo.title
    assert "clusterManager" in mongo.fix(Tools(CONN))
    assert MongoCheck(None).run(Tools(CONN))[0] == Result.FAILED
    monitor = {"authInfo": {"authenticatedUsers": [{"user": "ops", "db": "admin"}], "authenticatedUserPrivileges": [
        {"resource": {"cluster": True}, "actions": ["replSetGetStatus", "serverStatus"]},
        {"resource": {"db": "", "collection": ""}, "actions": ["replSetStateChange"]}]}}
    assert missing_cluster_actions(monitor, ["replSetGetStatus", "replSetStateChange"]) == ["replSetStateChange"]
    assert missing_cluster_actions({"authInfo": {"authenticatedUsers": []}}, ["replSetStateChange"]) == []


def test_preflight_names_the_failed_rows_an_experiment_needs() -> None:
    rows = [Row("kubernetes: create pods/eviction in namespace shop", ("zone-drain (a)",), Result.FAILED, "denied",
                "a Role"), Row("endpoint: site", (EVERY_RUN,), Result.OK),
            Row("gcp: 1 IAM permission(s) on project p", ("zone-outage (b)",), Result.FAILED, "not granted", "grant")]
    pre = Preflight([("sandbox", Report(rows, 0.5))])
    assert not pre.ok and [r.check for r in pre.failed("b")] == [rows[2].check] and pre.failed("c") == []
    text = pre.refusal("a", skip="--harness-skip-doctor")
    assert "nothing was run or injected (--harness-skip-doctor runs anyway)" in text
    assert "FAILED kubernetes: create pods/eviction in namespace shop: denied" in text and "project p" not in text


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
