"""The package's imports run one way: no cycle, saliency above the ops, the library below apps.

Every `import` and `from ... import` in minigrad/ is read with `ast` (also those inside
functions, which is where a cycle hides), resolved to the module it loads, and the graph is
checked.
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "minigrad"


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def resolve(name):
    """The module that `import name` loads: the longest prefix of `name` that is a module."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    return None


def imports_of(module):
    """The minigrad modules that `module` imports, anywhere in its body."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        found.update(target for target in map(resolve, names)
                     if target is not None and target != module)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def submodule_of_package(importer, imported):
    """`import minigrad.ops.conv` also runs minigrad/ops/__init__.py: that edge is not a cycle."""
    return importer.startswith(imported + ".")


def find_cycle():
    """One import cycle as a list of modules, or None (depth-first search, white/grey/black)."""
    state, stack = {}, []

    def visit(module):
        state[module] = "grey"
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if submodule_of_package(module, target):
                continue
            if state.get(target) == "grey":
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[module] = "black"
        return None

    for module in sorted(GRAPH):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def test_the_graph_was_read():
    assert "minigrad.function" in GRAPH["minigrad.ops.elementwise"]
    assert "minigrad.tensor" in GRAPH["minigrad.function"]
    assert "minigrad.ops.elementwise" in GRAPH["minigrad.ops.methods"]


def test_the_checker_finds_a_cycle(monkeypatch):
    monkeypatch.setitem(GRAPH, "minigrad.tensor", GRAPH["minigrad.tensor"] | {"minigrad.ops.methods"})
    cycle = find_cycle()
    assert cycle is not None and "minigrad.tensor" in cycle


def test_no_import_cycle():
    assert find_cycle() is None


def test_the_engine_imports_no_op():
    assert not any(target.startswith("minigrad.ops") for target in GRAPH["minigrad.tensor"])
    assert not any(target.startswith("minigrad.ops") for target in GRAPH["minigrad.function"])


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("minigrad.saliency")))
def test_saliency_uses_no_private_module_outside_itself(module):
    private = {target for target in GRAPH[module]
               if not target.startswith("minigrad.saliency")
               and any(part.startswith("_") for part in target.split("."))}
    assert not private, f"{module} imports private modules {sorted(private)}"


LIBRARY = sorted(m for m in MODULES if not m.startswith("minigrad.apps") and m != "minigrad.__main__")


@pytest.mark.parametrize("module", LIBRARY)
def test_the_library_never_imports_the_apps(module):
    assert not any(target.startswith("minigrad.apps") for target in GRAPH[module]), module
