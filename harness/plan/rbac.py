"""Least-privilege RBAC for some experiments: what ``harness rbac`` prints and ``deploy/`` applies.

Every fault and probe kind declares its ``access`` (harness.spec.access) beside its implementation;
every run adds ``harness.spec.access.RUN`` (the target's Lease, the environment capture). Namespaced
rules go into a Role in each namespace a step names (``namespaces()`` of a fault's parameters, a
probe's ``namespace``) and the lease namespace; cluster-scoped ones (nodes, lists across namespaces,
``/version``) into one ClusterRole. Rules are merged (one verb set per resource) and sorted, so the
output is stable and can be checked in. Permissions outside Kubernetes are listed as comments.

    plan = rbac_plan([(loaded.experiment, loaded.target.lease.namespace)])
    print(render(plan, Subject("shop-resilience", "shop-resilience-harness")))
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from harness.faults.base import fault_class
from harness.spec.access import RUN, Access, KubeRule, NonResource, Scope
from harness.spec.models import Experiment
from probes.base import probe_class

RBAC_API = "rbac.authorization.k8s.io/v1"
NAME = "shop-resilience-harness"
"""Name of the ServiceAccount, Roles, ClusterRole and bindings."""


@dataclass(frozen=True)
class Subject:
    """The ServiceAccount the bindings grant to."""

    namespace: str
    name: str = NAME


@dataclass
class RbacPlan:
    """Merged permissions: ``namespaced[ns][(group, resource)]`` and ``cluster[(group, resource)]`` are
    verb sets; ``why`` says which kinds need each grant; ``other`` the non-Kubernetes needs."""

    experiments: list[str] = field(default_factory=list)
    namespaced: dict[str, dict[tuple[str, str], set[str]]] = field(default_factory=lambda: defaultdict(dict))
    cluster: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    urls: dict[str, set[str]] = field(default_factory=dict)
    why: dict[tuple[str, str, str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    other: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def grant(self, rule: KubeRule, namespaces: Sequence[str], who: str) -> None:
        """Add ``rule`` for ``who`` (cluster-wide when it is, or when no namespace is known)."""
        cluster = rule.scope == Scope.CLUSTER or not namespaces
        for resource in rule.resources:
            if cluster:
                self.cluster.setdefault((rule.group, resource), set()).update(rule.verbs)
                for verb in rule.verbs:
                    self.why[("", rule.group, resource, verb)].add(who)
            for ns in [] if cluster else namespaces:
                self.namespaced[ns].setdefault((rule.group, resource), set()).update(rule.verbs)
                for verb in rule.verbs:
                    self.why[(ns, rule.group, resource, verb)].add(who)

    def pruned(self) -> RbacPlan:
        """This plan without the namespaced verbs the ClusterRole already grants everywhere."""
        for ns, grants in list(self.namespaced.items()):
            for key, verbs in list(grants.items()):
                verbs -= self.cluster.get(key, set())
                if not verbs:
                    del grants[key]
            if not grants:
                del self.namespaced[ns]
        return self

    def add(self, access: Access, namespaces: Sequence[str], lease_namespace: str, who: str) -> None:
        """Everything ``access`` needs, for ``who``."""
        for rule in access.kube:
            self.grant(rule, [lease_namespace] if rule.scope == Scope.LEASE else namespaces, who)
        for nr in access.urls:
            for url in nr.urls:
                self.urls.setdefault(url, set()).update(nr.verbs)
        for gcp in access.gcp:
            when = f" for mode: {gcp.mode}" if gcp.mode else ""
            where = " in the network's project (the host project on a Shared VPC)" if gcp.network_project else ""
            self.other[f"GCP IAM{when}{where}: {', '.join(gcp.permissions)}"].add(who)
        for need in access.other:
            self.other[need].add(who)


def _namespaces(params: Any) -> list[str]:
    """The namespaces a kind's parameters name: ``namespaces()`` (faults) or ``namespace`` (probes)."""
    names = params.namespaces() if callable(getattr(params, "namespaces", None)) else []
    single = getattr(params, "namespace", None)
    return sorted(set(names) | ({single} if isinstance(single, str) and single else set()))


def rbac_plan(experiments: Iterable[tuple[Experiment, str]], prune: bool = True) -> RbacPlan:
    """The merged permissions of ``(experiment, lease namespace)`` pairs (without the namespaced verbs the
    ClusterRole grants everywhere, unless ``prune`` is False)."""
    plan = RbacPlan()
    for exp, lease_namespace in experiments:
        plan.experiments.append(exp.name)
        plan.add(RUN, [], lease_namespace, "every run")
        for step in exp.timeline.faults:
            plan.add(fault_class(step.kind).access, _namespaces(step.params), lease_namespace,
                     f"{step.kind} ({exp.name})")
        for probe in exp.probes:
            plan.add(probe_class(probe.kind).access, _namespaces(probe.params), lease_namespace,
                     f"{probe.kind} probe ({exp.name})")
    return plan.pruned() if prune else plan


def policy_rules(grants: dict[tuple[str, str], set[str]]) -> list[dict[str, Any]]:
    """RBAC rules: resources of one group with the same verbs share a rule; sorted."""
    merged: dict[tuple[str, tuple[str, ...]], list[str]] = defaultdict(list)
    for (group, resource), verbs in grants.items():
        merged[(group, tuple(sorted(verbs)))].append(resource)
    return [{"apiGroups": [group], "resources": sorted(resources), "verbs": list(verbs)}
            for (group, verbs), resources in sorted(merged.items())]


def url_rules(urls: dict[str, set[str]]) -> list[dict[str, Any]]:
    """Non-resource URL rules, one per verb set."""
    by_verbs: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for url, verbs in urls.items():
        by_verbs[tuple(sorted(verbs))].append(url)
    return [{"nonResourceURLs": sorted(u), "verbs": list(v)} for v, u in sorted(by_verbs.items())]


def _reasons(plan: RbacPlan, scope: str, grants: dict[tuple[str, str], set[str]]) -> list[str]:
    lines = []
    for group, resource in sorted(grants):
        verbs = sorted(grants[(group, resource)])
        who = set().union(*(plan.why[(scope, group, resource, verb)] for verb in verbs))
        api = f"{group}/" if group else ""
        lines.append(f"{api}{resource} [{', '.join(verbs)}]: {', '.join(sorted(who))}")
    return lines


def _doc(comment: list[str], body: dict[str, Any]) -> str:
    head = "".join(f"# {line}\n" for line in comment)
    return head + yaml.safe_dump(body, sort_keys=False, default_flow_style=None, width=120)


def manifests(plan: RbacPlan, subject: Subject) -> list[tuple[list[str], dict[str, Any]]]:
    """(comment lines, object) for every Role, RoleBinding, ClusterRole and ClusterRoleBinding."""
    sa = {"kind": "ServiceAccount", "name": subject.name, "namespace": subject.namespace}
    labels = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "rbac"}
    out: list[tuple[list[str], dict[str, Any]]] = []
    for ns in sorted(plan.namespaced):
        meta = {"name": subject.name, "namespace": ns, "labels": labels}
        out.append((_reasons(plan, ns, plan.namespaced[ns]),
                    {"apiVersion": RBAC_API, "kind": "Role", "metadata": meta,
                     "rules": policy_rules(plan.namespaced[ns])}))
        out.append(([], {"apiVersion": RBAC_API, "kind": "RoleBinding", "metadata": meta,
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": subject.name},
                         "subjects": [sa]}))
    if plan.cluster or plan.urls:
        meta = {"name": subject.name, "labels": labels}
        out.append((_reasons(plan, "", plan.cluster) + [f"{', '.join(sorted(plan.urls))}: the API server version"],
                    {"apiVersion": RBAC_API, "kind": "ClusterRole", "metadata": meta,
                     "rules": policy_rules(plan.cluster) + url_rules(plan.urls)}))
        out.append(([], {"apiVersion": RBAC_API, "kind": "ClusterRoleBinding", "metadata": meta,
                         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                     "name": subject.name},
                         "subjects": [sa]}))
    return out


def render(plan: RbacPlan, subject: Subject, command: str = "harness rbac") -> str:
    """The plan as a multi-document YAML with comments (who needs what, and what is not Kubernetes)."""
    head = [f"Least-privilege RBAC for {', '.join(plan.experiments) or 'no experiment'}",
            f"(ServiceAccount {subject.namespace}/{subject.name}); generated by `{command}`: do not edit."]
    if plan.other:
        head.append("Needed outside Kubernetes (not granted here):")
        head += [f"  - {need}: {', '.join(sorted(who))}" for need, who in sorted(plan.other.items())]
    docs = [_doc(comment, body) for comment, body in manifests(plan, subject)]
    return "".join(f"# {line}\n" for line in head) + "---\n" + "---\n".join(docs)


def allows(documents: Iterable[dict[str, Any]], verb: str, group: str, resource: str, namespace: str | None) -> bool:
    """Whether the Roles and ClusterRoles among ``documents`` (as ``render`` prints them, bound to one
    subject) allow ``verb`` on ``group``/``resource`` (``pods/eviction``) in ``namespace`` (None: cluster
    scope or across namespaces), as the RBAC authorizer decides (exact names, ``*`` wildcards)."""
    for doc in documents:
        kind = doc.get("kind")
        if kind == "ClusterRole" or (kind == "Role" and doc["metadata"].get("namespace") == namespace):
            if any(_matches(rule, verb, group, resource) for rule in doc.get("rules") or []):
                return True
    return False


def allows_url(documents: Iterable[dict[str, Any]], verb: str, url: str) -> bool:
    """Whether a ClusterRole among ``documents`` allows ``verb`` on the non-resource ``url``."""
    for doc in documents:
        for rule in doc.get("rules") or [] if doc.get("kind") == "ClusterRole" else []:
            urls = rule.get("nonResourceURLs") or []
            if (verb in rule["verbs"] or "*" in rule["verbs"]) and any(
                    u == url or (u.endswith("*") and url.startswith(u[:-1])) for u in urls):
                return True
    return False


def _matches(rule: dict[str, Any], verb: str, group: str, resource: str) -> bool:
    def has(key: str, value: str) -> bool:
        return value in (rule.get(key) or []) or "*" in (rule.get(key) or [])

    return has("apiGroups", group) and has("resources", resource) and has("verbs", verb)


__all__ = ["NAME", "NonResource", "RbacPlan", "Subject", "allows", "allows_url", "manifests", "policy_rules",
           "rbac_plan", "render"]
