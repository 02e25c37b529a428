"""The package's imports run one way: no cycle, saliency above the ops, the library below apps.

Every `import` and `from ... import` in minigrad/ is read with `ast` (also those inside
functions, which is where a cycle hides), resolved to the module it loads, and the graph is
checked. Then what the README promises of the engine (broadcasting undone in one place, every
op's backward takes `grad`) and its reading tour (the files and names it cites exist).
"""
import ast
import importlib
import re
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


def test_the_engine_imports_no_minigrad_module_but_each_other():
    """tensor.py and function.py: no kernels, no threads, no anomaly mode (it hooks in)."""
    assert GRAPH["minigrad.tensor"] == set()
    assert GRAPH["minigrad.function"] == {"minigrad.tensor"}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("minigrad.ops")))
def test_no_op_imports_the_threads_or_the_buffers(module):
    """Ops hold the math; the speed tricks live in the kernels' fast twins."""
    speed = GRAPH[module] & {"minigrad.kernels.parallel", "minigrad.kernels.scratch"}
    assert not speed, f"{module} imports {sorted(speed)}"


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("minigrad.saliency")))
def test_saliency_imports_no_op_module(module):
    """Saliency reads the graph through its public doors (grad_fn, nodes_behind, what an op
    declares) and the functions of minigrad.functional, never an op module's internals."""
    ops = {target for target in GRAPH[module] if target.startswith("minigrad.ops")}
    assert not ops, f"{module} imports {sorted(ops)}"


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


# ----- the engine's promises that the README makes -------------------------------------------
def names_used(module):
    """Every name the module imports or refers to (x, or the attribute name of a.x)."""
    names = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.name.rpartition(".")[2])
    return names


UNWRAPPING = re.compile(r"getattr\((\w+), [\"']data[\"'], \1\)|"
                        r"\.data if isinstance\((\w+), Tensor\) else np\.asarray\(\2\)")


def test_one_helper_unwraps_a_tensor():
    """tensor.as_array, not getattr(x, "data", x) (which also reaches into a NumPy scalar's raw
    buffer) nor its own spelling of x.data-or-np.asarray(x) in every module."""
    assert UNWRAPPING.search('n = np.shape(getattr(a, "data", a))')
    assert UNWRAPPING.search("y = w.data if isinstance(w, Tensor) else np.asarray(w)")
    spelled = [f"{module}:{number}" for module, path in MODULES.items()
               if module != "minigrad.tensor"
               for number, line in enumerate(path.read_text().splitlines(), 1)
               if UNWRAPPING.search(line)]
    assert spelled == [], f"unwrap with minigrad.tensor.as_array: {spelled}"


def test_broadcasting_is_undone_in_one_place():
    users = {module for module in MODULES if "unbroadcast" in names_used(module)}
    assert "minigrad.function" in users                  # the checker sees the one real use
    assert users <= {"minigrad.function", "minigrad"}, \
        f"{sorted(users - {'minigrad.function', 'minigrad'})} call unbroadcast: " \
        f"Function.input_grads undoes broadcasting for every op"


def function_classes():
    """(module, class node) for every class in the package that derives from Function."""
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                    getattr(base, "id", getattr(base, "attr", None)) == "Function"
                    for base in node.bases):
                yield module, node


def test_every_op_states_its_backward_and_calls_the_incoming_gradient_grad():
    ops = list(function_classes())
    assert len(ops) > 20 and any(node.name == "Conv2d" for _, node in ops)
    for module, node in ops:
        assert ast.get_docstring(node), f"{module}.{node.name} has no docstring"
        for method in node.body:
            if isinstance(method, ast.FunctionDef) and method.name == "backward":
                assert [a.arg for a in method.args.args] == ["self", "grad"], \
                    f"{module}.{node.name}.backward takes {[a.arg for a in method.args.args]}"


# ----- the README's reading tour names files and names that exist ------------------------------
README = PACKAGE.parent / "README.md"


def tour_items(text):
    """The numbered items of the README section 'Read the source in this order'."""
    section = text.split("## Read the source in this order", 1)[1].split("\n## ", 1)[0]
    return [item for item in re.split(r"\n(?=\d+\. )", section) if re.match(r"\d+\. ", item)]


def defined_names(path):
    """Top-level functions, classes and assignments of a module, and its classes' members."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names.update(f"{node.name}.{m.name}" for m in node.body
                         if isinstance(m, (ast.FunctionDef, ast.ClassDef)))
            names.update(m.name for m in node.body if isinstance(m, ast.FunctionDef))
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def tour_problems(text, root=PACKAGE.parent):
    """What the tour names that does not exist: files (a bare `core.py` is looked up beside the
    file named before it, `nn/layers.py` under minigrad/), and code names (`Tensor`,
    `Conv2d.forward`, `backward()`) in the files of the same item; `minigrad.x.y` is imported.
    Code examples (`x + y`, `x.sum()`) and commands (`minigrad train`) are not names."""
    problems = []
    for item in tour_items(text):
        files, directory = [], root
        for token in re.findall(r"`([^`]+)`", item):
            if token.endswith((".py", "/")):
                path = next((p for p in (root / token, root / "minigrad" / token,
                                         directory / token) if p.exists()), None)
                if path is None:
                    problems.append(f"no file {token}")
                    continue
                directory = path if token.endswith("/") else path.parent
                files += [path] if path.is_file() else []
                continue
            name = token.removesuffix("()").split("(")[0]
            if not re.fullmatch(r"[A-Za-z_][\w.]*", name) or re.match(r"[a-z]\.", name):
                continue
            if name.startswith("minigrad."):
                module, _, attribute = name.rpartition(".")
                if not hasattr(importlib.import_module(module), attribute):
                    problems.append(f"no {name}")
            elif not any(name in defined_names(path) for path in files):
                problems.append(f"{name} is not in {[str(p.relative_to(root)) for p in files]}")
    return problems


def test_the_reading_tour_names_what_exists():
    assert len(tour_items(README.read_text())) >= 10
    assert tour_problems(README.read_text()) == []


def test_the_tour_checker_finds_what_is_missing():
    text = ("## Read the source in this order\n\n1. `minigrad/tensor.py` -- `Tensor`, `no_grad`,"
            " `backprop()`\n2. `minigrad/ops/conv.py`, `pool.py`, `norms.py`: `Conv2d.forward`,"
            " `Conv2d.fold`, `minigrad.viz.graph_svg`, `x.sum()`\n\n## Next\n")
    assert tour_problems(text) == ["backprop is not in ['minigrad/tensor.py']", "no file norms.py",
                                   "Conv2d.fold is not in ['minigrad/ops/conv.py', "
                                   "'minigrad/ops/pool.py']", "no minigrad.viz.graph_svg"]
