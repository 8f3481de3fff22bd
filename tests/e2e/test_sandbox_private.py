"""The sandbox loosens no permission of the user's folders, and its PostgreSQL wants a password.

A sandbox is started from inside a mode-700 folder (like /root or a CI workspace): no folder mode may
change. Its PostgreSQL accepts only scram-sha-256 logins with passwords generated for this sandbox,
published in endpoints.json; no run folder or sandbox log contains them.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import psycopg
import pytest

from harness.sandbox import manage

SMALL = """
zones: [b, c]
nodes_per_zone: 1
products: 20
prometheus: false
services:
  - {name: storefront, replicas: 1, path_prefix: /}
  - {name: catalog, replicas: 1, path_prefix: /api/catalog}
"""


def _modes(path: Path) -> dict[str, int]:
    return {str(p): stat.S_IMODE(p.stat().st_mode) for p in [path, *path.parents]}


def _password(dsn: str) -> str:
    return dsn.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]


def test_a_sandbox_in_a_private_folder_changes_no_folder_mode(tmp_path: Path) -> None:
    home = tmp_path / "home"
    clone = home / "clone"
    clone.mkdir(parents=True)
    home.chmod(0o700)
    clone.chmod(0o700)
    (clone / "config.yaml").write_text(SMALL)
    before = _modes(clone)
    eps = manage.up(clone / ".sandbox", clone / "config.yaml", timeout=180)
    try:
        assert _modes(clone) == before  # not one parent of the sandbox was opened up
        data = Path(eps["postgres_data"])
        if os.geteuid() == 0:  # postgres runs as its system user, on a private copy outside the clone
            assert clone not in data.parents and data.parent.name.startswith("harness-pg-")
            assert stat.S_IMODE(data.parent.stat().st_mode) == 0o700
        else:
            assert data == clone / ".sandbox" / "pgdata"
        with psycopg.connect(eps["postgres"], connect_timeout=5) as conn:
            assert conn.execute("SELECT count(*) FROM products").fetchone() == (20,)
    finally:
        manage.down(clone / ".sandbox")
    assert _modes(clone) == before
    if os.geteuid() == 0:
        assert not data.parent.exists(), "the private PostgreSQL folder is removed on down"


def test_postgres_wants_this_sandboxs_password(sandbox: Any) -> None:
    eps = sandbox.endpoints
    admin, shop = eps["postgres_admin"], eps["postgres"]
    assert len(_password(admin)) >= 20 and len(_password(shop)) >= 20 and _password(admin) != _password(shop)
    for dsn in (admin, shop):
        without = dsn.replace(":" + _password(dsn) + "@", "@")
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(without, connect_timeout=5).close()
        wrong = dsn.replace(_password(dsn), "not-the-password")
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(wrong, connect_timeout=5).close()
    with psycopg.connect(eps["postgres_via_proxy"], connect_timeout=5) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("shop",)


def test_no_run_folder_or_log_holds_the_database_passwords(workspace: Any, sandbox: Any) -> None:
    exp = workspace.experiment("pg-secrets", """
probes:
  - {name: db, every: 0.5s, timeout: 2s, postgres: {query: "SELECT 1"}}
slos:
  - {name: db-up, sli: probe.db.success_ratio, objective: ">= 50%", min_samples: 2}
steady_state: {before: false, after: false}
timeline:
  baseline: 1s
  faults:
    - {at: 0s, name: lock, pg-lock: {dbname: shop, table: carts, mode: SHARE, duration: 2s}}
  recovery: 1s
""")
    workspace.harness("run", str(exp), check=0)
    folder = workspace.run_dirs()[-1]
    rb = workspace.harness("rollback", str(folder), check=0)
    secrets = {_password(sandbox.endpoints["postgres_admin"]), _password(sandbox.endpoints["postgres"])}
    files = [p for p in folder.rglob("*") if p.is_file()]
    files += [p for p in sandbox.dir.glob("*.log")] + [sandbox.dir / "truth.jsonl"]
    for path in files:
        text = path.read_text(errors="replace")
        assert not [s for s in secrets if s in text], path
    assert not [s for s in secrets if s in rb.stdout + rb.stderr]
