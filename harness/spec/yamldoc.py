"""YAML with line numbers: parse once into (node tree, data), find the line of a field path, and
substitute ``${env:NAME}`` placeholders (reporting unset variables by name, never by value).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import InvalidExperiment, Problem

ENV_RE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
Loc = tuple[int | str, ...]


def format_loc(loc: Loc) -> str:
    """``("timeline", "faults", 0, "pod-kill")`` -> ``timeline.faults[0].pod-kill``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class YamlDoc:
    """A parsed YAML document: its node tree (for lines) and its plain data."""

    file: str
    node: yaml.Node | None
    data: Any

    def line_of(self, loc: Loc) -> int | None:
        """1-based line of the deepest existing node along ``loc`` (the key's line for mappings)."""
        node, line = self.node, (self.node.start_mark.line + 1 if self.node else None)
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if key.value == str(part):
                        node, line = value, key.start_mark.line + 1
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
        return line

    def problem(self, loc: Loc, message: str, hint: str | None = None) -> Problem:
        """A Problem at ``loc`` of this document."""
        return Problem(self.file, self.line_of(loc), format_loc(loc), message, hint)


def parse_yaml(text: str, file: str) -> tuple[YamlDoc | None, list[Problem]]:
    """Parse ``text``; on a syntax error return one Problem with the error's line."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        if exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
            what += f" (the construct started on line {exc.context_mark.line + 1})"
        hint = "quote values that start with >, <, :, { or [, e.g. objective: \">= 99%\""
        return None, [Problem(file, line, "", f"invalid YAML: {what}", hint)]
    except yaml.YAMLError as exc:
        return None, [Problem(file, None, "", f"invalid YAML: {exc}")]
    return YamlDoc(file, node, data), []


def _walk(node: yaml.Node | None, loc: Loc) -> Iterator[tuple[yaml.Node, Loc]]:
    if node is None:
        return
    yield node, loc
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _walk(value, (*loc, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _walk(item, (*loc, i))


def duplicate_keys(doc: YamlDoc, root: Loc = ()) -> list[Problem]:
    """A Problem for every key written twice in the same mapping (YAML keeps only the last)."""
    problems = []
    for node, loc in _walk(doc.node, root):
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, _ in node.value:
                if key.value in seen:
                    line = key.start_mark.line + 1
                    msg = f"key `{key.value}` appears twice; only the last one would count"
                    problems.append(Problem(doc.file, line, format_loc((*loc, key.value)), msg, "remove one"))
                seen.add(key.value)
    return problems


def unset_env(doc: YamlDoc, environ: Mapping[str, str], root: Loc = ()) -> list[Problem]:
    """A Problem (naming the variable, on its line) for every ``${env:NAME}`` with NAME unset."""
    node = doc.node
    for part in root:
        found = [v for k, v in node.value if k.value == part] if isinstance(node, yaml.MappingNode) else []
        node = found[0] if found else None
    problems = []
    for sub, loc in _walk(node, root):
        if isinstance(sub, yaml.ScalarNode) and isinstance(sub.value, str):
            for name in ENV_RE.findall(sub.value):
                if name not in environ:
                    msg = f"environment variable `{name}` is not set"
                    problems.append(Problem(doc.file, sub.start_mark.line + 1, format_loc(loc), msg,
                                            f"export {name}=... before running"))
    return problems


def substitute_env(data: Any, environ: Mapping[str, str], secrets: set[str]) -> Any:
    """``data`` with every ``${env:NAME}`` replaced by its value (unset ones left as written).

    Every substituted non-empty value is added to ``secrets`` so reports can redact it.
    """
    if isinstance(data, str):
        def repl(match: re.Match[str]) -> str:
            value = environ.get(match.group(1))
            if value is None:
                return match.group(0)
            if value:
                secrets.add(value)
            return value

        return ENV_RE.sub(repl, data)
    if isinstance(data, dict):
        return {k: substitute_env(v, environ, secrets) for k, v in data.items()}
    if isinstance(data, list):
        return [substitute_env(v, environ, secrets) for v in data]
    return data


def read_yaml(path: Path, what: str = "the file") -> YamlDoc:
    """``path`` read and parsed with line numbers; InvalidExperiment (file:line) when it cannot be read
    or is not YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidExperiment([Problem(str(path), None, "", f"cannot read {what}: {exc}")]) from exc
    doc, problems = parse_yaml(text, str(path))
    if doc is None:
        raise InvalidExperiment(problems)
    return doc
