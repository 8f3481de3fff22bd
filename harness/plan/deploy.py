"""The generated part of ``deploy/`` (the kustomize base for in-cluster runs), kept up to date by
``make deploy`` and checked by a test:

- ``deploy/rbac.yaml``: ``harness rbac`` of the whole catalogue (harness.plan.rbac);
- ``deploy/cronjobs.yaml``: a CronJob per game day with a ``schedule: {cron, timezone}``, running
  ``harness gameday run`` as the harness's ServiceAccount, secrets taken only by reference;
- ``deploy/experiments/``: copies of the catalogue, the game days, freeze.yaml and ``deploy/targets.yaml`` with a
  kustomization generating the ConfigMaps the CronJobs mount (kustomize reads no file above its folder).

    python -m harness.plan.deploy            # write them
    python -m harness.plan.deploy --check    # exit 1 naming the stale files
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from harness.plan.rbac import NAME, Subject, rbac_plan, render
from harness.spec.loader import load_experiment, repo_root

NAMESPACE = "shop-resilience"
"""The namespace deploy/ creates for the harness (its ServiceAccount, Lease, CronJobs)."""
TARGET = "in-cluster"
"""The target the CronJobs run against (deploy/targets.yaml)."""
SECRET = NAME
"""The Secret the CronJobs read their credentials from (created outside deploy/: no value is checked in)."""
SECRET_ENV = (  # (variable, key in the Secret, optional)
    ("SLACK_WEBHOOK_URL", "slack-webhook-url", True),
    ("GRAFANA_URL", "grafana-url", True),
    ("GRAFANA_API_TOKEN", "grafana-api-token", True),
    ("PG_PASSWORD", "postgres-password", False),
)
LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "shop-resilience"}
SKIP = ("targets.yaml", "freeze.yaml")
SHARED = ("freeze.yaml",)
"""Files of experiments/ the in-cluster runs need as they are: the freeze windows (no game day in a sale)."""


def catalogue(repo: Path) -> list[Path]:
    """The catalogue's experiment files."""
    return [p for p in sorted((repo / "experiments").glob("*.yaml")) if p.name not in SKIP]


def gamedays(repo: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Game-day files and their YAML (read only for name and schedule)."""
    out = []
    for path in sorted((repo / "experiments" / "gamedays").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict):
            out.append((path, data))
    return out


def _env() -> list[dict[str, Any]]:
    return [{"name": var, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": key, "optional": optional}}}
            for var, key, optional in SECRET_ENV]


def cronjob(file: str, gameday: dict[str, Any], all_days: list[str]) -> dict[str, Any]:
    """The CronJob of one scheduled game day (``file``: its name in experiments/gamedays/, which holds
    ``all_days``)."""
    schedule = gameday["schedule"]
    container = {
        "name": "harness", "image": f"{NAME}:latest", "workingDir": "/work",
        "args": ["gameday", "run", f"experiments/gamedays/{file}", "--target", TARGET],
        "env": _env(),
        "volumeMounts": [{"name": "experiments", "mountPath": "/work/experiments", "readOnly": True},
                         {"name": "reports", "mountPath": "/work/reports"},
                         {"name": "tmp", "mountPath": "/tmp"}],
        "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
        "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]}},
    }
    pod = {
        "serviceAccountName": NAME, "restartPolicy": "Never",
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container],
        "volumes": [{"name": "experiments", "projected": {"sources": [
                        {"configMap": {"name": "harness-experiments"}},
                        {"configMap": {"name": "harness-gamedays",
                                       "items": [{"key": f, "path": f"gamedays/{f}"} for f in all_days]}}]}},
                    {"name": "reports", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
    }
    labels = {**LABELS, "app.kubernetes.io/component": "gameday", "shop-resilience/gameday": str(gameday["name"])}
    return {
        "apiVersion": "batch/v1", "kind": "CronJob",
        "metadata": {"name": f"gameday-{gameday['name']}", "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "schedule": str(schedule["cron"]), "timeZone": str(schedule.get("timezone", "UTC")),
            "concurrencyPolicy": "Forbid", "startingDeadlineSeconds": 900,
            "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 5,
            "jobTemplate": {"spec": {"backoffLimit": 0, "activeDeadlineSeconds": 6 * 3600,
                                     "template": {"metadata": {"labels": dict(labels)}, "spec": pod}}},
        },
    }


class _NoAliases(yaml.SafeDumper):
    """Plain YAML for kubectl readers: a value used twice is written twice, never as an anchor."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump_all(docs: list[dict[str, Any]], head: str) -> str:
    return head + "".join("---\n" + yaml.dump(d, Dumper=_NoAliases, sort_keys=False, width=120) for d in docs)


def experiments_kustomization(experiments: list[str], days: list[str], extra: list[str]) -> str:
    """deploy/experiments/kustomization.yaml: the two ConfigMaps the CronJobs mount (``extra``: more files
    of experiments/, e.g. freeze.yaml)."""
    doc = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "namespace": NAMESPACE,
        "generatorOptions": {"disableNameSuffixHash": True, "labels": LABELS},
        "configMapGenerator": [
            {"name": "harness-experiments", "files": [*experiments, "targets.yaml", *extra]},
            {"name": "harness-gamedays", "files": [f"gamedays/{d}" for d in days]},
        ],
    }
    return "# generated by `make deploy` (python -m harness.plan.deploy): do not edit\n" + yaml.safe_dump(
        doc, sort_keys=False)


def generate(repo: Path) -> dict[Path, str]:
    """Every generated file of ``repo/deploy`` and its text."""
    deploy, days = repo / "deploy", gamedays(repo)
    loaded = [load_experiment(p) for p in catalogue(repo)]
    plan = rbac_plan((x.experiment, NAMESPACE) for x in loaded)
    command = f"harness rbac experiments/ --lease-namespace {NAMESPACE}"
    files = {deploy / "rbac.yaml": render(plan, Subject(NAMESPACE), command)}
    names = [p.name for p, _ in days]
    jobs = [cronjob(p.name, d, names) for p, d in days if isinstance(d.get("schedule"), dict)]
    files[deploy / "cronjobs.yaml"] = _dump_all(
        jobs, "# A CronJob per scheduled game day (experiments/gamedays/*.yaml `schedule:`); generated by "
              "`make deploy`: do not edit\n")
    for path in catalogue(repo):
        files[deploy / "experiments" / path.name] = path.read_text(encoding="utf-8")
    for path, _ in days:
        files[deploy / "experiments" / "gamedays" / path.name] = path.read_text(encoding="utf-8")
    files[deploy / "experiments" / "targets.yaml"] = (deploy / "targets.yaml").read_text(encoding="utf-8")
    extra = [name for name in SHARED if (repo / "experiments" / name).is_file()]
    for name in extra:
        files[deploy / "experiments" / name] = (repo / "experiments" / name).read_text(encoding="utf-8")
    files[deploy / "experiments" / "kustomization.yaml"] = experiments_kustomization(
        [p.name for p in catalogue(repo)], [p.name for p, _ in days], extra)
    return files


def stale(repo: Path) -> list[Path]:
    """Generated files that differ from what ``generate`` writes (or are missing)."""
    return [p for p, text in generate(repo).items() if not p.is_file() or p.read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.plan.deploy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only say which generated files are stale (exit 1)")
    args = parser.parse_args(argv)
    repo = repo_root(Path.cwd())
    if args.check:
        old = stale(repo)
        for path in old:
            print(f"stale: {path.relative_to(repo)} (run `make deploy`)", file=sys.stderr)
        return 1 if old else 0
    for path, text in generate(repo).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
