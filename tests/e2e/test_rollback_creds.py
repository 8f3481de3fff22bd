"""`harness rollback` takes its credentials from the target (targets.yaml, ``${env:NAME}`` from the
environment), never from the journal, and the journal never holds a password.

The sandbox's PostgreSQL trusts every login (initdb --auth=trust), which would make any password
meaningless; so this test puts one pg_hba.conf line in front for its own role (scram-sha-256, others
keep trust) and reloads, and checks that the role cannot log in without its password."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness.clients.connect import resolve_connection
from harness.faults.base import Fault, fault_class
from harness.faults.env import fault_env
from harness.journal import Journal, pending_faults, read_journal
from harness.spec.targets import resolve_target
from harness.spec.yamldoc import YamlDoc

pytestmark = pytest.mark.e2e

ROLE, TABLE, VAR = "harness_rb", "rb_scratch", "RB_PG_PASSWORD"


@pytest.fixture
def locked_role(sandbox: Any) -> Iterator[str]:
    """A login role that needs its password (scram-sha-256), owning table ``rb_scratch`` in ``shop``."""
    password = "pw-" + secrets.token_hex(8)
    admin = sandbox.endpoints["postgres_admin"]
    shop = admin.rsplit("/", 1)[0] + "/shop"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("SET password_encryption = 'scram-sha-256'")
        conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{password}'")
    with psycopg.connect(shop, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {TABLE} (id int)")
        conn.execute(f"ALTER TABLE {TABLE} OWNER TO {ROLE}")
    try:  # the sandbox's PostgreSQL accepts scram-sha-256 logins only
        yield password
    finally:
        with psycopg.connect(shop, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (ROLE,))
            conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
            conn.execute(f"DROP ROLE IF EXISTS {ROLE}")


def _targets(tmp: Path, sandbox: Any) -> Path:
    eps = sandbox.endpoints
    port = eps["postgres_admin"].rsplit(":", 1)[1].split("/")[0]
    path = tmp / "targets.yaml"
    path.write_text(f"""targets:
  locked-db:   # the sandbox, described as a GKE target with a password-protected PostgreSQL
    kind: gke
    kubeconfig: {eps["kubeconfig"]}
    context: sandbox
    project: {eps["project"]}
    region: {eps["region"]}
    namespaces: [shop]
    site_url: {eps["ingress"]}
    toxiproxy_url: {eps["toxiproxy"]}
    compute_endpoint: {eps["compute"]}
    postgres:
      dsn: postgresql://{ROLE}:${{env:{VAR}}}@127.0.0.1:{port}/shop
      allowed_hosts: [127.0.0.1]
""")
    return path


def _fault(kind: str, env: Any, **values: Any) -> Fault:
    model = fault_class(kind).Params
    return fault_class(kind)(f"{kind}-0", model.model_validate(values), env)


def _held(sandbox: Any) -> tuple[int, int]:
    """(sessions of the role named harness-*, granted locks on the scratch table)."""
    shop = sandbox.endpoints["postgres_admin"].rsplit("/", 1)[0] + "/shop"
    with psycopg.connect(shop, autocommit=True) as conn:
        sessions = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND application_name "
                                "LIKE 'harness-%%' AND application_name NOT LIKE 'harness-ctl-%%'", (ROLE,)).fetchone()
        locks = conn.execute(f"SELECT count(*) FROM pg_locks WHERE relation = '{TABLE}'::regclass AND granted").fetchone()
    assert sessions is not None and locks is not None
    return int(sessions[0]), int(locks[0])


def _crashed_run(run_dir: Path, targets: Path, password: str) -> list[Fault]:
    """What a run leaves after kill -9 mid-fault: run.started and the undo records journaled, then the
    faults acting, and no revert. Returned so the test can close their (by then dead) connections."""
    run_dir.mkdir(parents=True)
    (run_dir / "experiment.yaml").write_text("name: locked\ntarget: locked-db\n")
    environ = {VAR: password}
    target, problems = resolve_target("locked-db", targets, YamlDoc("test", None, {}), environ, set())
    assert target is not None and not problems, problems
    conn = resolve_connection(target)
    journal = Journal(run_dir / "events.jsonl")  # no redaction: the records must be secret-free by themselves
    journal.write("run.started", name="locked", target="locked-db", connection=conn.public(), plan=[])
    env = fault_env(conn, journal.write)
    faults = [_fault("pg-lock", env, table=TABLE, mode="ACCESS EXCLUSIVE", duration="60s"),
              _fault("pg-connection-exhaustion", env, hold=3, duration="60s")]

    async def inject() -> None:
        for fault in faults:
            plan = await fault.plan()
            assert plan.refuse is None, plan.refuse
            await fault.inject()

    asyncio.run(inject())
    journal.close()
    env.kube.close()
    return faults


def _rollback(run_dir: Path, targets: Path, password: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != VAR}
    if password is not None:
        env[VAR] = password
    return subprocess.run([sys.executable, "-m", "harness", "rollback", str(run_dir), "--targets", str(targets)],
                          cwd=run_dir.parent, env=env, capture_output=True, text=True, timeout=120)


def test_rollback_logs_in_with_the_targets_password(tmp_path: Path, sandbox: Any, locked_role: str) -> None:
    password = locked_role
    port = sandbox.endpoints["postgres_admin"].rsplit(":", 1)[1].split("/")[0]
    with pytest.raises(psycopg.OperationalError, match="password"):  # the password is real
        psycopg.connect(f"postgresql://{ROLE}@127.0.0.1:{port}/shop", connect_timeout=3).close()
    targets = _targets(tmp_path, sandbox)
    run_dir = tmp_path / "reports" / "20250101T000000Z-locked"
    faults = _crashed_run(run_dir, targets, password)
    try:
        assert _held(sandbox) == (1 + 3, 1)
        journal = (run_dir / "events.jsonl").read_text()
        assert password not in journal
        records = [u for pf in pending_faults(read_journal(run_dir / "events.jsonl")) for u in pf.undo]
        assert len(records) == 2 and all(r["dsn"] == f"user={ROLE} dbname=shop host=127.0.0.1 port={port}"
                                         for r in records)
        with pytest.raises(psycopg.OperationalError, match="password"):  # what the journal alone could do
            psycopg.connect(records[0]["dsn"], connect_timeout=3).close()

        unset = _rollback(run_dir, targets, None)
        assert unset.returncode == 2, unset.stderr
        assert f"environment variable `{VAR}` is not set" in unset.stderr
        assert _held(sandbox) == (4, 1)  # nothing was touched

        done = _rollback(run_dir, targets, password)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "reverted pg-lock pg-lock-0" in done.stdout
        assert "reverted pg-connection-exhaustion pg-connection-exhaustion-0" in done.stdout
        deadline = time.monotonic() + 10
        while _held(sandbox) != (0, 0) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _held(sandbox) == (0, 0)  # the lock is released, the held connections are gone
        events = read_journal(run_dir / "events.jsonl")
        assert [e["id"] for e in events if e["type"] == "fault.reverted" and e.get("by") == "rollback"] == [
            "pg-connection-exhaustion-0", "pg-lock-0"]
        assert password not in (run_dir / "events.jsonl").read_text() + done.stdout + done.stderr
        assert _rollback(run_dir, targets, password).returncode == 0  # nothing left: idempotent
    finally:
        for fault in faults:
            asyncio.run(fault.release())  # type: ignore[attr-defined]


def test_sandbox_rollback_without_targets_yaml_finds_the_runs_sandbox(tmp_path: Path, sandbox: Any) -> None:
    """No targets.yaml where rollback runs: the built-in sandbox target, at the sandbox the run used."""
    from harness.clients.connect import Connection
    from harness.spec.targets import SandboxTarget

    conn: Connection = resolve_connection(SandboxTarget(endpoints_file=str(sandbox.dir / "endpoints.json")))
    assert "shop:shop@" not in str(conn.public())  # the sandbox's own DSN loses its password in the journal
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    journal = Journal(run_dir / "events.jsonl")
    journal.write("run.started", name="scale", target="sandbox", connection=conn.public(), plan=[])
    journal.write("fault.undo", id="scale-0", kind="deployment-scale",
                  undo={"namespace": "shop", "name": "catalog", "replicas": 3})
    journal.close()
    kube = sandbox.kube()
    try:
        kube.set_scale("shop", "catalog", 2)
        done = subprocess.run([sys.executable, "-m", "harness", "rollback", str(run_dir)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        assert kube.get_scale("shop", "catalog") == 3
    finally:
        kube.set_scale("shop", "catalog", 3)
        kube.close()
    sandbox.wait_deployments_ready()
