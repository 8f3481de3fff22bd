"""Database and dependency faults against the session sandbox's real PostgreSQL and fault proxy:
direct fault lifecycles, then experiments run end to end (verdicts from the shop's point of view),
and after every ending (success, guard abort, SIGINT, kill -9 + rollback) nothing left behind."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

import httpx
import pytest

from harness.clients import postgres as pg
from harness.clients.toxiproxy import ToxiproxyClient
from harness.faults.base import FaultEnv, fault_class

pytestmark = pytest.mark.e2e

LOAD = "load: {users: 8, spawn_rate: 8, think_time: 0.2s..0.6s, workers: 1}\n"
# what faults hold; their short control queries (harness-ctl-*) and probes come and go
HARNESS_SESSIONS = ("application_name LIKE 'harness-%' AND application_name NOT LIKE 'harness-probe-%' "
                    "AND application_name NOT LIKE 'harness-ctl-%'")


def _admin(sandbox: Any, dbname: str | None = None) -> pg.PostgresClient:
    return pg.PostgresClient(pg.with_dbname(sandbox.endpoints["postgres_admin"], dbname), application_name="test")


def _harness_sessions(sandbox: Any) -> int:
    rows = _admin(sandbox).query(
        f"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND {HARNESS_SESSIONS}")
    return int(rows[0][0])


def _client_backends(sandbox: Any) -> int:
    return _admin(sandbox).count_backends()


def _orders_locks(sandbox: Any) -> int:
    rows = _admin(sandbox, "shop").query(
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        f"WHERE l.relation = 'orders'::regclass AND l.granted AND a.{HARNESS_SESSIONS}")
    return int(rows[0][0])


def _proxy_state(sandbox: Any) -> tuple[list[str], list[str]]:
    """(toxics, disabled proxies) on the sandbox's Toxiproxy."""
    with ToxiproxyClient(sandbox.endpoints["toxiproxy"]) as client:
        proxies = client.proxies()
    toxics = [f"{n}/{t['name']}" for n, p in proxies.items() for t in p.get("toxics") or []]
    return toxics, [n for n, p in proxies.items() if not p.get("enabled", True)]


def _leftovers(sandbox: Any) -> dict[str, Any]:
    toxics, disabled = _proxy_state(sandbox)
    return {"toxics": toxics, "disabled": disabled, "sessions": _harness_sessions(sandbox),
            "orders_locks": _orders_locks(sandbox)}


CLEAN = {"toxics": [], "disabled": [], "sessions": 0, "orders_locks": 0}


def _assert_clean(sandbox: Any, timeout: float = 15.0) -> None:
    """Nothing the harness did is left (terminated backends take a moment to go)."""
    deadline = time.monotonic() + timeout
    while (state := _leftovers(sandbox)) != CLEAN and time.monotonic() < deadline:
        time.sleep(0.3)
    assert state == CLEAN


def _wait_checkout_healthy(sandbox: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    url = sandbox.endpoints["ingress"] + "/api/checkout/health"
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=3).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("checkout never became healthy again")


def _slos(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in run["slos"]}


def _fault_env(sandbox: Any) -> FaultEnv:
    return FaultEnv(toxiproxy=ToxiproxyClient(sandbox.endpoints["toxiproxy"]),
                    postgres={"dsn": sandbox.endpoints["postgres_admin"], "allowed_hosts": ["127.0.0.1"]})


def _fault(kind: str, env: FaultEnv, **values: Any) -> Any:
    model = fault_class(kind).Params
    return fault_class(kind)(f"{kind}-t", model.model_validate(values), env)


# -- direct lifecycles ------------------------------------------------------------------------------
def test_pg_faults_hold_then_release_and_undo_terminates_by_name(sandbox: Any) -> None:
    env = _fault_env(sandbox)

    async def scenario() -> None:
        lock = _fault("pg-lock", env, dbname="shop", table="orders", mode="SHARE", duration="5s")
        slow = _fault("pg-slow-queries", env, connections=1, statement_timeout="3s", duration="5s")
        held = _fault("pg-connection-exhaustion", env, hold=5, duration="5s")
        for fault in (lock, slow, held):
            plan = await fault.plan()
            assert plan.refuse is None, plan.refuse
            await fault.inject()
        assert _orders_locks(sandbox) == 1 and _harness_sessions(sandbox) == 1 + 1 + 5
        await lock.revert()
        await slow.revert()
        assert _orders_locks(sandbox) == 0 and _harness_sessions(sandbox) == 5
        assert held.measurements["held"] == 5
        # a crash leaves the undo records only: undo terminates the sessions by application_name
        await type(held).undo(list(held._undo), _fault_env(sandbox))
        await held.release()
        missing = await _fault("pg-lock", env, dbname="shop", table="no_such_table", duration="1s").plan()
        assert missing.refuse and "does not exist" in missing.refuse

    asyncio.run(scenario())
    _assert_clean(sandbox)


# -- end to end, with shoppers -----------------------------------------------------------------------
def test_db_latency_raises_checkout_p95_in_the_fault_window_only(workspace: Any, sandbox: Any) -> None:
    exp = workspace.experiment("db-latency", LOAD + """
probes:
  - {name: db, every: 1s, timeout: 2s, postgres: {query: "SELECT count(*) FROM products"}}
  - {name: proxies, every: 1s, timeout: 2s, toxiproxy: {proxies: [postgres]}}
slos:
  - {name: baseline-p95, sli: step.checkout.p95, objective: "<= 2s", window: baseline, min_samples: 2}
  - {name: fault-p95, sli: step.checkout.p95, objective: "<= 300ms", window: fault, min_samples: 2}
timeline:
  baseline: 8s
  faults:
    - at: 0s
      db-latency: {latency: 200ms, duration: 16s}
  recovery: 3s
""")
    # 16 s: a checkout makes a dozen round trips to the database (2-3 s under the toxic) and a shopper's
    # other steps slow down too, so a 10 s window sometimes saw no checkout complete at all
    workspace.harness("run", str(exp), check=1)
    run = workspace.last_run()
    slos = _slos(run)
    base, fault = slos["baseline-p95"]["measured"], slos["fault-p95"]["measured"]
    assert base is not None and fault is not None, slos
    assert fault - base >= 0.2, (base, fault)
    assert slos["baseline-p95"]["passed"] is True and slos["fault-p95"]["passed"] is False
    assert run["faults"][0]["measurements"]["toxics"]
    _assert_clean(sandbox)


def test_connection_exhaustion_starves_checkout_and_connections_come_back(workspace: Any, sandbox: Any) -> None:
    _wait_checkout_healthy(sandbox)
    before = _client_backends(sandbox)
    # shoppers whose cart.add fails never reach checkout: the health probe checks checkout's pool
    exp = workspace.experiment("exhaustion", LOAD + """
probes:
  - {name: checkout-health, every: 0.5s, timeout: 2s, http: {url: /api/checkout/health}}
slos:
  - {name: checkout-fault, sli: probe.checkout-health.success_ratio, objective: ">= 99%", window: fault}
  - {name: load-fault, sli: load.success_ratio, objective: ">= 99%", window: fault, min_samples: 5}
timeline:
  baseline: 4s
  faults:
    - at: 0s
      pg-connection-exhaustion: {reserve: 3, evict: "shop-%", duration: 7s}
  recovery: 3s
""")
    workspace.harness("run", str(exp), check=1)
    run = workspace.last_run()
    slos = _slos(run)
    assert slos["checkout-fault"]["measured"] < 0.5 and slos["load-fault"]["passed"] is False, slos
    m = run["faults"][0]["measurements"]
    assert m["held_max"] >= m["max_connections"] - m["reserve"] - m["backends_before"] and m["evicted"] > 0
    _assert_clean(sandbox)
    _wait_checkout_healthy(sandbox)
    kube = sandbox.kube()
    pods = len([p for p in kube.list_pods("shop") if p["metadata"]["name"].split("-")[0]
                in ("catalog", "cart", "checkout")])
    kube.close()
    assert _client_backends(sandbox) <= max(before, pods * 4), before  # pools at most their size again


def test_terminate_backends_shows_in_errors_and_recovers(workspace: Any, sandbox: Any) -> None:
    _wait_checkout_healthy(sandbox)
    exp = workspace.experiment("terminate", LOAD + """
slos:
  - {name: during, sli: load.success_ratio, objective: ">= 100%", window: fault, min_samples: 5}
  - {name: recovery, sli: recovery_time, objective: "<= 20s"}
timeline:
  baseline: 3s
  faults:
    - at: 0s
      pg-terminate-backends: {application_name: "shop-%", every: 1s, duration: 5s}
  recovery: 15s  # pools reconnect after the last termination: room for 3 good seconds on a loaded machine
""")
    workspace.harness("run", str(exp), check=1)
    run = workspace.last_run()
    slos = _slos(run)
    assert slos["during"]["measured"] < 1.0 and slos["during"]["passed"] is False
    assert run["faults"][0]["measurements"]["terminated"] > 0
    assert slos["recovery"]["passed"] is True, slos["recovery"]
    _wait_checkout_healthy(sandbox)


def test_lock_on_orders_stalls_checkout_and_releases(workspace: Any, sandbox: Any) -> None:
    _wait_checkout_healthy(sandbox)
    exp = workspace.experiment("lock-orders", LOAD + """
slos:
  - {name: checkout-fault, sli: step.checkout.success_ratio, objective: ">= 99%", window: fault, min_samples: 1}
  - {name: browsing-fault, sli: step.product.success_ratio, objective: ">= 99%", window: fault, min_samples: 5}
  - {name: checkout-after, sli: step.checkout.success_ratio, objective: ">= 0%", window: recovery, inconclusive: pass}
timeline:
  baseline: 5s
  faults:
    - at: 0s
      pg-lock: {dbname: shop, table: orders, mode: ACCESS EXCLUSIVE, duration: 10s}
  recovery: 6s
""")
    workspace.harness("run", str(exp), check=1)
    slos = _slos(workspace.last_run())
    assert slos["checkout-fault"]["passed"] is False and slos["browsing-fault"]["passed"] is True
    _assert_clean(sandbox)
    _wait_checkout_healthy(sandbox)
    _assert_checkout_works(sandbox)


def _assert_checkout_works(sandbox: Any) -> None:
    """One real order through the ingress once the fault is gone."""
    base = sandbox.endpoints["ingress"]
    cart = f"test-{time.time_ns()}"
    with httpx.Client(base_url=base, timeout=10) as http:
        assert http.post(f"/api/cart/{cart}/items", json={"product_id": 1, "qty": 1}).status_code < 400
        deadline = time.monotonic() + 20
        while (resp := http.post("/api/checkout", json={"cart_id": cart})).status_code != 200:
            assert time.monotonic() < deadline, resp.text
            time.sleep(0.5)


def test_partner_outage_fails_checkout_while_browsing_keeps_its_slo(workspace: Any, sandbox: Any) -> None:
    _wait_checkout_healthy(sandbox)
    exp = workspace.experiment("partner-outage", LOAD + """
slos:
  - {name: browsing, sli: step.product.success_ratio, objective: ">= 99%", window: fault, min_samples: 5}
  - {name: home, sli: step.home.success_ratio, objective: ">= 99%", window: fault, min_samples: 5}
  - {name: checkout, sli: step.checkout.success_ratio, objective: ">= 90%", window: fault}
timeline:
  baseline: 3s
  faults:
    - at: 0s
      partner-outage: {duration: 7s}
  recovery: 3s
""")
    workspace.harness("run", str(exp), check=1)
    slos = _slos(workspace.last_run())
    assert slos["browsing"]["passed"] is True and slos["home"]["passed"] is True
    assert slos["checkout"]["measured"] < 0.5
    _assert_clean(sandbox)
    _assert_checkout_works(sandbox)


# -- nothing left behind, however the run ends ------------------------------------------------------
EVERYTHING = """
slos: [{name: recovery, sli: recovery_time, objective: "<= 60s"}]
steady_state: {before: false, after: false}
timeline:
  baseline: 0s
  faults:
    - {at: 0s, db-latency: {latency: 100ms, stream: both, duration: 120s}}
    - {at: 0s, partner-outage: {duration: 120s}}
    - {at: 0s, pg-lock: {dbname: shop, table: orders, mode: EXCLUSIVE, duration: 120s}}
    - {at: 0s, pg-connection-exhaustion: {hold: 5, duration: 120s}}
    - {at: 0s, pg-slow-queries: {connections: 1, statement_timeout: 60s, duration: 120s}}
  recovery: 1s
"""
N_FAULTS = 5


def _wait_all_injected(workspace: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dirs = workspace.run_dirs()
        events = dirs[-1] / "events.jsonl" if dirs else None
        if events is not None and events.exists() and events.read_text().count('"fault.injected"') == N_FAULTS:
            return dirs[-1]
        time.sleep(0.2)
    raise AssertionError("faults never all injected")


def _assert_all_injected(sandbox: Any) -> None:
    state = _leftovers(sandbox)
    assert len(state["toxics"]) == 2 and state["disabled"] == ["payment-partner"], state
    assert state["orders_locks"] == 1 and state["sessions"] == 1 + 5 + 1, state


def test_sigint_reverts_every_database_fault(workspace: Any, sandbox: Any) -> None:
    proc = workspace.popen("run", str(workspace.experiment("db-sigint", EVERYTHING)))
    _wait_all_injected(workspace)
    _assert_all_injected(sandbox)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, (out, err)
    _assert_clean(sandbox)


def test_guard_abort_reverts_every_database_fault(workspace: Any, sandbox: Any) -> None:
    exp = workspace.experiment("db-guard", """
probes:
  - {name: never, every: 0.5s, timeout: 1s, http: {url: /no-such-page, expect_status: 299}}
safety:
  abort_when: [{sli: probe.never.error_ratio, above: 0.5, for: 3s}]
""" + EVERYTHING)
    proc = workspace.popen("run", str(exp))
    _wait_all_injected(workspace)
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 3, (out, err)
    assert "guard" in workspace.last_run()["aborted_by"]
    _assert_clean(sandbox)


def test_kill_9_then_rollback_leaves_nothing(workspace: Any, sandbox: Any) -> None:
    proc = workspace.popen("run", str(workspace.experiment("db-crash", EVERYTHING)))
    folder = _wait_all_injected(workspace)
    proc.kill()
    proc.wait(timeout=10)
    toxics, disabled = _proxy_state(sandbox)
    assert len(toxics) == 2 and disabled == ["payment-partner"]  # the proxy's state outlives the harness
    rb = workspace.harness("rollback", str(folder), check=0)
    assert "reverted" in rb.stdout
    _assert_clean(sandbox)
    undo = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    notes = [e["undo"].get("note", "") for e in undo if e["type"] == "fault.undo"]
    assert any("close when it exits" in n for n in notes)
    workspace.harness("rollback", str(folder), check=0)  # idempotent
