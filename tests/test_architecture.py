"""The layout holds: what README "Architecture" promises is checked here, not hoped for.

- at most six modules directly under `bot/`;
- imports between `bot/`'s folders go one way, down the layers README "Architecture" draws
  (so there is no cycle between them either);
- every module under 400 lines;
- handlers import no storage: they read the update, call a service, render, send;
- no SQL outside `storage/`: any string literal in `bot/` that begins a statement fails.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOT = ROOT / "bot"
MAX_LINES = 400
MAX_TOP_MODULES = 6

# README "Architecture": a folder may import those in the layers below it, and those in its
# own layer only where SIDEWAYS says so.
LAYERS = (
    {"cli"},
    {"app"},
    {"telegram"},
    {"flows", "lesson_study", "digest"},
    {"meetings", "summaries", "reflections", "programme"},
    {"people", "scheduling"},
    {"config", "clock", "texts", "buttons", "standin", "logs", "collector"},
)
SIDEWAYS = {("lesson_study", "flows"), ("summaries", "meetings")}

SQL_START = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|CREATE|DROP|ALTER|PRAGMA|BEGIN|COMMIT|ROLLBACK"
    r"|SAVEPOINT|RELEASE|REPLACE|VACUUM|ATTACH|DETACH|ANALYZE|REINDEX)\s",
)


def modules(*roots: Path) -> Iterator[Path]:
    for root in roots:
        yield from sorted(root.rglob("*.py"))


def dotted(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> Iterator[str]:
    """Every module `path` imports, at the top, inside functions, or for type checking."""
    here = dotted(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield module
            for alias in node.names:  # `from bot.digest import charts` imports a module
                yield f"{module}.{alias.name}"


def area(module: str) -> str | None:
    """The folder (or top-level module) of `bot` a module belongs to."""
    parts = module.split(".")
    if parts[0] != "bot" or len(parts) < 2:
        return None
    candidate = BOT / parts[1]
    if candidate.is_dir() or candidate.with_suffix(".py").exists():
        return parts[1]
    return None


def area_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in modules(BOT):
        source = area(dotted(path))
        if source is None:
            continue
        targets = graph.setdefault(source, set())
        for imported in imports_of(path):
            target = area(imported)
            if target is not None and target != source:
                targets.add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def sql_literals(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        elif isinstance(node, ast.JoinedStr):
            first = node.values[0] if node.values else None
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                continue
            text = first.value
        else:
            continue
        if SQL_START.match(text):
            yield node.lineno, text.strip().splitlines()[0][:60]


def test_few_modules_directly_under_bot() -> None:
    top = sorted(p.name for p in BOT.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= MAX_TOP_MODULES, top


def test_no_import_cycle_between_areas_of_bot() -> None:
    graph = area_graph()
    assert {"app", "telegram", "flows", "cli"} <= graph.keys()  # the scan sees the folders
    assert cycles(graph) == []


def test_imports_go_down_the_layers() -> None:
    layer = {name: depth for depth, names in enumerate(LAYERS) for name in names}
    graph = area_graph()
    assert set(graph) == set(layer), "every folder of bot/ has its place in LAYERS"
    upwards = sorted(
        f"{source} -> {target}"
        for source, targets in graph.items()
        for target in targets
        if layer[target] < layer[source]
        or (layer[target] == layer[source] and (source, target) not in SIDEWAYS)
    )
    assert upwards == []
    assert graph["standin"] == set()  # Telegram as the tests meet it knows nothing of the bot


def test_every_module_is_under_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in modules(BOT, ROOT / "storage", ROOT / "prompts")
        if (lines := len(path.read_text().splitlines())) >= MAX_LINES
    }
    assert long == {}


def test_handlers_import_no_storage() -> None:
    reaching = {
        str(path.relative_to(ROOT)): sorted(
            {name for name in imports_of(path) if name.split(".")[0] == "storage"}
        )
        for path in modules(BOT / "telegram" / "handlers")
    }
    assert {path: names for path, names in reaching.items() if names} == {}


def test_no_sql_outside_storage() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text}"
        for path in modules(BOT, ROOT / "prompts")
        for line, text in sql_literals(path)
    ]
    assert found == []


def test_the_sql_scan_sees_sql() -> None:
    """The scan itself: a statement in a plain or f-string literal is found; prose is not."""
    sample = ROOT / "storage" / "people.py"
    assert list(sql_literals(sample)), "storage/people.py has SQL: the scan must see it"
    assert SQL_START.match("SELECT role FROM person_role")
    assert SQL_START.match("\n    UPDATE person SET lang = ?")
    assert not SQL_START.match("Select a time for the meeting")
    assert not SQL_START.match("UPDATED")
