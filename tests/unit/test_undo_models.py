"""Undo records are typed: refused when written if malformed, parsed back into their models when read
(records journaled before ``action`` existed too), and a record that fits no model is reported by the
revert without stopping the others."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import ValidationError

from harness.events import Event
from harness.faults.base import FaultEnv, fault_class, revert_pending
from harness.faults.undo import (
    DeleteFirewall,
    EnableProxy,
    NothingToUndo,
    PodsKilled,
    RemoveToxic,
    RestoreScale,
    StartInstance,
    TerminateSessions,
    Uncordon,
    Unfreeze,
    Unreadable,
    Untag,
    read_undo,
    undo_record,
)


@dataclass
class Scales:
    """A stand-in for the Kubernetes scale subresource (the deployment-scale fault's two calls)."""

    replicas: dict[str, Any] = field(default_factory=dict)
    writes: list[tuple[str, int]] = field(default_factory=list)

    def get_scale(self, namespace: str, name: str) -> Any:
        return self.replicas[name]

    def set_scale(self, namespace: str, name: str, replicas: int) -> None:
        self.writes.append((name, replicas))
        self.replicas[name] = replicas


@dataclass
class Pending:
    id: str
    kind: str
    undo: list[dict[str, Any]]


def _scale_fault(kube: Scales, events: list[tuple[str, dict[str, Any]]]) -> Any:
    env = FaultEnv(kube=kube, record=lambda type_, **fields: events.append((type_, fields)))
    cls = fault_class("deployment-scale")
    params = cls.Params.model_validate({"namespace": "shop", "name": "cart", "replicas": 0, "duration": "5s"})
    return cls("scale", params, env)


def test_a_malformed_record_raises_before_the_fault_acts() -> None:
    kube, events = Scales({"cart": None}), []  # an API that answers no replica count
    fault = _scale_fault(kube, events)
    with pytest.raises(ValidationError, match="replicas"):
        asyncio.run(fault.inject())
    assert kube.writes == [] and events == [] and fault._undo == []
    with pytest.raises(ValidationError):  # a record built without validation is validated when written
        fault.record_undo(RestoreScale.model_construct(namespace="shop", name="cart", replicas=-1))
    assert events == [] and fault._undo == []


def test_records_are_journaled_with_their_action_and_without_passwords() -> None:
    kube, events = Scales({"cart": 3}), []
    fault = _scale_fault(kube, events)
    asyncio.run(fault.inject())
    assert events == [(Event.FAULT_UNDO, {"id": "scale", "kind": "deployment-scale", "undo": {
        "action": "restore-scale", "namespace": "shop", "name": "cart", "replicas": 3}})]
    assert kube.writes == [("cart", 0)]
    fault.record_undo(TerminateSessions(dsn="postgresql://u:hunter2@db/shop", application_name="harness-x"))
    assert "hunter2" not in str(events[-1]) and fault._undo[-1].dsn == "postgresql://u@db/shop"


LEGACY = [  # every shape journaled before records carried `action`
    ({"namespace": "shop", "killed": ["p1"], "note": "replaced by their controller"}, PodsKilled),
    ({"namespace": "shop", "name": "cart", "replicas": 3}, RestoreScale),
    ({"action": "uncordon", "node": "n1"}, Uncordon),
    ({"action": "start", "zone": "z", "instance": "vm", "deadline": 120.0}, StartInstance),
    ({"action": "untag", "zone": "z", "instance": "vm", "tag": "t", "deadline": 60.0}, Untag),
    ({"action": "delete-firewall", "firewall": "fw", "deadline": 60.0}, DeleteFirewall),
    ({"dsn": "host=db user=u", "application_name": "harness-a", "note": "held"}, TerminateSessions),
    ({"note": "terminated sessions are not restored: their clients reconnect"}, NothingToUndo),
    ({"uri": "mongodb://h/", "member": "h:1", "unfreeze": True, "timeout": 5.0, "until": 1.5, "note": "n"}, Unfreeze),
    ({"proxy": "postgres", "toxic": "harness-x"}, RemoveToxic),
    ({"proxy": "postgres", "enable": True}, EnableProxy),
]


@pytest.mark.parametrize(("data", "model"), LEGACY, ids=[m.__name__ for _, m in LEGACY])
def test_journaled_records_parse_into_their_models(data: dict[str, Any], model: type[Any]) -> None:
    rec = undo_record(data)
    assert type(rec) is model
    assert undo_record(rec.model_dump(mode="json")) == rec  # what is written reads back the same


def test_records_that_fit_no_model_are_unreadable() -> None:
    bad = [{"action": "unplug", "node": "n"}, {"proxy": "p"}, {"namespace": "shop", "name": "cart", "replicas": "x"}]
    read = read_undo(bad)
    assert all(isinstance(r, Unreadable) for r in read)
    assert [r.describe() for r in read if isinstance(r, Unreadable)] == [f"unknown undo record {b!r}" for b in bad]


def test_revert_pending_reverts_what_it_can_and_records_each_outcome() -> None:
    kube, events = Scales({"cart": 0}), []
    env = FaultEnv(kube=kube, record=lambda type_, **fields: events.append((type_, fields)))
    bad = {"namespace": "shop", "name": "cart", "replicas": "many"}
    pending = [Pending("scale", "deployment-scale", [{"namespace": "shop", "name": "cart", "replicas": 3}, bad]),
               Pending("kill", "pod-kill", [{"namespace": "shop", "killed": ["p1"]}])]
    failed = asyncio.run(revert_pending(pending, env, by="rollback"))
    assert kube.writes == [("cart", 3)]  # the readable record was undone
    assert [(pf.id, exc.still_injected) for pf, exc in failed] == [("scale", [f"unknown undo record {bad!r}"])]
    assert [(t, f["id"]) for t, f in events] == [(Event.FAULT_REVERTED, "kill"), (Event.FAULT_REVERT_FAILED, "scale")]
