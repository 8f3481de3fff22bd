"""``harness doctor``: what some experiments need from their target, as checks (pure), and the checks run.

Every fault and probe kind declares its ``access`` (harness.spec.access); the checks follow from it:

- **Kubernetes**: one ``SelfSubjectAccessReview`` per verb and resource of the merged RBAC plan
  (harness.plan.rbac: the namespaces the steps name, the lease namespace, cluster-wide rules), one per
  non-resource URL, and ``GET /version``.
- **GCP IAM**: the kind's ``gcp`` rules that apply to the step's ``mode``, each permission tested on the
  resource it belongs to (``gcp_resource``): ``compute.instances.*`` on a VM of the step's zone
  (``instances.testIamPermissions``), ``compute.instanceGroups.*`` on the zone's instance group
  (``instanceGroups.testIamPermissions``), everything else (firewalls, networks, operations, instance group
  managers, ``*.list``/``*.create``) on the project through Cloud Resource Manager's
  ``projects.testIamPermissions``: the network's host project for rules marked ``network_project``.
- **PostgreSQL**: log in with the DSN each step or probe uses, and check the roles the kind needs.
- **MongoDB**: ``replSetGetStatus`` with the step's URI, and the privilege actions the kind needs on the
  cluster resource (``connectionStatus``).
- **Endpoints**: the site, and Prometheus or Toxiproxy when a kind reaches them.

    needs = plan_checks([(loaded.experiment, loaded.target.lease.namespace)], conn)   # Check -> who needs it
    rows = await run_checks(needs, conn)                                           # one Row per check
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.clients.connect import Connection
from harness.faults.base import fault_class
from harness.plan.doctor_checks import (
    Check,
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
from harness.plan.rbac import rbac_plan
from harness.retry import retry_transient
from harness.spec.access import Endpoint, GcpRule
from harness.spec.models import Experiment
from probes.base import probe_class

EVERY_RUN = "every run"



@dataclass(frozen=True)
class Row:
    """One line of the doctor's table."""

    check: str
    needed_for: tuple[str, ...]
    result: Result
    detail: str = ""
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "needed_for": list(self.needed_for), "result": str(self.result)}


@dataclass
class Report:
    """Every row, in table order, and how long the checks took."""

    rows: list[Row] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.result == Result.FAILED]


# -- what is needed (pure) ----------------------------------------------------------------------------------
def _kube_needs(experiments: Sequence[tuple[Experiment, str]], out: dict[Check, set[str]]) -> None:
    plan = rbac_plan(experiments, prune=False)
    cluster = {(verb, group, resource) for (group, resource), verbs in plan.cluster.items() for verb in verbs}
    for (group, resource), verbs in plan.cluster.items():
        for verb in verbs:
            out[KubeCheck(verb, group, resource, None)] |= plan.why[("", group, resource, verb)]
    for ns, grants in plan.namespaced.items():
        for (group, resource), verbs in grants.items():
            for verb in verbs:
                covered = (verb, group, resource) in cluster
                check = KubeCheck(verb, group, resource, None if covered else ns)
                out[check] |= plan.why[(ns, group, resource, verb)]
    for url, verbs in plan.urls.items():
        for verb in verbs:
            out[KubeUrlCheck(verb, url.rstrip("/") or "/")].add(EVERY_RUN)


def _gcp_rules(kind: str) -> tuple[GcpRule, ...]:
    return fault_class(kind).access.gcp


def _endpoint(which: Endpoint, params: Any, conn: Connection, probe: bool) -> Check:
    if which == Endpoint.PROMETHEUS:
        return EndpointCheck("prometheus", getattr(params, "url", None) or conn.prometheus_url, "/-/ready")
    if which == Endpoint.TOXIPROXY:
        return EndpointCheck("toxiproxy", conn.toxiproxy_url, "/version")
    if which == Endpoint.MONGODB:
        return MongoCheck(getattr(params, "uri", None))
    default = (conn.extra.get("postgres") or conn.postgres_dsn) if probe else conn.postgres_dsn
    dsn = getattr(params, "dsn", None) or default
    dbname = getattr(params, "dbname", None)
    return PostgresCheck(dsn, dbname)


def _step_needs(kind: str, params: Any, who: str, conn: Connection, out: dict[Check, set[str]],
                probe: bool = False) -> None:
    access = probe_class(kind).access if probe else fault_class(kind).access
    for which in access.reaches:
        check = _endpoint(which, params, conn, probe)
        if isinstance(check, PostgresCheck) and access.postgres_roles:
            check = PostgresCheck(check.dsn, check.dbname, tuple(sorted(access.postgres_roles)))
        if isinstance(check, MongoCheck):
            check = MongoCheck(check.uri, tuple(sorted(access.mongo_actions)))
        out[check].add(who)
    if not probe:
        for rule in _gcp_rules(kind):
            if rule.applies(params):
                _gcp_needs(rule, str(getattr(params, "zone", "") or ""), conn, who, out)


COLLECTION_VERBS = ("list", "create", "insert")
"""Permissions on a collection, not on one resource of it: tested on the project."""
PER_RESOURCE = {"instances": On.INSTANCE, "instanceGroups": On.INSTANCE_GROUP}
"""Resource types whose resources answer testIamPermissions (in the v1 Compute API)."""


def gcp_resource(permission: str, zone: str, project: str, network_project: str | None = None) -> tuple[On, str]:
    """Where ``permission`` is tested: (a VM or the instance group of ``zone``, or a project, and the zone or
    project). ``network_project`` given: a permission of the network's project, tested there."""
    if network_project:
        return On.PROJECT, network_project
    _, kind, verb = (permission.split(".") + ["", ""])[:3]
    on = PER_RESOURCE.get(kind)
    if on is None or not zone or verb in COLLECTION_VERBS:
        return On.PROJECT, project
    return on, zone


def _gcp_needs(rule: GcpRule, zone: str, conn: Connection, who: str, out: dict[Check, set[str]]) -> None:
    project = conn.project or ""
    network = (conn.host_project or project) if rule.network_project else None
    where: dict[tuple[On, str], list[str]] = defaultdict(list)
    for p in rule.permissions:
        where[gcp_resource(p, zone, project, network)].append(p)
    for (on, place), perms in where.items():
        out[GcpCheck(on, place, tuple(sorted(perms)))].add(who)


def _merge_gcp(out: dict[Check, set[str]]) -> None:
    """One GCP check per resource, with every permission any step asks there (and everyone who asks)."""
    by_place: dict[tuple[On, str], list[GcpCheck]] = defaultdict(list)
    for check in out:
        if isinstance(check, GcpCheck):
            by_place[(check.on, check.where)].append(check)
    for (on, place), checks in by_place.items():
        if len(checks) > 1:
            who = set().union(*(out.pop(c) for c in checks))
            out[GcpCheck(on, place, tuple(sorted({p for c in checks for p in c.permissions})))] = who


def plan_checks(experiments: Iterable[tuple[Experiment, str]], conn: Connection) -> dict[Check, set[str]]:
    """Every check ``(experiment, lease namespace)`` pairs need on the target ``conn``, and who needs it."""
    experiments = list(experiments)
    out: dict[Check, set[str]] = defaultdict(set)
    out[EndpointCheck("site", conn.site_url, "")].add(EVERY_RUN)
    out[KubeVersionCheck()].add(EVERY_RUN)
    _kube_needs(experiments, out)
    for exp, _ in experiments:
        for step in exp.timeline.faults:
            _step_needs(step.kind, step.params, f"{step.kind} ({exp.name})", conn, out)
        for probe in exp.probes:
            _step_needs(probe.kind, probe.params, f"{probe.kind} probe ({exp.name})", conn, out, probe=True)
    _merge_gcp(out)
    return dict(out)


# -- running them ---------------------------------------------------------------------------------------------
async def _run_one(check: Check, who: set[str], tools: Tools, deadline: float) -> Row:
    async def attempt() -> Row:
        result, detail = await asyncio.to_thread(check.run, tools)
        return Row(check.title, tuple(sorted(who)), result, detail, "" if result == Result.OK else check.fix(tools))

    try:
        return await retry_transient(attempt, deadline=deadline, what=check.title)
    except Exception as exc:  # noqa: BLE001 - any failure is the check's answer, never a crash
        return Row(check.title, tuple(sorted(who)), Result.FAILED, str(exc)[:300], check.fix(tools))


async def run_checks(needs: dict[Check, set[str]], conn: Connection, deadline: float = 5.0) -> Report:
    """Run every check (concurrently, transient failures retried within ``deadline`` seconds)."""
    started = time.monotonic()
    tools = Tools(conn)
    try:
        ordered = sorted(needs, key=lambda c: (c.order, c.title))
        rows = await asyncio.gather(*(_run_one(c, needs[c], tools, deadline) for c in ordered))
    finally:
        tools.close()
    return Report(list(rows), time.monotonic() - started)


async def doctor(experiments: Iterable[tuple[Experiment, str]], conn: Connection, deadline: float = 5.0) -> Report:
    """Plan and run the checks of ``experiments`` on ``conn``."""
    return await run_checks(plan_checks(experiments, conn), conn, deadline)


__all__ = ["EVERY_RUN", "Report", "Result", "Row", "doctor", "gcp_resource", "plan_checks", "run_checks"]
