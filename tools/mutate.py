"""A small mutation tester, run by hand (never in CI): do the tests notice a deliberate bug?

    nice -n 10 python tools/mutate.py minigrad/ops/conv.py minigrad/kernels/pool.py:20 \\
        --per-module 12 --seed 0 --report mutants.json

(`module:N` draws N mutants of that module instead of --per-module.)

For every module named, the script lists every place where one small change makes a plausible
bug, and draws `--per-module` of them (seeded):

    operator   + <-> -,  * <-> /,  // -> /,  % -> //,  ** -> *,  @ -> *
    compare    < <-> <=,  > <-> >=,  == <-> !=,  is <-> is not,  in <-> not in
    boolean    and <-> or,  `not x` -> x,  `-x` -> x
    constant   an int n -> n + 1 and n - 1,  True <-> False
    augassign  a += b -> a -= b (and the other augmented operators likewise),  a op= b -> a = b
    statement  an assignment or a bare call in a function body -> pass

(Docstrings, strings, f-strings, imports, annotations and __all__ are left alone.) Each mutant is
written, one at a time, into a throw-away copy of the repository, and only the tests that cover
that module run (TESTS below; `-x`, so the first failure ends the run) with a time limit of
4x the unmutated run (at least 60 s). A mutant is *killed* if a test fails, *timed out* if the
limit is hit, and *survived* if every test passes: then either the mutant is equivalent (the
change cannot alter any result), or a test is missing, or a test elsewhere in the suite (not
mapped to the module) would catch it -- judge each survivor by hand. The copy is deleted at the
end; the working tree is never touched.

The source is changed by splicing the unparsed mutated node into the original text, so the rest
of the file stays as it was; the spliced file is parsed again and compared with the mutated tree,
so a splice that would change the meaning differently is not run ('unspliceable').
"""
import argparse
import ast
import copy
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

ENGINE = ["tests/test_tensor.py", "tests/test_gradcheck.py", "tests/ops/test_elementwise.py",
          "tests/ops/test_reduce.py", "tests/ops/test_shape.py", "tests/ops/test_linalg.py",
          "tests/ops/test_activation.py", "tests/nn/test_module.py"]
SALIENCY = "tests/saliency/"
TESTS = {   # module -> the tests that cover it (a module not listed here is refused)
    "minigrad/tensor.py": ENGINE,
    "minigrad/function.py": ENGINE,
    "minigrad/ops/methods.py": ENGINE,
    "minigrad/ops/elementwise.py": ["tests/ops/test_elementwise.py", "tests/test_tensor.py"],
    "minigrad/ops/activation.py": ["tests/ops/test_activation.py", "tests/ops/test_loss.py"],
    "minigrad/ops/reduce.py": ["tests/ops/test_reduce.py", "tests/test_tensor.py"],
    "minigrad/ops/shape.py": ["tests/ops/test_shape.py", "tests/test_tensor.py"],
    "minigrad/ops/linalg.py": ["tests/ops/test_linalg.py", "tests/test_tensor.py"],
    "minigrad/ops/loss.py": ["tests/ops/test_loss.py"],
    "minigrad/ops/conv.py": ["tests/ops/test_conv.py", "tests/nn/test_layers.py"],
    "minigrad/ops/pool.py": ["tests/ops/test_pool.py"],
    "minigrad/ops/norm.py": ["tests/ops/test_norm.py"],
    "minigrad/ops/_args.py": ["tests/ops/test_conv.py", "tests/ops/test_pool.py",
                              "tests/ops/test_norm.py"],
    "minigrad/checks.py": ["tests/ops/test_norm.py", "tests/ops/test_loss.py",
                           "tests/test_adversarial.py", "tests/saliency/"],
    "minigrad/kernels/__init__.py": ["tests/kernels/", "tests/ops/test_conv.py",
                                     "tests/ops/test_pool.py"],
    "minigrad/kernels/im2col.py": ["tests/kernels/test_im2col_kernels.py",
                                   "tests/ops/test_conv.py"],
    "minigrad/kernels/pool.py": ["tests/kernels/test_pool_kernels.py", "tests/ops/test_pool.py"],
    "minigrad/kernels/conv.py": ["tests/kernels/test_conv_kernels.py", "tests/kernels/test_twins.py",
                                 "tests/ops/test_conv.py"],
    "minigrad/kernels/gemm.py": ["tests/kernels/test_gemm_kernels.py", "tests/ops/test_linalg.py"],
    "minigrad/kernels/scratch.py": ["tests/kernels/test_scratch.py",
                                    "tests/kernels/test_conv_kernels.py"],
    "minigrad/saliency/__init__.py": [SALIENCY],
    "minigrad/saliency/core.py": [SALIENCY],
    "minigrad/saliency/gradients.py": [SALIENCY + f for f in
                                       ("test_gradients.py", "test_scores.py", "test_explain.py",
                                        "test_sanity.py")],
    "minigrad/saliency/cam.py": [SALIENCY + f for f in
                                 ("test_cam.py", "test_scores.py", "test_explain.py",
                                  "test_sanity.py")],
    "minigrad/saliency/occlusion.py": [SALIENCY + f for f in
                                       ("test_cam.py", "test_scores.py", "test_explain.py")],
    "minigrad/saliency/fixations.py": [SALIENCY + "test_fixations.py",
                                       SALIENCY + "test_explain.py"],
    "minigrad/saliency/metrics.py": [SALIENCY + "test_metrics.py", SALIENCY + "test_sanity.py"],
    "minigrad/saliency/postprocess.py": [SALIENCY],
    "minigrad/saliency/layers.py": [SALIENCY + "test_sanity.py"],
    "minigrad/saliency/dynamic.py": [SALIENCY + "test_dynamic.py", "tests/nn/test_bcos.py"],
    "minigrad/adversarial.py": ["tests/test_adversarial.py"],
}

SWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
        ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult, ast.MatMult: ast.Mult,
        ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
        ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn,
        ast.NotIn: ast.In, ast.And: ast.Or, ast.Or: ast.And}


def protected(tree):
    """ids of nodes never mutated: docstrings, strings and f-strings, imports, annotations,
    __all__, and everything inside them."""
    skip = set()

    def cover(node):
        skip.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                cover(body[0])
        if isinstance(node, (ast.JoinedStr, ast.Import, ast.ImportFrom)):
            cover(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            cover(node)
        if isinstance(node, ast.AnnAssign):
            cover(node.annotation)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for arg in node.args.args + node.args.kwonlyargs:
                if arg.annotation is not None:
                    cover(arg.annotation)
            if node.returns is not None:
                cover(node.returns)
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__"
                                                for t in node.targets):
            cover(node)
    return skip


def function_statements(tree):
    """ids of the statements directly inside a function body (candidates for deletion)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.For, ast.While, ast.If,
                             ast.With, ast.Try)):
            for child in getattr(node, "body", []) + getattr(node, "orelse", []):
                if isinstance(child, (ast.Assign, ast.AugAssign, ast.Expr)):
                    found.add(id(child))
    return found


def candidates(tree):
    """Every (node path, description, replacement builder) the module offers."""
    skip, deletable = protected(tree), function_statements(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip or not hasattr(node, "lineno"):
            continue
        if isinstance(node, ast.BinOp) and type(node.op) in SWAP:
            found.append((node, f"{type(node.op).__name__} -> {SWAP[type(node.op)].__name__}",
                          lambda n: _with(n, op=SWAP[type(n.op)]())))
        elif isinstance(node, ast.AugAssign) and type(node.op) in SWAP:
            found.append((node, f"{type(node.op).__name__}= -> {SWAP[type(node.op)].__name__}=",
                          lambda n: _with(n, op=SWAP[type(n.op)]())))
            found.append((node, "op= -> =",
                          lambda n: ast.Assign(targets=[n.target], value=n.value, lineno=n.lineno)))
        elif isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in SWAP:
                    found.append((node, f"{type(op).__name__} -> {SWAP[type(op)].__name__}",
                                  lambda n, i=i: _with(n, ops=[SWAP[type(o)]() if j == i else o
                                                               for j, o in enumerate(n.ops)])))
        elif isinstance(node, ast.BoolOp):
            found.append((node, f"{type(node.op).__name__} -> {SWAP[type(node.op)].__name__}",
                          lambda n: _with(n, op=SWAP[type(n.op)]())))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            found.append((node, f"drop {type(node.op).__name__}", lambda n: n.operand))
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            found.append((node, f"{node.value} -> {not node.value}",
                          lambda n: ast.Constant(value=not n.value)))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            for delta in (1, -1):
                found.append((node, f"{node.value} -> {node.value + delta}",
                              lambda n, d=delta: _number(n.value + d)))
        if id(node) in deletable and not (isinstance(node, ast.Expr)
                                          and isinstance(node.value, ast.Constant)):
            found.append((node, "statement -> pass", lambda n: ast.Pass()))
    return found


def _number(value):
    """A constant as the parser would see it: -1 is the negation of 1."""
    if value < 0:
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=-value))
    return ast.Constant(value=value)


def _with(node, **fields):
    new = copy.copy(node)
    for name, value in fields.items():
        setattr(new, name, value)
    return new


def mutated_source(source, tree, node, build):
    """The module's text with `node` replaced by build(node), or None if the splice is unsafe."""
    replacement = build(copy.deepcopy(node))
    target = _replace_in(copy.deepcopy(tree), tree, node, replacement)
    expected = ast.dump(target)
    lines = source.splitlines(keepends=True)
    start = sum(len(line) for line in lines[:node.lineno - 1]) + _byte_to_char(
        lines[node.lineno - 1], node.col_offset)
    end = sum(len(line) for line in lines[:node.end_lineno - 1]) + _byte_to_char(
        lines[node.end_lineno - 1], node.end_col_offset)
    text = ast.unparse(replacement)
    for spliced in (text, f"({text})"):
        candidate = source[:start] + spliced + source[end:]
        try:
            if ast.dump(ast.parse(candidate)) == expected:
                return candidate
        except SyntaxError:
            continue
    return None


def changed_line(source, mutated):
    """The first line of the mutant that differs from the source (what the mutation did)."""
    if mutated is None:
        return "(unspliceable)"
    pairs = zip(source.splitlines(), mutated.splitlines())
    return next((new.strip() for old, new in pairs if old != new), "(no change)")


def _byte_to_char(line, offset):
    return len(line.encode()[:offset].decode())


def _replace_in(tree_copy, tree, node, replacement):
    """Replace, in a deep copy of tree, the node at the same position as `node`."""
    originals = list(ast.walk(tree))
    copies = list(ast.walk(tree_copy))
    index = next(i for i, n in enumerate(originals) if n is node)
    old = copies[index]
    for parent in copies:
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, replacement)
                return tree_copy
            if isinstance(value, list) and any(v is old for v in value):
                setattr(parent, field, [replacement if v is old else v for v in value])
                return tree_copy
    raise LookupError("node not found")


def run_tests(workdir, tests, timeout):
    """-> ('passed' | 'failed' | 'timeout', seconds, first failing test or '')."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.perf_counter() - start, ""
    seconds = time.perf_counter() - start
    failed = next((line.split()[1] for line in done.stdout.splitlines()
                   if line.startswith(("FAILED", "ERROR"))), "")
    return ("passed" if done.returncode == 0 else "failed"), seconds, failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="+", help=f"modules (path or path:count), among: "
                                                   f"{', '.join(TESTS)}")
    parser.add_argument("--per-module", type=int, default=12, help="mutants drawn per module")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--report", default=None, help="write every mutant's result as JSON")
    parser.add_argument("--list", action="store_true",
                        help="only list the mutants that would be drawn, without running them")
    args = parser.parse_args()
    counts = {m.partition(":")[0]: int(m.partition(":")[2] or args.per_module)
              for m in args.modules}
    unknown = [m for m in counts if m not in TESTS]
    if unknown:
        parser.error(f"no tests are mapped for {unknown}; add them to TESTS")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped"))     # so that `finally` cleans up
    workdir = Path(tempfile.mkdtemp(prefix="minigrad-mutants-")) / "repo"
    shutil.copytree(REPO, workdir, ignore=shutil.ignore_patterns(
        ".git", "__pycache__", ".hypothesis", "*.egg-info", "runs", "mutants*"))
    results = []
    try:
        for module, count in counts.items():
            results += mutate_module(workdir, module, count, args)
    finally:
        shutil.rmtree(workdir.parent, ignore_errors=True)
        if args.report:
            Path(args.report).write_text(json.dumps(results, indent=1))
    summary(results)


def mutate_module(workdir, module, count, args):
    path = workdir / module
    source = path.read_text()
    tree = ast.parse(source)
    found = candidates(tree)
    rng = random.Random(f"{args.seed}:{module}")
    chosen = rng.sample(found, min(count, len(found)))
    chosen.sort(key=lambda c: (c[0].lineno, c[0].col_offset))
    print(f"\n{module}: {len(found)} candidate mutants, {len(chosen)} drawn", flush=True)
    if args.list:
        for node, description, build in chosen:
            print(f"  line {node.lineno:4}  {description:<22} -> "
                  f"{changed_line(source, mutated_source(source, tree, node, build))}")
        return []
    tests = TESTS[module]
    status, baseline, failed = run_tests(workdir, tests, timeout=1800)
    if status != "passed":
        raise SystemExit(f"{module}: the unmutated tests do not pass ({status} {failed})")
    timeout = max(60.0, 4 * baseline)
    print(f"  unmutated tests pass in {baseline:.1f} s; limit {timeout:.0f} s", flush=True)
    stat = path.stat()
    results = []
    try:
        for number, (node, description, build) in enumerate(chosen):
            text = mutated_source(source, tree, node, build)
            row = {"module": module, "line": node.lineno, "mutation": description,
                   "original": ast.get_source_segment(source, node),
                   "mutant": changed_line(source, text)}
            if text is None:
                row.update(status="unspliceable")
            else:
                path.write_text(text)
                # a fresh mtime: neither a .pyc nor Numba's cache may mistake the mutant
                os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + (number + 1) * 10**9))
                status, seconds, failed = run_tests(workdir, tests, timeout)
                row.update(status={"failed": "killed", "passed": "survived"}.get(status, status),
                           seconds=round(seconds, 1), killed_by=failed)
            results.append(row)
            print(f"  {row['status']:>9}  line {row['line']:4}  {description:<22} "
                  f"{' '.join(row['original'].split())[:60]}  {row.get('killed_by', '')}",
                  flush=True)
    finally:
        path.write_text(source)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    return results


def summary(results):
    print(f"\n{'module':<34} {'mutants':>7} {'killed':>6} {'survived':>8} {'timeout':>7}")
    for module in dict.fromkeys(r["module"] for r in results):
        rows = [r for r in results if r["module"] == module and r["status"] != "unspliceable"]
        count = {s: sum(r["status"] == s for r in rows) for s in ("killed", "survived", "timeout")}
        print(f"{module:<34} {len(rows):>7} {count['killed']:>6} {count['survived']:>8} "
              f"{count['timeout']:>7}")


if __name__ == "__main__":
    main()
