"""Pictures of what the engine does: the computation graph (and, later, training plots).

`graph_dot` needs nothing but the standard library; rendering calls the Graphviz `dot` program
when it is installed.
"""
import shutil
import subprocess

from minigrad.tensor import _topological_order


def graph_dot(tensor, path=None):
    """The computation graph behind `tensor` as Graphviz DOT text.

    One box per op, labelled with the op and its output shape; one ellipse per leaf (inputs and
    parameters, green when they require grad); edges point from inputs to the op that used them.
    With `path` ("graph.png") and Graphviz present, also renders the picture; returns the text.
    """
    lines = ["digraph minigrad {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for node in _topological_order(tensor):
        name = f"t{id(node)}"
        shape = "x".join(map(str, node.shape)) or "scalar"
        if node._ctx is None:
            color = "palegreen" if node.requires_grad else "lightgrey"
            lines.append(f'  {name} [shape=ellipse, style=filled, fillcolor={color}, '
                         f'label="leaf\\n{shape}"];')
            continue
        op = type(node._ctx).__name__
        lines.append(f'  {name} [shape=box, style=filled, fillcolor=lightblue, '
                     f'label="{op}\\n{shape}"];')
        for parent in node._ctx.inputs:
            if parent is not None and parent.requires_grad:
                lines.append(f"  t{id(parent)} -> {name};")
    lines.append("}")
    text = "\n".join(lines) + "\n"
    if path is not None:
        render_dot(text, path)
    return text


def render_dot(text, path):
    """Render DOT text to an image file with Graphviz; False (and nothing written) without it."""
    if shutil.which("dot") is None:
        return False
    fmt = str(path).rsplit(".", 1)[-1]
    subprocess.run(["dot", f"-T{fmt}", "-o", str(path)], input=text.encode(), check=True)
    return True
