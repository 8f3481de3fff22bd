"""The ``prometheus`` probe against the session sandbox's real Prometheus (which scrapes every shop pod).

Each test builds the probe as a run does (validated params, a ProbeEnv carrying the target's
Prometheus URL) and observes once over real HTTP on 127.0.0.1; the last one runs an experiment end to
end, so ``probe.<name>.success_ratio`` over a prometheus probe is a PromQL SLI in run.json.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from harness.clients.connect import resolve_connection
from probes.base import Observation, ProbeEnv
from probes.env import probe_env
from probes.prometheus import PrometheusProbe, PrometheusProbeParams

SHOP_UP = 'count(up{job="shop"} == 1)'
ALL_UP = 'min(up{job="shop"})'  # 1 once every scraped shop pod answered its last scrape


def _value(url: str, query: str) -> float | None:
    try:
        resp = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=2)
    except httpx.HTTPError:
        return None
    result = resp.json().get("data", {}).get("result") or [] if resp.status_code == 200 else []
    return float(result[0]["value"][1]) if result else None


def _scraped(url: str, pods: int) -> bool:
    """Every shop pod is a target, up, and exporting: pods another test replaced are found again."""
    return (_value(url, ALL_UP) == 1 and _value(url, SHOP_UP) == pods
            and _value(url, 'count(http_requests_in_flight{job="shop"})') == pods)


@pytest.fixture(scope="module")
def prom_url(sandbox: Any) -> str:
    """The sandbox's Prometheus, once it has scraped every shop pod up (bounded wait)."""
    url = sandbox.endpoints.get("prometheus")
    if not url:
        pytest.skip("the sandbox runs no Prometheus (no `prometheus` binary on PATH, or prometheus: false)")
    sandbox.wait_deployments_ready()
    kube = sandbox.kube()
    try:
        pods = sum(d["spec"]["replicas"] for d in kube.list_deployments("shop"))
    finally:
        kube.close()
    deadline = time.monotonic() + 60
    while not _scraped(url, pods):
        if time.monotonic() > deadline:
            raise AssertionError(f"Prometheus at {url} had not scraped every shop pod up after 60 s")
        time.sleep(0.5)
    return str(url)


def observe(params: dict[str, Any], prometheus_url: str | None, timeout: float = 2.0) -> Observation:
    """One observation of a prometheus probe built as a run builds it."""
    model = PrometheusProbeParams.model_validate(params)
    probe = PrometheusProbe("prom", model, ProbeEnv(extra={"prometheus_url": prometheus_url}), timeout)

    async def once() -> Observation:
        try:
            return await probe.observe()
        finally:
            await probe.close()

    return asyncio.run(once())


@pytest.fixture
def dead_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is bound but never listens: connecting is refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def test_a_query_that_holds_passes(prom_url):
    obs = observe({"query": SHOP_UP, "objective": ">= 1"}, prom_url)
    assert obs.ok, obs.detail
    assert obs.detail == "1 series >= 1"
    assert obs.latency_ms is not None and obs.latency_ms > 0


def test_a_metric_the_pods_export(prom_url):
    obs = observe({"query": 'count(http_requests_in_flight{job="shop"})', "objective": ">= 3"}, prom_url)
    assert obs.ok, obs.detail


def test_a_threshold_that_fails_names_value_and_objective(prom_url):
    obs = observe({"query": SHOP_UP, "objective": "< 1"}, prom_url)
    assert not obs.ok
    assert obs.detail.startswith("value ") and obs.detail.endswith(", expected < 1"), obs.detail
    assert float(obs.detail.removeprefix("value ").split(",")[0]) >= 1


def test_every_series_must_meet_the_objective(prom_url):
    holds = observe({"query": 'up{job="shop"}', "objective": ">= 1"}, prom_url)
    assert holds.ok and holds.detail.endswith("series, all >= 1"), holds.detail
    fails = observe({"query": 'up{job="shop"}', "objective": "> 1"}, prom_url)
    assert not fails.ok
    count = holds.detail.split()[0]
    assert fails.detail.startswith(f"{count} of {count} series fail > 1, worst 1: up{{"), fails.detail
    assert 'job="shop"' in fails.detail and len(fails.detail) <= 300, fails.detail
    query = {"query": 'max by (service) (up{job="shop",service="catalog"})', "objective": "< 1"}
    deadline = time.monotonic() + 30  # catalog pods another test replaced may not be scraped yet
    while (one := observe(query, prom_url)).detail.startswith("no series") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert one.detail == 'value 1, expected < 1: {service="catalog"}', one.detail


def test_no_objective_passes_on_any_sample(prom_url):
    assert observe({"query": 'up{job="shop"}'}, prom_url).ok


def test_no_series_is_a_failed_observation(prom_url):
    obs = observe({"query": 'up{job="no-such-job"}', "objective": ">= 1"}, prom_url)
    assert not obs.ok and obs.detail.startswith("no series"), obs.detail
    assert observe({"query": 'up{job="no-such-job"} or vector(0)', "objective": "== 0"}, prom_url).ok


def test_a_malformed_query_fails_with_prometheus_error_text(prom_url):
    obs = observe({"query": 'sum(up{job="shop"'}, prom_url)
    assert not obs.ok
    assert obs.detail.startswith("Prometheus 400 bad_data: "), obs.detail
    assert "parse error" in obs.detail, obs.detail


def test_scalars_nan_and_range_vectors(prom_url):
    assert observe({"query": f"scalar({SHOP_UP})", "objective": ">= 1"}, prom_url).detail == "scalar >= 1"
    nan = observe({"query": "0/0", "objective": ">= 0"}, prom_url)
    assert not nan.ok and nan.detail == "value NaN, expected >= 0"
    ranged = observe({"query": 'up{job="shop"}[1m]'}, prom_url)
    assert not ranged.ok and "range vector" in ranged.detail
    text = observe({"query": '"hello"'}, prom_url)
    assert not text.ok and text.detail == "the query returns a string, not a number"


def test_an_unreachable_prometheus_fails(dead_port):
    obs = observe({"query": "up"}, f"http://127.0.0.1:{dead_port}")
    assert not obs.ok
    assert obs.detail.startswith(f"Prometheus at http://127.0.0.1:{dead_port} unreachable: ConnectError"), obs.detail


def test_a_prometheus_that_never_answers_times_out():
    with socket.socket() as sock:  # listens (the kernel accepts) but never reads nor answers
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        obs = observe({"query": "up"}, url, timeout=0.3)
    assert not obs.ok and obs.timed_out and obs.latency_ms == 300.0
    assert obs.detail == f"Prometheus at {url} did not answer within 0.3s (ReadTimeout)", obs.detail


def test_the_probe_url_overrides_the_target(prom_url, dead_port):
    obs = observe({"query": "up", "url": f"http://127.0.0.1:{dead_port}/"}, prom_url)
    assert not obs.ok and "unreachable" in obs.detail
    assert observe({"query": SHOP_UP, "url": prom_url}, None).ok


def test_something_that_is_not_prometheus(sandbox):
    obs = observe({"query": "up"}, sandbox.endpoints["ingress"])
    assert not obs.ok and obs.detail.startswith("Prometheus answered HTTP 404"), obs.detail


def test_no_prometheus_url_at_all():
    obs = observe({"query": "up"}, None)
    assert not obs.ok and obs.detail == "no Prometheus URL: give `url` or set the target's prometheus_url"


def test_params_are_checked_at_validation():
    assert PrometheusProbeParams.model_validate({"query": "x", "objective": "<= 800ms"}).objective.value == 0.8
    with pytest.raises(ValidationError, match=r"objective: '>= 1'"):
        PrometheusProbeParams.model_validate({"query": "up", "min": 1})
    with pytest.raises(ValidationError, match="absolute http"):
        PrometheusProbeParams.model_validate({"query": "up", "url": "prometheus:9090"})
    with pytest.raises(ValidationError, match="empty"):
        PrometheusProbeParams.model_validate({"query": "  "})


def test_probe_env_carries_the_targets_prometheus_url(sandbox):
    target = SimpleNamespace(kind="sandbox", endpoints_file=str(sandbox.dir / "endpoints.json"))
    env = probe_env(resolve_connection(target), kube=object())
    assert env.extra["prometheus_url"] == sandbox.endpoints["prometheus"]


@pytest.mark.e2e
def test_promql_slis_end_to_end(workspace, prom_url):
    exp = workspace.experiment("promql-slis", f"""
probes:
  - {{name: shop-up, every: 0.5s, timeout: 2s, prometheus: {{query: '{SHOP_UP}', objective: ">= 1"}}}}
  - {{name: gone, every: 0.5s, timeout: 2s, prometheus: {{query: 'up{{job="no-such-job"}}'}}}}
slos:
  - {{name: shop-scraped, sli: probe.shop-up.success_ratio, objective: ">= 99%", min_samples: 5}}
  - {{name: gone-found, sli: probe.gone.success_ratio, objective: ">= 99%", min_samples: 5}}
steady_state: {{before: false, after: false}}
timeline:
  baseline: 3s
  faults: []
  recovery: 1s
""")
    workspace.harness("run", str(exp), check=1)
    slos = {s["name"]: s for s in workspace.last_run()["slos"]}
    assert slos["shop-scraped"]["passed"] and slos["shop-scraped"]["measured"] == 1.0, slos["shop-scraped"]
    assert not slos["gone-found"]["passed"] and slos["gone-found"]["measured"] == 0.0, slos["gone-found"]
    events = [json.loads(line) for line in (workspace.run_dirs()[-1] / "events.jsonl").read_text().splitlines()]
    changed = [e for e in events if e["type"] == "probe.changed" and e.get("probe") == "gone"]
    assert changed and changed[0]["detail"].startswith("no series"), changed
