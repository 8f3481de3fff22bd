"""Kubernetes label and field selectors, parsed once and matched against plain-dict objects."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Matcher = Callable[[dict[str, Any]], bool]

_SET_RE = re.compile(r"^\s*(!?)([A-Za-z0-9_./-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ_RE = re.compile(r"^\s*([A-Za-z0-9_./-]+)\s*(==|=|!=)\s*([A-Za-z0-9_./-]*)\s*$")


class SelectorError(ValueError):
    """The selector string is malformed."""


def _split_terms(text: str) -> list[str]:
    terms, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        terms.append(cur)
    return [t for t in terms if t.strip()]


def _label_term(term: str) -> Callable[[dict[str, str]], bool]:
    m = _EQ_RE.match(term)
    if m:
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    m = _SET_RE.match(term)
    if not m:
        raise SelectorError(f"unable to parse requirement: {term!r}")
    neg, key, op, values = m.groups()
    if op:
        vals = {v.strip() for v in values.split(",") if v.strip()}
        if op == "in":
            return lambda labels: labels.get(key) in vals
        return lambda labels: labels.get(key) not in vals
    if neg:
        return lambda labels: key not in labels
    return lambda labels: key in labels


def parse_label_selector(text: str | None) -> Callable[[dict[str, str]], bool]:
    """Parse ``app=checkout,tier in (web),!canary`` into a predicate over a label dict."""
    if not text:
        return lambda labels: True
    terms = [_label_term(t) for t in _split_terms(text)]
    return lambda labels: all(t(labels) for t in terms)


def match_labels_selector(selector: dict[str, Any] | None) -> Callable[[dict[str, str]], bool]:
    """A ``LabelSelector`` object (matchLabels + matchExpressions) as a predicate."""
    if not selector:
        return lambda labels: True
    preds: list[Callable[[dict[str, str]], bool]] = []
    for k, v in (selector.get("matchLabels") or {}).items():
        preds.append(_label_pred(k, "In", {v}))
    for expr in selector.get("matchExpressions") or []:
        preds.append(_label_pred(expr["key"], expr["operator"], set(expr.get("values") or [])))
    return lambda labels: all(p(labels) for p in preds)


def _label_pred(key: str, op: str, vals: set[str]) -> Callable[[dict[str, str]], bool]:
    def pred(labels: dict[str, str]) -> bool:
        if op == "In":
            return labels.get(key) in vals
        if op == "NotIn":
            return labels.get(key) not in vals
        if op == "Exists":
            return key in labels
        return key not in labels  # DoesNotExist

    return pred


def _field_pred(path: str, negate: bool, value: str) -> Matcher:
    def pred(obj: dict[str, Any]) -> bool:
        return (_field_value(obj, path) == value) != negate

    return pred


def _field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return "" if cur is None else str(cur)


def parse_field_selector(text: str | None) -> Matcher:
    """Parse ``spec.nodeName=node-1,status.phase!=Failed`` into a predicate over an object."""
    if not text:
        return lambda obj: True
    preds: list[Matcher] = []
    for term in _split_terms(text):
        m = _EQ_RE.match(term)
        if not m:
            raise SelectorError(f"invalid field selector: {term!r}")
        path, op, value = m.groups()
        preds.append(_field_pred(path, op == "!=", value))
    return lambda obj: all(p(obj) for p in preds)
