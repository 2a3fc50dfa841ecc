"""The import graph: no cycles, and layers that only point down, in the order README's Layout states.

Every import counts, wherever it stands: at the top, inside a function, under ``TYPE_CHECKING``. A
cycle hidden in a function is still a cycle (the parts cannot be understood or tested apart).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pbx_bridge", "itflow_sim")
PLUMBING = "plumbing"


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The measured module an import names: the longest prefix of the dotted name that is one."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    is_package = path.name == "__init__.py"
    base = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (target := _resolve(alias.name)) is not None:
                    yield target, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                stem = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                stem = node.module or ""
            for alias in node.names:
                # `from pkg import sub` names the submodule when there is one, else a name of pkg
                target = _resolve(f"{stem}.{alias.name}") or _resolve(stem)
                if target is not None:
                    yield target, node.lineno


GRAPH: dict[str, dict[str, int]] = {}
for _name, _path in MODULES.items():
    GRAPH[_name] = {t: line for t, line in _imports(_name, _path) if t != _name}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in GRAPH:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(GRAPH[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(GRAPH[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_import_cycles() -> None:
    cycles = _cycles()
    shown = [" <-> ".join(c) for c in cycles]
    assert not cycles, "import cycles:\n" + "\n".join(shown)


def _readme_layers() -> list[list[str]]:
    """README's Layout section: ``Layers, top to bottom: a → b, c → ... → plumbing``."""
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^Layers, top to bottom[^:]*:\s*(.+?)\.?$", text, re.MULTILINE)
    assert match, "README's Layout section states the layers on a line 'Layers, top to bottom: ...'"
    layers = [[unit.strip(" `") for unit in step.split(",")] for step in match.group(1).split("→")]
    assert layers[-1] == [PLUMBING], "the bottom layer is plumbing (every module not named above)"
    return layers


def _unit(module: str) -> str:
    """The top-level unit of a module: its first name below the package (callerid, cli, numbers...)."""
    parts = module.split(".")
    if parts[0] != "pbx_bridge":
        return parts[0]
    return parts[1] if len(parts) > 1 else "pbx_bridge"


def _layer_of() -> dict[str, int]:
    layers = _readme_layers()
    named = {unit: depth for depth, step in enumerate(layers) for unit in step if unit != PLUMBING}
    bottom = len(layers) - 1
    units = {_unit(m) for m in MODULES} - {"pbx_bridge", "itflow_sim"}
    return {unit: named.get(unit, bottom) for unit in units}


def test_readme_layers_name_real_packages() -> None:
    units = {_unit(m) for m in MODULES}
    for step in _readme_layers()[:-1]:
        for unit in step:
            if unit not in ("screen", "journal"):  # features the layout reserves a place for
                assert unit in units, f"README's layers name {unit!r}, which is not in pbx_bridge/"


def _violations() -> Iterator[str]:
    layer = _layer_of()
    bottom = max(layer.values())
    for module, targets in GRAPH.items():
        source = _unit(module)
        for target, line in targets.items():
            goal = _unit(target)
            where = f"{MODULES[module].relative_to(ROOT)}:{line}: {module} imports {target}"
            if source == "itflow_sim" or goal == "itflow_sim":
                # the simulator is a package of its own: it imports nothing of the client, and only
                # the CLI's demo starts it
                if source == "itflow_sim" and goal != "itflow_sim":
                    yield f"{where} (the simulator imports nothing of pbx_bridge)"
                elif goal == "itflow_sim" and source not in ("itflow_sim", "cli"):
                    yield f"{where} (only the CLI starts the simulator)"
                continue
            if source == goal or goal == "pbx_bridge" or source == "pbx_bridge":
                continue
            if layer[goal] > layer[source]:
                continue  # points down
            if layer[goal] == layer[source] == bottom:
                continue  # plumbing modules build on each other (no cycles: the test above)
            yield f"{where} (layer {layer[source]} -> layer {layer[goal]})"


def test_layers_only_point_down() -> None:
    wrong = list(_violations())
    assert not wrong, "imports that do not point down:\n" + "\n".join(wrong)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_stand_at_the_top(module: str) -> None:
    """Imports inside functions or under TYPE_CHECKING hide the graph from a reader (and from the
    cycle check's first reader, Python itself)."""
    tree = ast.parse(MODULES[module].read_text())
    hidden = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            hidden += [n.lineno for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden += [n.lineno for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)]
    assert not hidden, f"{MODULES[module].relative_to(ROOT)}: imports not at the top, lines {hidden}"


def test_readme_layout_names_every_module_and_package() -> None:
    # The layout block (``pbx_bridge/`` up to the simulator's line) is the map a reader starts from.
    text = (ROOT / "README.md").read_text()
    block = text[text.index("\npbx_bridge/\n") : text.index("\nitflow_sim/ ")]
    named = set(re.findall(r"\b[a-z_]+\.py\b|\b[a-z_]+/", block))
    tree = {p.name for p in (ROOT / "pbx_bridge").glob("*.py") if p.name != "__init__.py"}
    tree |= {p.name + "/" for p in (ROOT / "pbx_bridge").iterdir() if (p / "__init__.py").exists()}
    assert sorted(tree - named) == [], "in pbx_bridge/ but not in README's layout"
    stale = {n for n in named if n.endswith(".py")} - tree
    assert sorted(stale) == [], "in README's layout but not in pbx_bridge/"
