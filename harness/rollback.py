"""`harness rollback RUN_DIR`: revert what a run journaled as injected and never reverted.

The journal holds no secret: undo records name servers without passwords, and ``run.started``
journals the target's name and public connection only. So a rollback takes its credentials where the
run took them: the target, resolved by name from ``targets.yaml`` (``--targets``, else ``./targets.yaml``,
else the repository's ``experiments/targets.yaml``) with ``${env:NAME}`` read from the environment, plus
the ``dsn``/``uri`` parameters of the run's ``experiment.yaml``, resolved the same way.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from harness.clients.connect import Connection, kube_client, resolve_connection
from harness.clients.lease import TargetLease
from harness.clients.postgres import dsn_parts
from harness.errors import HarnessError, InvalidExperiment, Problem, Refused, RevertFailed
from harness.events import Event
from harness.faults.base import revert_pending
from harness.faults.env import fault_env
from harness.journal import Journal, pending_faults, read_journal
from harness.spec.loader import repo_root
from harness.spec.targets import SandboxTarget, resolve_target
from harness.spec.yamldoc import ENV_RE, YamlDoc, parse_yaml, substitute_env

CREDENTIAL_KEYS = ("dsn", "uri")
"""Fault parameters that hold a connection string (and so maybe a password)."""


def default_targets_path(cwd: Path) -> Path | None:
    """``./targets.yaml``, else ``<repo>/experiments/targets.yaml``; None when neither exists."""
    for path in (cwd / "targets.yaml", repo_root(cwd) / "experiments" / "targets.yaml"):
        if path.is_file():
            return path
    return None


def target_connection(started: dict[str, Any], targets_path: Path | None, target: str | None,
                      environ: Mapping[str, str], secrets: set[str]) -> Connection:
    """The connection (with its secrets) of the target the run used, or ``target`` when given.

    Refused when that target is another cluster than the one the run journaled."""
    name = target or started.get("target")
    journaled = Connection.from_public(started["connection"])
    if not name:  # a journal from before targets were journaled: no secrets to be had
        return journaled
    if targets_path is not None and not targets_path.is_file():
        raise InvalidExperiment([Problem(str(targets_path), None, "", "targets file not found",
                                         "give an existing file to --targets")])
    where = YamlDoc("--target" if target else "events.jsonl run.started", None, {})
    resolved, problems = resolve_target(name, targets_path or default_targets_path(Path.cwd()), where, environ,
                                        secrets)
    if problems or resolved is None:
        raise InvalidExperiment(problems)
    if isinstance(resolved, SandboxTarget) and not Path(resolved.endpoints_file).is_file() and journaled.kubeconfig:
        beside = Path(journaled.kubeconfig).parent / "endpoints.json"  # the sandbox the run used
        if beside.is_file():
            resolved = resolved.model_copy(update={"endpoints_file": str(beside)})
    conn = resolve_connection(resolved)
    if conn.cluster() != journaled.cluster():
        raise Refused(f"target {name!r} is {conn.cluster()}, but the run acted on {journaled.cluster()}: "
                      "give the run's target with --target (and its targets.yaml with --targets)")
    return conn


def experiment_credentials(run_dir: Path, environ: Mapping[str, str], secrets: set[str]) -> list[str]:
    """Every ``dsn``/``uri`` fault parameter of the run's experiment.yaml whose ``${env:NAME}`` are set."""
    path = run_dir / "experiment.yaml"
    doc = parse_yaml(path.read_text(encoding="utf-8"), str(path))[0] if path.is_file() else None
    if doc is None:
        return []
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in CREDENTIAL_KEYS and isinstance(value, str) and ENV_RE.search(value):
                    found.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk((doc.data or {}).get("timeline") if isinstance(doc.data, dict) else None)
    resolved = [substitute_env(value, environ, secrets) for value in found]
    return [value for value in resolved if not ENV_RE.search(value)]


_URL_PASSWORD = re.compile(r"://[^:/@\s]+:([^@/\s]+)@")


def passwords(conn_string: str) -> set[str]:
    """The password of a DSN or URI, as written and as decoded (empty when it has none)."""
    found = set(_URL_PASSWORD.findall(conn_string))
    try:
        found.add(dsn_parts(conn_string).get("password", ""))
    except ValueError:
        pass  # not a PostgreSQL DSN
    return {p for p in found if p}


def _redactor(secrets: set[str]) -> Callable[[str], str]:
    ordered = sorted((s for s in secrets if s), key=len, reverse=True)

    def redact(text: str) -> str:
        for secret in ordered:
            text = text.replace(secret, "***")
        return text

    return redact


async def rollback(run_dir: Path, targets_path: Path | None = None, target: str | None = None,
                   environ: Mapping[str, str] | None = None) -> list[str]:
    """Revert every pending fault of ``run_dir``, newest first; returns what was reverted.

    Credentials come from the target and the environment (``environ``, default ``os.environ``), never
    from the journal. Raises RevertFailed naming what is still injected when any revert fails.
    """
    path = run_dir / "events.jsonl"
    if not path.exists():
        raise HarnessError(f"{path} not found: not a run folder")
    events = read_journal(path)
    pending = pending_faults(events)
    held = held_lease(events)
    if not pending and held is None:
        return []
    started = next((e for e in events if e.get("type") == Event.RUN_STARTED), None)
    if started is None:
        raise HarnessError(f"{path} has no run.started event: cannot tell which cluster to reach")
    environ = os.environ if environ is None else environ
    secrets: set[str] = set()
    conn = target_connection(started, targets_path, target, environ, secrets)
    credentials = experiment_credentials(run_dir, environ, secrets)
    for conn_string in filter(None, [conn.postgres_dsn, *credentials]):
        secrets |= passwords(conn_string)
    journal = Journal(path, redact=_redactor(secrets))
    env = fault_env(conn, journal.write)
    env.credentials = credentials
    try:
        failures = await revert_pending(pending, env, by="rollback")
        released = await _release(held, conn, journal) if held else []
    finally:
        journal.close()
    failed = [f"{pf.describe()} ({exc})" for pf, exc in failures]
    failed_ids = {pf.id for pf, _ in failures}
    reverted = [pf.describe() for pf in reversed(pending) if pf.id not in failed_ids] + released
    if failed:
        raise RevertFailed(failed)
    return reverted


def held_lease(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The target lease the run took and never gave back (it died holding it), if any."""
    acquired = next((e for e in events if e.get("type") == Event.LEASE_ACQUIRED), None)
    if acquired is None or any(e.get("type") == Event.LEASE_RELEASED for e in events):
        return None
    return acquired


async def _release(held: dict[str, Any], conn: Connection, journal: Journal) -> list[str]:
    """Give back the dead run's lease (only if it still holds it: a newer run's is left alone)."""
    lease = TargetLease(kube_client(conn), str(held["holder"]), str(conn.kind),
                        namespace=str(held["namespace"]), name=str(held["name"]))
    current = await asyncio.to_thread(lease.api.get_lease, lease.namespace, lease.name)
    if current is None or (current.get("spec") or {}).get("holderIdentity") != lease.holder:
        return []
    await asyncio.to_thread(lease.release)
    journal.write(Event.LEASE_RELEASED, holder=lease.holder, by="rollback")
    return [f"{lease.where} held by {lease.holder} (released)"]
