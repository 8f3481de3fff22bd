"""Journey step names, read from a Locust journeys file WITHOUT importing it (Locust monkey-patches on
import; only ``harness.load`` may import it).

A journeys file declares its steps in a module-level literal, one name per request ``name=``:

    STEPS = ("home", "search", "product", "cart.add", "checkout")

    declared_steps(path)    -> the STEPS tuple (raises StepsUndeclared with a hint on how to declare it)
    requested_steps(path)   -> every literal ``name=`` given to an HTTP call in the file (for drift tests)
    catalogue_steps()       -> {journeys file: steps} for every file in probes/journeys/
"""

from __future__ import annotations

import ast
from pathlib import Path

STEPS_NAME = "STEPS"
HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options", "request", "rest"})
CATALOGUE = Path(__file__).resolve().parents[2] / "probes" / "journeys"
HOW_TO_DECLARE = (
    'declare them at module level, one per request `name=`: STEPS = ("home", "cart.add", "checkout") '
    "(the harness reads the literal without importing the file)"
)


class StepsUndeclared(ValueError):
    """A journeys file has no readable STEPS declaration; ``hint`` says how to write one."""

    def __init__(self, message: str, hint: str = HOW_TO_DECLARE) -> None:
        super().__init__(message)
        self.hint = hint


def _module(path: Path, shown: str) -> ast.Module:
    try:
        return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise StepsUndeclared(f"cannot read journeys file {shown}: {exc}", "check the path") from exc
    except SyntaxError as exc:
        raise StepsUndeclared(f"journeys file {shown} is not valid Python (line {exc.lineno}): {exc.msg}",
                              "fix the syntax error") from exc


def _steps_value(module: ast.Module) -> ast.expr | None:
    """The value assigned to STEPS at module level (the last assignment wins, as at run time)."""
    found = None
    for node in module.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == STEPS_NAME for t in node.targets):
            found = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == STEPS_NAME:
            found = node.value
    return found


def _literal_names(value: ast.expr, path: str) -> tuple[str, ...]:
    try:
        names = ast.literal_eval(value)
    except ValueError as exc:
        raise StepsUndeclared(f"{STEPS_NAME} in {path} (line {value.lineno}) is not a literal") from exc
    if not isinstance(names, tuple | list) or not all(isinstance(n, str) and n for n in names):
        raise StepsUndeclared(f"{STEPS_NAME} in {path} (line {value.lineno}) must be a tuple of non-empty strings")
    if not names:
        raise StepsUndeclared(f"{STEPS_NAME} in {path} (line {value.lineno}) is empty")
    return tuple(dict.fromkeys(names))


def declared_steps(path: Path, shown: str | None = None) -> tuple[str, ...]:
    """The step names ``path`` declares in its module-level ``STEPS`` literal, in declared order;
    ``shown`` is how error messages name the file (default: the path)."""
    shown = shown or str(path)
    value = _steps_value(_module(path, shown))
    if value is None:
        raise StepsUndeclared(f"journeys file {shown} does not declare its step names ({STEPS_NAME})")
    return _literal_names(value, shown)


def _request_name(call: ast.Call) -> ast.expr | None:
    if not (isinstance(call.func, ast.Attribute) and call.func.attr in HTTP_METHODS):
        return None
    return next((kw.value for kw in call.keywords if kw.arg == "name"), None)


def requested_steps(path: Path) -> list[str | None]:
    """The ``name=`` of every HTTP call in ``path`` (``client.get(..., name="home")``); None for a name
    that is not a string literal (it cannot be declared, so a drift test should fail on it)."""
    names: list[str | None] = []
    for node in ast.walk(_module(path, str(path))):
        value = _request_name(node) if isinstance(node, ast.Call) else None
        if value is not None:
            literal = value.value if isinstance(value, ast.Constant) else None
            names.append(literal if isinstance(literal, str) else None)
    return names


def catalogue_steps(folder: Path = CATALOGUE) -> dict[str, tuple[str, ...]]:
    """``{"probes/journeys/<file>.py": steps}`` (paths as written in ``load.journeys``) for every journeys
    file in ``folder`` that declares its steps."""
    found: dict[str, tuple[str, ...]] = {}
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        try:
            found[path.relative_to(folder.parent.parent).as_posix()] = declared_steps(path)
        except StepsUndeclared:
            continue
    return found
