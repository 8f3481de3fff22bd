"""The sandbox API's request log says what the RBAC authorizer would decide on."""

from __future__ import annotations

from pathlib import Path

from harness.sandbox.kube.requestlog import RequestLog, describe, read_requests


def test_resource_requests_name_verb_group_resource_and_namespace() -> None:
    assert describe("PATCH", "/apis/apps/v1/namespaces/shop/deployments/catalog/scale", {}) == {
        "verb": "patch", "group": "apps", "resource": "deployments/scale", "namespace": "shop", "name": "catalog"}
    assert describe("GET", "/api/v1/pods", {"fieldSelector": "spec.nodeName=n"}) == {
        "verb": "list", "group": "", "resource": "pods", "namespace": None, "name": None}
    assert describe("GET", "/api/v1/namespaces/shop/pods", {"watch": "true"})["verb"] == "watch"
    assert describe("POST", "/api/v1/namespaces/shop/pods/p-1/eviction", {})["resource"] == "pods/eviction"
    assert describe("GET", "/api/v1/nodes/n-1", {})["namespace"] is None


def test_other_requests_name_their_url() -> None:
    assert describe("GET", "/version/", {}) == {"verb": "get", "url": "/version/"}
    assert describe("GET", "/apis/apps/v1", {}) == {"verb": "get", "url": "/apis/apps/v1"}
    assert describe("GET", "/api/v1/widgets", {}) == {"verb": "get", "url": "/api/v1/widgets"}


def test_the_log_is_json_lines(tmp_path: Path) -> None:
    log = RequestLog(tmp_path / "requests.jsonl")
    log.record(1.0, "DELETE", "/api/v1/namespaces/shop/pods/p", {}, 200, "kubectl/v1.32")
    log.close()
    log.record(2.0, "GET", "/version", {}, 200, "late")  # after close: ignored
    assert read_requests(tmp_path / "requests.jsonl") == [
        {"ts": 1.0, "verb": "delete", "group": "", "resource": "pods", "namespace": "shop", "name": "p", "code": 200,
         "agent": "kubectl/v1.32"}]
    assert read_requests(tmp_path / "none.jsonl") == []
