"""Targets: the environments an experiment can run against, named in ``experiments/targets.yaml``.

```yaml
targets:
  sandbox: {kind: sandbox}
  gke-staging: {kind: gke, kubeconfig: ~/.kube/config, context: ..., project: ..., ...}
```
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import Field, ValidationError

from harness.errors import Problem
from harness.spec.errors import validation_problems
from harness.spec.fieldtypes import Duration
from harness.spec.kinds import did_you_mean
from harness.spec.models import Frozen
from harness.spec.yamldoc import ENV_RE, Loc, YamlDoc, parse_yaml, substitute_env, unset_env


class LeaseSpec(Frozen):
    """The Kubernetes Lease a run holds for its whole life: one run at a time per target."""

    namespace: str = Field(default="default", description="Namespace of the Lease (the harness's RBAC must allow it).")
    seconds: int = Field(default=30, ge=2, le=3600, description="Lease duration: a holder that died loses it after this.")


class NotifySpec(Frozen):
    """Where a run announces itself (Slack) and marks its fault windows (Grafana). Secrets only as
    ``${env:NAME}``; unset fields fall back to ``SLACK_WEBHOOK_URL``, ``GRAFANA_URL``, ``GRAFANA_API_TOKEN``."""

    slack_webhook: str | None = Field(default=None, description="Slack incoming-webhook URL, as ${env:NAME}.")
    grafana_url: str | None = Field(default=None, description="Grafana base URL for annotations.")
    grafana_token: str | None = Field(default=None, description="Grafana API token, as ${env:NAME}.")
    grafana_dashboard_uid: str | None = Field(default=None, description="Annotate this dashboard only (else the org).")
    report_url: str | None = Field(default=None, description="Base URL where run folders are published (links).")
    timeout: Duration = Field(default=5.0, gt=0, le=30, description="Longest one message may take, retries included.")


class SandboxTarget(Frozen):
    """The local simulated GKE started by ``harness sandbox up``."""

    kind: Literal["sandbox"] = Field(default="sandbox", description="Target kind.")
    name: str = Field(default="sandbox", description="Target name (the key in targets.yaml).")
    endpoints_file: str = Field(
        default=".sandbox/endpoints.json",
        description="endpoints.json written by `harness sandbox up` (URLs, kubeconfig, DSNs).",
    )
    lease: LeaseSpec = Field(default_factory=LeaseSpec, description="One run at a time on this target.")
    notify: NotifySpec = Field(default_factory=NotifySpec, description="Slack and Grafana notifications.")


class PostgresTarget(Frozen):
    """How to reach the shop's PostgreSQL, and which hosts faults may touch."""

    dsn: str = Field(description="Connection string; use ${env:NAME} for the password.")
    allowed_hosts: list[str] = Field(default_factory=list, description="Database hosts faults may degrade.")


class GkeTarget(Frozen):
    """A real GKE cluster (staging or production) and its monitoring."""

    kind: Literal["gke"] = Field(description="Target kind.")
    name: str = Field(default="", description="Target name (the key in targets.yaml).")
    kubeconfig: str | None = Field(
        default=None, description="Path to the kubeconfig file; none: $KUBECONFIG or ~/.kube/config when present, "
                                  "else the pod's service account (in-cluster runs).")
    context: str | None = Field(
        default=None, description="kubeconfig context of the cluster; none: the current context (unused in-cluster).")
    project: str = Field(description="Google Cloud project id.")
    region: str = Field(description="Region of the cluster, e.g. europe-west1.")
    network: str | None = Field(
        default=None, description="VPC network of the node VMs (name, or projects/P/global/networks/N); the network "
                                  "outage puts its firewall rules there and checks every VM is on it. None: the one "
                                  "network the VMs' interfaces are on.")
    host_project: str | None = Field(
        default=None, description="Host project of a Shared VPC (firewall rules belong to it); none: `project`.")
    namespaces: list[str] = Field(default_factory=list, description="Namespaces of the shop.")
    site_url: str = Field(description="Public URL of the shop, loaded by Locust and probed.")
    prometheus_url: str | None = Field(default=None, description="Prometheus API URL.")
    toxiproxy_url: str | None = Field(default=None, description="Toxiproxy API URL for dependency faults.")
    compute_endpoint: str | None = Field(default=None, description="Override of the Compute Engine API endpoint.")
    postgres: PostgresTarget | None = Field(default=None, description="The shop's PostgreSQL.")
    lease: LeaseSpec = Field(default_factory=LeaseSpec, description="One run at a time on this target.")
    notify: NotifySpec = Field(default_factory=NotifySpec, description="Slack and Grafana notifications.")


Target = Annotated[SandboxTarget | GkeTarget, Field(discriminator="kind")]
"""Any target kind, chosen by its ``kind`` key."""


class TargetsFile(Frozen):
    """The whole ``targets.yaml``."""

    targets: dict[str, Target] = Field(description="Targets by name.")


TARGET_KINDS: Mapping[str, type[SandboxTarget] | type[GkeTarget]] = MappingProxyType(
    {"sandbox": SandboxTarget, "gke": GkeTarget}
)
"""Target model by ``kind``."""

DEFAULT_SANDBOX = SandboxTarget()
"""The target used when no targets.yaml exists and the experiment asks for ``sandbox``."""


def _unknown_target(doc: YamlDoc, name: str, names: list[str], where: str) -> Problem:
    hint = did_you_mean(name, names) or (f"known targets: {', '.join(names)}" if names else None)
    return doc.problem(("target",), f"unknown target `{name}` (not in {where})", hint)


SECRET_FIELDS = (("notify", "slack_webhook"), ("notify", "grafana_token"))
"""Target fields that are secrets: only as ``${env:NAME}`` (never in clear in targets.yaml)."""


def _secrets_in_clear(doc: YamlDoc, raw: object, root: Loc) -> list[Problem]:
    problems = []
    for path in SECRET_FIELDS:
        value = raw
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, str) and value and not ENV_RE.search(value):
            problems.append(doc.problem((*root, *path), "a secret written in clear",
                                        "write ${env:NAME} and set NAME in the environment"))
    return problems


def resolve_target(
    name: str, targets_path: Path | None, experiment: YamlDoc, environ: Mapping[str, str], secrets: set[str]
) -> tuple[SandboxTarget | GkeTarget | None, list[Problem]]:
    """Load target ``name`` from ``targets_path``; problems point into the experiment or targets file.

    Only the chosen target's ``${env:...}`` placeholders are substituted (and must be set).
    """
    if targets_path is None or not targets_path.is_file():
        if name == "sandbox":
            return DEFAULT_SANDBOX, []
        return None, [_unknown_target(experiment, name, ["sandbox"], "the built-in targets; no targets.yaml found")]
    doc, problems = parse_yaml(targets_path.read_text(encoding="utf-8"), str(targets_path))
    if doc is None:
        return None, problems
    targets = doc.data.get("targets") if isinstance(doc.data, dict) else None
    if not isinstance(targets, dict):
        return None, [doc.problem(("targets",), "expected a `targets:` mapping of name -> target")]
    if name not in targets:
        return None, [_unknown_target(experiment, name, [str(k) for k in targets], str(targets_path))]
    root: Loc = ("targets", name)
    problems = unset_env(doc, environ, root) + _secrets_in_clear(doc, targets[name], root)
    raw = substitute_env(targets[name], environ, secrets)
    if not isinstance(raw, dict):
        return None, problems + [doc.problem(root, "expected a mapping with at least `kind`")]
    model = TARGET_KINDS.get(raw.get("kind", "sandbox"))
    if model is None:
        hint = did_you_mean(str(raw.get("kind")), list(TARGET_KINDS)) or f"one of: {', '.join(TARGET_KINDS)}"
        return None, problems + [doc.problem((*root, "kind"), f"unknown target kind {raw.get('kind')!r}", hint)]
    try:
        return model.model_validate({**raw, "name": name}), problems
    except ValidationError as exc:
        return None, problems + validation_problems(exc, doc, model, prefix=root)
