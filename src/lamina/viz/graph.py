"""The computation graph as a picture's model: nodes, edges and the modules that group them.

Two entry points, one ``Graph``:

- ``graph(output, params=dict(model.named_parameters()))``: the op level, read from the recorded graph by
  ``autograd.graph.walk``. One node per ``Function`` (its op, output shape and dtype) and one per leaf
  tensor (parameters named by their state_dict keys). Every tensor that a node's consumer holds is reachable,
  so its value statistics are too; gradient statistics come from ``.grad`` where backward left one.
- ``graph(model, example_input, target=None, loss_fn=None, level='module')``: runs the forward pass with
  temporary hooks on every submodule (removed afterwards). Each module call records its input and output
  shapes and the creation numbers (``Function.seq``) of the ops created during the call, so every op is
  grouped by the innermost module that created it, without any change to the engine. ``level='module'`` draws
  one node per call of a module without children; ``level='op'`` draws every op inside its module's cluster.
  With ``loss_fn`` the loss is computed too and every tensor's gradient is taken with ``autograd.grad``
  (no ``.grad`` changes). A float example input is drawn as a leaf that requires grad (a copy: the caller's
  tensor is unchanged), so a module's first steps on it are recorded and it shows its gradient too.

Nothing here recurses: a chain of 10,000 ops builds, lays out and draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lamina.autograd import function as _function
from lamina.autograd import grad as _autograd_grad
from lamina.autograd.engine import producer_of
from lamina.autograd.graph import walk
from lamina.nn.module import Module
from lamina.tensor import Tensor

__all__ = ["Graph", "Node", "Cluster", "graph", "tensor_stats"]


def tensor_stats(array) -> dict | None:
    """min, max, mean and L2 norm of an array (computed in float32 or the array's own float type)."""
    if array is None:
        return None
    a = np.asarray(array)
    if a.size == 0 or a.dtype.kind not in "biuf":
        return None
    if a.dtype.kind != "f":
        a = a.astype(np.float32)
    return {"min": float(a.min()), "max": float(a.max()), "mean": float(a.mean()),
            "norm": float(np.sqrt(np.square(a, dtype=a.dtype).sum()))}


@dataclass
class Node:
    """One box of the picture. ``kind``: 'op', 'param', 'input' (any other leaf tensor) or 'module';
    ``cluster``: the dotted path of the module it belongs to (None: outside every module)."""

    id: int
    label: str
    kind: str
    shape: tuple | None = None
    dtype: str | None = None
    cluster: str | None = None
    details: dict = field(default_factory=dict)  # what a hover shows besides the statistics
    value: dict | None = None  # statistics of the output value (tensor_stats)
    grad: dict | None = None  # statistics of the gradient of the loss with respect to that value

    @property
    def lines(self) -> list:
        """The text drawn in the box."""
        lines = [self.label]
        if self.kind == "module" and "output_shape" in self.details:
            shapes = (_shape_text(self.details.get("input_shape")), _shape_text(self.details["output_shape"]))
            lines.append(" → ".join(shapes))
            if self.details.get("parameters"):
                lines.append(f"{self.details['parameters']:,} parameters")
        elif self.shape is not None:
            lines.append(_shape_text(self.shape))
        return lines


@dataclass
class Cluster:
    """A module that contains nodes (or other clusters): drawn as a box that the HTML view can collapse."""

    path: str  # '' for the model itself
    label: str
    parent: str | None


@dataclass
class Graph:
    """Nodes, edges (pairs of node ids, producer first) and clusters; ``level`` is 'op' or 'module'."""

    nodes: list
    edges: list
    clusters: dict
    level: str
    title: str = "computation graph"

    def __repr__(self):
        return (f"Graph(level={self.level!r}, nodes={len(self.nodes)}, edges={len(self.edges)}, "
                f"clusters={len(self.clusters)})")

    def to_dot(self) -> str:
        from lamina.viz.render import to_dot  # the renderers import this module

        return to_dot(self)

    def to_svg(self, engine: str | None = None) -> str:
        """The picture as SVG text, laid out and drawn by lamina itself; ``engine='dot'`` asks graphviz."""
        from lamina.viz.render import to_svg

        return to_svg(self, engine=engine)

    def to_html(self, path=None) -> str:
        """One self-contained HTML page (inline SVG and script, nothing fetched); written to ``path`` if given."""
        from lamina.viz.html import page

        return page([self], title=self.title, path=path)

    def _repr_svg_(self) -> str:  # Jupyter shows the graph
        return self.to_svg()


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    if isinstance(shape, list):
        return ", ".join(_shape_text(s) for s in shape)
    return str(tuple(shape))


# ---------------------------------------------------------------------------------------------------------------
# the op graph
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class _Call:
    """One call of a module during the recorded forward pass."""

    path: str
    module: Module
    start: int  # every op created during the call has start < seq < end
    end: int = -1
    input_shape: object = None
    output: object = None


class _OpGraph:
    """The recorded graph as plain data: ops (by Function), leaf tensors, edges, and each op's output tensor."""

    def __init__(self, outputs):
        self.nodes = list(walk(*outputs))
        self.leaves: dict = {}  # id(tensor) -> tensor, in the order the walk meets them
        self.output_of: dict = {}  # Function -> the Tensor it produced (held by a consumer, or a root)
        self.edges: list = []  # (producer, consumer): a Function or id(leaf tensor) -> a Function
        for node in self.nodes:
            seen = set()
            for t in node.inputs:
                fn = producer_of(t, node.fn)
                if fn is None:
                    self.leaves.setdefault(id(t), t)
                    src = id(t)
                else:
                    self.output_of.setdefault(fn, t)
                    src = fn
                if src not in seen:  # x * x: one edge
                    seen.add(src)
                    self.edges.append((src, node.fn))
        for t in outputs:
            if t.grad_fn is not None:
                self.output_of[t.grad_fn] = t
            else:
                self.leaves.setdefault(id(t), t)

    def tensors(self) -> list:
        """Every tensor of the graph that requires grad (for autograd.grad)."""
        found = [t for t in self.leaves.values() if t.requires_grad]
        return found + [t for t in self.output_of.values() if t.requires_grad]


def _grad_of(t, grads):
    if grads is not None:
        g = grads.get(id(t))
        return None if g is None else g
    g = t.grad
    return None if g is None else g.array


def _op_level(og: _OpGraph, names: dict, cluster_of_op: dict, cluster_of_leaf: dict, grads, inputs: dict,
              saved: bool = False) -> tuple:
    """Nodes and edges with one node per op and per leaf tensor (and, with ``saved``, per saved array)."""
    nodes, index = [], {}
    consumers_of_leaf = {}
    for src, dst in og.edges:
        if not isinstance(src, _function.Function):
            consumers_of_leaf.setdefault(src, dst)
    for key, t in og.leaves.items():
        name = names.get(key)
        kind = "param" if name is not None and t.requires_grad else "input"
        label = name if name is not None else inputs.get(key, "tensor")
        index[key] = len(nodes)
        nodes.append(Node(len(nodes), label, kind, tuple(t.shape), str(t.dtype), cluster_of_leaf.get(key),
                          {"requires_grad": t.requires_grad}, tensor_stats(t.array), tensor_stats(_grad_of(t, grads))))
    for node in og.nodes:
        fn = node.fn
        out = og.output_of.get(fn)
        details = {"op": node.op, "input shapes": [list(s) for s in node.input_shapes]}
        details.update({k: _short(v) for k, v in node.args.items()})
        index[fn] = len(nodes)
        nodes.append(Node(len(nodes), node.op, "op", tuple(node.output_shape), str(node.output_dtype),
                          cluster_of_op.get(fn), details,
                          tensor_stats(out.array) if out is not None else None,
                          tensor_stats(_grad_of(out, grads)) if out is not None else None))
    edges = [(index[s], index[d]) for s, d in og.edges]
    if saved:
        for node in og.nodes:
            _add_saved(node, og.output_of.get(node.fn), index[node.fn], nodes, edges)
    return nodes, edges


def _add_saved(node, out, op_index: int, nodes: list, edges: list) -> None:
    """One 'saved' node per array that ``node``'s Function keeps for backward, with an edge into the op.

    Its details say which tensor it is (an input, the output, or an array of its own that backward needs,
    such as a dropout mask) and how many bytes it holds until backward releases it."""
    kept = node.fn.saved
    if kept is None:  # backward ran without retain_graph and released it
        nodes[op_index].details["saved"] = "released by backward"
        return
    arrays = [(i, a) for i, a in enumerate(kept if isinstance(kept, tuple) else (kept,)) if isinstance(a, np.ndarray)]
    for i, a in arrays:
        which = _identify(a, node.inputs, out)
        details = {"saved by": node.op, "index": i, "is": which, "bytes": a.nbytes}
        label = f"saved: {which}"
        edges.append((len(nodes), op_index))
        nodes.append(Node(len(nodes), label, "saved", tuple(a.shape), str(a.dtype), nodes[op_index].cluster,
                          details, tensor_stats(a)))


def _identify(array: np.ndarray, inputs: tuple, out) -> str:
    """Which tensor of the op a saved array is: 'input k', 'output', 'view of' one of them, or 'own array'."""
    candidates = [(f"input {k}", t.array) for k, t in enumerate(inputs)]
    if out is not None:
        candidates.append(("output", out.array))
    for name, a in candidates:
        if array is a:
            return name
    for name, a in candidates:
        if np.may_share_memory(array, a):
            return f"view of {name}"
    return "own array"


def _short(value) -> str:
    text = getattr(value, "__name__", None) or repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# ---------------------------------------------------------------------------------------------------------------
# recording module calls
# ---------------------------------------------------------------------------------------------------------------
def _record(model: Module, args: tuple, prefix: str = "") -> tuple:
    """Run ``model(*args)`` with temporary pre/post hooks on every submodule; returns (output, calls).

    Calls are named by the module's dotted path, under ``prefix`` if given (the loss). A call's ``start`` and
    ``end`` are numbers drawn from the same counter as ``Function.seq``: drawing one leaves a gap in the numbering,
    which nothing depends on, so the ops of a call are exactly those numbered between them."""
    calls, open_calls, handles = [], [], []

    def pre(path):
        def hook(module, inputs):
            call = _Call(path, module, next(_function._sequence))
            call.input_shape = _shapes(inputs)
            calls.append(call)
            open_calls.append(call)
        return hook

    def post(module, inputs, output):
        call = open_calls.pop()
        call.end = next(_function._sequence)
        call.output = output

    try:
        for path, module in model.named_modules():
            name = ".".join(p for p in (prefix, path) if p)
            handles.append(module.register_forward_pre_hook(pre(name)))
            handles.append(module.register_forward_hook(post))
        output = model(*args)
    finally:
        for h in handles:
            h.remove()
    return output, calls


def _shapes(value):
    if isinstance(value, Tensor):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)):
        shapes = [_shapes(v) for v in value if isinstance(v, (Tensor, tuple, list))]
        return shapes[0] if len(shapes) == 1 else shapes
    return None


def _innermost_calls(ops: list, calls: list) -> dict:
    """Function -> the innermost module call that created it: one sweep over ops and calls in creation order."""
    result, stack = {}, []
    order = sorted(calls, key=lambda c: c.start)
    i = 0
    for fn in sorted(ops, key=lambda f: f.seq):
        while i < len(order) and order[i].start < fn.seq:
            while stack and stack[-1].end < order[i].start:
                stack.pop()
            stack.append(order[i])
            i += 1
        while stack and stack[-1].end < fn.seq:
            stack.pop()
        if stack:
            result[fn] = stack[-1]
    return result


# ---------------------------------------------------------------------------------------------------------------
# graph()
# ---------------------------------------------------------------------------------------------------------------
def graph(source, example_input=None, *, params: dict | None = None, target=None, loss_fn=None,
          level: str | None = None, saved: bool = False) -> Graph:
    """The computation graph of a tensor (op level) or of a model run on ``example_input`` (module level).

    ``graph(loss, params=dict(model.named_parameters()))``: every op the tensor depends on, parameters named.
    ``graph(model, x)``: one node per module call, nested modules as clusters; ``level='op'`` shows the ops
    inside them. With ``target`` and ``loss_fn`` the loss is part of the graph and every node shows the
    gradient of the loss with respect to its output (computed with ``autograd.grad``; ``.grad`` unchanged).
    ``saved=True`` (op level) also draws every array an op keeps for its backward pass, with its size: the
    memory that training holds between the forward and the backward pass. Draw it before ``backward()`` (or
    after ``backward(retain_graph=True)``): backward releases them.
    """
    if isinstance(source, Module):
        if example_input is None:
            raise TypeError("graph(model, example_input): a model's graph needs an example input to run it on")
        if saved and level != "op":
            raise ValueError("graph(model, x, saved=True): saved arrays are drawn at the op level; add level='op'")
        return _model_graph(source, example_input, target, loss_fn, level or "module", saved)
    if isinstance(source, Tensor):
        if example_input is not None or loss_fn is not None:
            raise TypeError("graph(tensor, params=...): example_input and loss_fn are for graph(model, ...)")
        if level not in (None, "op"):
            raise ValueError(f"graph of a tensor is drawn at the op level; level={level!r} needs graph(model, x)")
        if source.grad_fn is None:
            raise ValueError("graph: the tensor has no recorded graph (it is a leaf, or was computed under no_grad "
                             "or from tensors that require no grad)")
        names = {id(p): name for name, p in (params or {}).items()}
        og = _OpGraph([source])
        nodes, edges = _op_level(og, names, {}, {}, None, {}, saved)
        return Graph(nodes, edges, {}, "op")
    raise TypeError(f"graph() takes a Tensor or a Module, got {type(source).__name__}")


def _model_graph(model: Module, example_input, target, loss_fn, level: str, saved: bool = False) -> Graph:
    if level not in ("op", "module"):
        raise ValueError(f"level must be 'op' or 'module', got {level!r}")
    if (target is None) != (loss_fn is None):
        raise TypeError("graph(model, x, target=..., loss_fn=...): give both a target and a loss, or neither")
    args = example_input if isinstance(example_input, tuple) else (example_input,)
    # float inputs become leaves that require grad, so that what a module does to its input first (an LSTM's
    # transpose) is recorded and the input gets a gradient too, as in viz.trace
    args = tuple(t.detach().requires_grad_(True) if isinstance(t, Tensor) and t.dtype.kind == "f"
                 and not t.requires_grad else t for t in args)
    output, calls = _record(model, args)
    if not isinstance(output, Tensor):
        raise TypeError(f"graph(model, x): the model returned {type(output).__name__}; a Tensor is needed")
    root = output
    if loss_fn is not None:
        if isinstance(loss_fn, Module):
            loss, loss_calls = _record(loss_fn, (output, target), prefix="loss")
            calls += loss_calls
        else:
            loss = loss_fn(output, target)
        root = loss
    if root.grad_fn is None:
        raise ValueError("graph(model, x): nothing was recorded; is grad mode off (no_grad) or does no parameter "
                         "require grad?")
    og = _OpGraph([root])
    grads = None
    if loss_fn is not None:
        wanted = og.tensors()
        found = _autograd_grad(root, wanted, retain_graph=True, allow_unused=True)
        grads = {id(t): g.array for t, g in zip(wanted, found) if g is not None}
    names = {id(p): name for name, p in model.named_parameters()}
    inputs = {id(t): "input" for t in args if isinstance(t, Tensor)}
    if isinstance(target, Tensor):
        inputs[id(target)] = "target"
    owner = _innermost_calls([n.fn for n in og.nodes], calls)
    modules = dict(model.named_modules())
    modules.update({c.path: c.module for c in calls if c.path.startswith("loss")})
    if level == "op":
        return _op_graph_in_modules(model, og, owner, names, grads, inputs, modules, saved)
    return _module_graph(og, owner, names, grads, inputs, modules)


def _op_graph_in_modules(model, og, owner, names, grads, inputs, modules, saved=False) -> Graph:
    cluster_of_op = {fn: call.path for fn, call in owner.items()}
    cluster_of_leaf = {key: names[key].rpartition(".")[0] for key in og.leaves if key in names}  # its module
    clusters = _tree(modules, set(cluster_of_op.values()) | set(cluster_of_leaf.values()))
    nodes, edges = _op_level(og, names, cluster_of_op, cluster_of_leaf, grads, inputs, saved)
    return Graph(nodes, edges, clusters, "op", f"{type(model).__name__}: operations")


def _tree(modules: dict, paths: set) -> dict:
    """Clusters for the given module paths and all their ancestors ('' is the model; 'loss' a root of its own)."""
    clusters = {}
    for path in sorted(paths):
        while path is not None and path not in clusters:
            parent = _parent_path(path)
            module = modules[path]
            label = type(module).__name__ if path == "" else f"{path}: {type(module).__name__}"
            clusters[path] = Cluster(path, label, parent)
            path = parent
    return clusters


def _module_graph(og, owner, names, grads, inputs, modules) -> Graph:
    """One node per call of a childless module; ops called directly by a container stay ops in its cluster."""
    nodes, node_of = [], {}  # node_of: a Function or id(leaf tensor) -> node index
    call_count, call_nodes = {}, {}  # path -> calls so far; id(_Call) -> node index
    for node in og.nodes:
        call = owner.get(node.fn)
        if call is not None and _is_leaf_module(call.module):
            if id(call) not in call_nodes:
                k = call_count[call.path] = call_count.get(call.path, 0) + 1
                module = call.module
                out = call.output if isinstance(call.output, Tensor) else None
                label = f"{call.path}: {type(module).__name__}" if call.path else type(module).__name__
                if k > 1:
                    label += f" (call {k})"
                details = {"module": repr(module), "input_shape": call.input_shape,
                           "output_shape": _shapes(call.output),
                           "parameters": sum(p.numel() for p in module.parameters()), "ops": 0}
                call_nodes[id(call)] = len(nodes)
                nodes.append(Node(len(nodes), label, "module", details["output_shape"],
                                  str(out.dtype) if out is not None else None, _parent_path(call.path), details,
                                  tensor_stats(out.array) if out is not None else None,
                                  tensor_stats(_grad_of(out, grads)) if out is not None else None))
            nodes[call_nodes[id(call)]].details["ops"] += 1
            node_of[node.fn] = call_nodes[id(call)]
        else:
            out = og.output_of.get(node.fn)
            cluster = call.path if call is not None else None
            node_of[node.fn] = len(nodes)
            nodes.append(Node(len(nodes), node.op, "op", tuple(node.output_shape), str(node.output_dtype), cluster,
                              {"op": node.op}, tensor_stats(out.array) if out is not None else None,
                              tensor_stats(_grad_of(out, grads)) if out is not None else None))
    edges, seen = [], set()
    for src, dst in og.edges:
        if isinstance(src, _function.Function):
            a = node_of[src]
        else:
            t = og.leaves[src]
            if nodes[node_of[dst]].kind == "module" and (src in names or (src not in inputs and not t.requires_grad)):
                continue  # a module's own parameter, or a constant it made (an RNN's zero initial state): in its box
            if src not in node_of:
                kind = "param" if src in names else "input"
                label = names.get(src) or inputs.get(src, "tensor")
                node_of[src] = len(nodes)
                nodes.append(Node(len(nodes), label, kind, tuple(t.shape), str(t.dtype), None, {},
                                  tensor_stats(t.array), tensor_stats(_grad_of(t, grads))))
            a = node_of[src]
        b = node_of[dst]
        if a != b and (a, b) not in seen:
            seen.add((a, b))
            edges.append((a, b))
    clusters = _tree(modules, {node.cluster for node in nodes if node.cluster is not None})
    model_name = modules[""].__class__.__name__
    return Graph(nodes, edges, clusters, "module", f"{model_name}: modules")


def _is_leaf_module(module: Module) -> bool:
    return not any(True for _ in module.children())



def _parent_path(path: str) -> str | None:
    """The cluster a module's node sits in: its parent module ('' is the model; the model and the loss: none)."""
    if path in ("", "loss"):
        return None
    return path.rpartition(".")[0]
