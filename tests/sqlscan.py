"""Finds SQL statements assembled from anything but constant text, by reading the source.

A statement is any first argument (or the argument a SQL-taking helper passes on) of a call
to execute, executemany, executescript, fetchall, fetchone, fetchval or execute_fetchall.
It is *constant* when it can be traced, inside the module (and through `from storage.x import
NAME`), to string literals only: literals, f-strings and `+` of constants, `"?" * n`
placeholders, `sep.join(...)` of constants, a local or module name every assignment (and
`.append`) of which is constant, a loop variable over a constant collection, an `if`-chosen
constant. Function parameters, attributes, call results and loop variables over anything else
are not constant.

A function whose statement is one of its own parameters (the Database wrappers, roster's
`_changed`) becomes a SQL-taking helper in turn: its callers' argument is checked instead.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SINKS = (
    "execute",
    "executemany",
    "executescript",
    "fetchall",
    "fetchone",
    "fetchval",
    "execute_fetchall",
)
JOINERS = frozenset({"tuple", "list", "sorted", "frozenset", "set"})


@dataclass(frozen=True, slots=True)
class Finding:
    path: str  # relative to the repository root
    function: str  # qualified: Class.method, or <module>
    line: int
    call: str
    statement: str


@dataclass
class _Scope:
    """Names assigned in one function (or the module): every value each may take."""

    values: dict[str, list[ast.expr]] = field(default_factory=dict)
    loops: dict[str, list[ast.expr]] = field(default_factory=dict)  # name -> iterables
    params: set[str] = field(default_factory=set)
    parent: _Scope | None = None


class _Module:
    def __init__(self, path: Path, modules: dict[Path, _Module]) -> None:
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"))
        self.modules = modules
        self.imports: dict[str, tuple[Path, str]] = {}
        self.scope = _Scope()
        for node in self.tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                target = ROOT.joinpath(*node.module.split(".")).with_suffix(".py")
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = (target, alias.name)
        _collect(self.tree.body, self.scope)

    def module_name(self, name: str, seen: frozenset[int]) -> bool | None:
        """Whether a module-level name is constant; None if this module does not define it."""
        if name in self.scope.values:
            return all(self.constant(v, self.scope, seen) for v in self.scope.values[name])
        if name in self.imports:
            path, original = self.imports[name]
            if not path.exists():
                return False
            if path not in self.modules:
                self.modules[path] = _Module(path, self.modules)
            found = self.modules[path].module_name(original, seen)
            return bool(found)
        return None

    def constant(self, node: ast.expr, scope: _Scope, seen: frozenset[int] = frozenset()) -> bool:
        if id(node) in seen:
            return True  # a cycle adds nothing new: judged by its other values
        seen = seen | {id(node)}
        match node:
            case ast.Constant(value=str() | int() | float() | None):
                return True
            case ast.JoinedStr(values=parts):
                return all(
                    self.constant(p.value, scope, seen)
                    if isinstance(p, ast.FormattedValue)
                    else True
                    for p in parts
                )
            case ast.FormattedValue(value=inner):
                return self.constant(inner, scope, seen)
            case ast.BinOp(left=left, op=ast.Add(), right=right):
                return self.constant(left, scope, seen) and self.constant(right, scope, seen)
            case ast.BinOp(left=ast.Constant(value=str()), op=ast.Mult()):
                return True  # "?" * len(ids): placeholders, however many
            case ast.IfExp(body=body, orelse=orelse):
                return self.constant(body, scope, seen) and self.constant(orelse, scope, seen)
            case ast.Tuple(elts=elts) | ast.List(elts=elts) | ast.Set(elts=elts):
                return all(
                    self.constant(e.value if isinstance(e, ast.Starred) else e, scope, seen)
                    for e in elts
                )
            case (
                ast.GeneratorExp(elt=elt, generators=gens)
                | ast.ListComp(elt=elt, generators=gens)
                | ast.SetComp(elt=elt, generators=gens)
            ):
                inner = _Scope(parent=scope)
                for gen in gens:
                    for name in _names(gen.target):
                        inner.loops.setdefault(name, []).append(gen.iter)
                return self.constant(elt, inner, seen)
            case ast.Call(func=ast.Attribute(value=sep, attr="join"), args=[arg]):
                return self.constant(sep, scope, seen) and self.constant(arg, scope, seen)
            case ast.Call(func=ast.Name(id=fn), args=[arg]) if fn in JOINERS:
                return self.constant(arg, scope, seen)
            case ast.Name(id=name):
                return self._name(name, scope, seen)
        return False

    def _name(self, name: str, scope: _Scope | None, seen: frozenset[int]) -> bool:
        while scope is not None:
            if name in scope.params:
                return False
            if name in scope.loops:
                return all(self.constant(it, scope, seen) for it in scope.loops[name])
            if name in scope.values:
                return all(self.constant(v, scope, seen) for v in scope.values[name])
            if scope.parent is None:
                break
            scope = scope.parent
        return bool(self.module_name(name, seen))


def _names(target: ast.expr) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for elt in target.elts:
            yield from _names(elt)


def _collect(body: list[ast.stmt], scope: _Scope) -> None:
    """Every assignment in `body` (not descending into nested functions or classes)."""
    for stmt in body:
        for node in _walk_shallow(stmt):
            match node:
                case ast.Assign(targets=targets, value=value):
                    for target in targets:
                        if isinstance(target, ast.Name):
                            scope.values.setdefault(target.id, []).append(value)
                        else:  # unpacking: each name may be anything
                            for name in _names(target):
                                scope.params.add(name)
                case ast.AnnAssign(target=ast.Name(id=name), value=value) if value is not None:
                    scope.values.setdefault(name, []).append(value)
                case ast.AugAssign(target=ast.Name(id=name), value=value):
                    scope.values.setdefault(name, []).append(value)
                case (
                    ast.For(target=target, iter=iterable)
                    | ast.AsyncFor(target=target, iter=iterable)
                ):
                    for name in _names(target):
                        if isinstance(target, ast.Name):
                            scope.loops.setdefault(name, []).append(iterable)
                        else:
                            scope.params.add(name)
                case ast.Call(
                    func=ast.Attribute(value=ast.Name(id=name), attr="append" | "extend"),
                    args=[arg],
                ):
                    scope.values.setdefault(name, []).append(
                        ast.List(elts=[arg]) if node.func.attr == "append" else arg
                    )
                case ast.With(items=items) | ast.AsyncWith(items=items):
                    for item in items:
                        if item.optional_vars is not None:
                            for name in _names(item.optional_vars):
                                scope.params.add(name)
                case ast.NamedExpr(target=ast.Name(id=name), value=value):
                    scope.values.setdefault(name, []).append(value)


def _walk_shallow(node: ast.AST) -> Iterator[ast.AST]:
    """The node and what is inside it, but not nested functions or classes (their own scope)."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
        return
    yield node
    for child in ast.iter_child_nodes(node):
        yield from _walk_shallow(child)


def _functions(
    tree: ast.Module,
) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef | None, list[ast.stmt]]]:
    yield "<module>", None, [s for s in tree.body if not isinstance(s, ast.ClassDef)]

    def visit(
        body: list[ast.stmt], prefix: str
    ) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef | None, list[ast.stmt]]]:
        for stmt in body:
            if isinstance(stmt, ast.ClassDef):
                yield from visit(stmt.body, f"{prefix}{stmt.name}.")
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                yield f"{prefix}{stmt.name}", stmt, stmt.body
                yield from visit(stmt.body, f"{prefix}{stmt.name}.")

    yield from visit(tree.body, "")


def _callee(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def scan(paths: list[Path]) -> list[Finding]:
    """Every statement not traced to constant text, in the given files."""
    modules: dict[Path, _Module] = {}
    for path in paths:
        modules.setdefault(path, _Module(path, modules))
    sinks = dict.fromkeys(SINKS, 0)  # callee name -> index of the statement argument
    # Helpers that take a statement and pass it on are sinks too; repeat until none is new.
    while True:
        before = len(sinks)
        findings = list(_scan_once([modules[p] for p in paths], sinks))
        if len(sinks) == before:
            return findings


def _scan_once(modules: list[_Module], sinks: dict[str, int]) -> Iterator[Finding]:
    for module in modules:
        for qualname, fn, body in _functions(module.tree):
            scope = _Scope(parent=module.scope) if fn is not None else module.scope
            ordered: list[str] = []
            if fn is not None:
                ordered = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]
                ordered = [a for a in ordered if a not in ("self", "cls")]
                scope.params.update(ordered)
                scope.params.update(a.arg for a in fn.args.kwonlyargs)
                _collect(body, scope)
            for stmt in body:
                for node in _walk_shallow(stmt):
                    if not isinstance(node, ast.Call):
                        continue
                    name = _callee(node)
                    if name not in sinks or len(node.args) <= sinks[name]:
                        continue
                    statement = node.args[sinks[name]]
                    if module.constant(statement, scope):
                        continue
                    # A parameter handed straight on: the function is a helper; check callers.
                    if (
                        fn is not None
                        and isinstance(statement, ast.Name)
                        and statement.id in ordered
                        and _only_param(statement.id, scope)
                    ):
                        sinks.setdefault(fn.name, ordered.index(statement.id))
                        continue
                    yield Finding(
                        _relative(module.path),
                        qualname,
                        node.lineno,
                        name,
                        ast.unparse(statement)[:160],
                    )


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _only_param(name: str, scope: _Scope) -> bool:
    return name not in scope.values and name not in scope.loops
