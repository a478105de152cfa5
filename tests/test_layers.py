"""The engine is a house of floors (DESIGN.md): every import runs to the same floor or down, no file imports itself
round a circle, and no module grows past 500 lines. The floors, lowest first:

errors -> validation -> common (the predictions table, labels, runners, names) -> config -> cohort, store -> stats ->
selection, features -> models -> views (what a stored run shows) -> pipeline (a study's steps), plots -> report ->
cli. The dashboard sits above them all.
"""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "engine"
FLOORS = [
    {"engine", "engine.errors"},
    {"engine.validation"},
    {"engine.common"},
    {"engine.config"},
    {"engine.cohort", "engine.store"},
    {"engine.stats"},
    {"engine.selection", "engine.features"},
    {"engine.models"},
    {"engine.views"},
    {"engine.pipeline", "engine.plots"},
    {"engine.report"},
    {"engine.cli", "engine.__main__"},
]
FLOOR = {room: level for level, rooms in enumerate(FLOORS) for room in rooms}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ENGINE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def room(module: str) -> str:
    """engine.<package> for a module inside a package, else the module itself (engine.cli, engine.config)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else module


def imports() -> dict[str, set[str]]:
    """Module -> the engine modules it imports, wherever in the file (function-level imports count)."""
    found: dict[str, set[str]] = {}
    for path in ENGINE.rglob("*.py"):
        module = module_name(path)
        targets = found.setdefault(module, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "engine":
                targets.add(node.module)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.split(".")[0] == "engine")
    return found


def test_every_room_has_a_floor():
    rooms = {room(m) for m in imports()}
    assert rooms <= set(FLOOR), f"rooms without a floor in FLOORS: {sorted(rooms - set(FLOOR))}"


def test_no_import_runs_up_a_floor():
    upward = [
        f"{module} -> {target}"
        for module, targets in imports().items()
        for target in targets
        if FLOOR[room(target)] > FLOOR[room(module)]
    ]
    assert not upward, "imports running up a floor:\n" + "\n".join(sorted(upward))


def test_no_file_imports_itself_round_a_circle():
    graph = {m: {t for t in targets if t in imports_cache and t != m} for m, targets in imports_cache.items()}
    state: dict[str, int] = {}
    circles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                circles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_no_module_over_500_lines():
    long = {
        module_name(p): n for p in ENGINE.rglob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert not long, f"modules over 500 lines (split them by what they do): {long}"


imports_cache = imports()
