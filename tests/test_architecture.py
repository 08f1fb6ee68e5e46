"""The house rules, checked on the source with ``ast``: no import cycles (function-level imports included),
no module reaching into another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import forecast

ROOT = Path(forecast.__file__).resolve().parent


def modules() -> dict[str, Path]:
    out = {}
    for p in sorted(ROOT.rglob("*.py")):
        parts = ("forecast", *p.relative_to(ROOT).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def imports(mods: dict[str, Path]) -> dict[str, list[tuple[str, str | None, int]]]:
    """module -> [(imported module, imported name or None, line)], every import statement anywhere in the file."""
    out: dict[str, list[tuple[str, str | None, int]]] = {}
    for name, path in mods.items():
        rows = []
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                rows += [(a.name, None, node.lineno) for a in node.names if a.name.split(".")[0] == "forecast"]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                if base.split(".")[0] != "forecast":
                    continue
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    rows.append((sub, None, node.lineno) if sub in mods else (base, a.name, node.lineno))
        out[name] = rows
    return out


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(u: str) -> None:
        state[u] = 1
        stack.append(u)
        for v in sorted(edges.get(u, ())):
            if state.get(v) == 1:
                found.append(stack[stack.index(v):] + [v])
            elif v not in state:
                visit(v)
        stack.pop()
        state[u] = 2

    for u in sorted(edges):
        if u not in state:
            visit(u)
    return found


def test_finds_a_planted_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    mods = modules()
    # a package's own __init__ is not an edge: importing forecast.data.x runs forecast/data/__init__.py first,
    # which imports nothing from its children here (checked below)
    edges = {m: {t for t, _, _ in rows if t in mods and t != m} for m, rows in imports(mods).items()}
    assert find_cycles(edges) == []


def test_package_inits_import_nothing_of_the_package():
    mods = modules()
    for name, path in mods.items():
        if path.name == "__init__.py":
            assert imports({name: path})[name] == [], f"{path} imports from the package"


def test_no_private_names_across_modules():
    mods = modules()
    bad = []
    for name, rows in imports(mods).items():
        for target, attr, line in rows:
            if target != name and ((attr or "").startswith("_") or target.rpartition(".")[2].startswith("_")):
                bad.append(f"{mods[name].relative_to(ROOT.parent)}:{line} imports {target}.{attr}")
    # attribute access through a module alias: `import forecast.x as m; m._name`
    for name, path in mods.items():
        tree = ast.parse(path.read_text())
        aliases = {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import)
                   for a in n.names if a.name.startswith("forecast")}
        aliases |= {a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
                    and (n.module or "").startswith("forecast") for a in n.names
                    if f"{n.module}.{a.name}" in mods}
        for n in ast.walk(tree):
            if (isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in aliases
                    and n.attr.startswith("_") and not n.attr.startswith("__")):
                bad.append(f"{path.relative_to(ROOT.parent)}:{n.lineno} uses {n.value.id}.{n.attr}")
    assert bad == []


MAX_FUNCTION_LINES = 100
MAX_MODULE_LINES = 400


def test_functions_and_modules_stay_small():
    long_functions, long_modules = [], []
    for name, path in modules().items():
        text = path.read_text()
        if len(text.splitlines()) > MAX_MODULE_LINES:
            long_modules.append(f"{path.relative_to(ROOT.parent)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long_functions.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name}: {n} lines")
    assert long_functions == [] and long_modules == []
