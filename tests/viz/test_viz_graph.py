"""lamina.viz.graph: the drawn graph has the autograd graph's nodes and edges, and the model's module tree."""

import numpy as np
import pytest

import lamina
from lamina import nn, viz
from lamina.autograd.graph import leaves, walk


def mlp():
    lamina.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3))


def batch():
    lamina.manual_seed(1)
    return lamina.randn(6, 4), lamina.tensor([0, 1, 2, 0, 1, 2])


def test_op_graph_has_one_node_per_function_and_leaf_and_one_edge_per_producer_consumer_pair():
    model, (x, y) = mlp(), batch()
    loss = nn.CrossEntropyLoss()(model(x), y)
    g = viz.graph(loss, params=dict(model.named_parameters()))
    nodes = list(walk(loss))
    pairs = set()
    for node in nodes:
        for t in node.inputs:
            pairs.add((id(t.grad_fn) if t.grad_fn is not None else id(t), id(node.fn)))
    assert g.level == "op"
    assert len(g.nodes) == len(nodes) + len(leaves(loss))
    assert len(g.edges) == len(pairs)
    assert [n.label for n in g.nodes if n.kind == "op"] == [n.op for n in nodes]
    assert sorted(n.label for n in g.nodes if n.kind == "param") == sorted(model.state_dict())
    assert all(b > a or g.nodes[a].kind != "op" for a, b in g.edges)  # producers before consumers


def test_op_graph_shows_values_and_after_backward_the_parameter_gradients():
    model, (x, y) = mlp(), batch()
    loss = nn.CrossEntropyLoss()(model(x), y)
    before = viz.graph(loss, params=dict(model.named_parameters()))
    assert all(n.grad is None for n in before.nodes)
    loss.backward()
    g = viz.graph(loss, params=dict(model.named_parameters()))
    params = dict(model.named_parameters())
    for node in g.nodes:
        assert node.value is not None, node.label
        if node.kind == "param":
            grad = params[node.label].grad.array
            assert node.grad["norm"] == pytest.approx(float(np.linalg.norm(grad)), rel=1e-5)
            assert node.grad["min"] == pytest.approx(float(grad.min()))
            assert node.shape == tuple(params[node.label].shape) and node.dtype == "float32"
    assert g.nodes[-1].value["mean"] == pytest.approx(loss.item())


def test_module_graph_has_one_node_per_layer_call_and_the_model_as_a_cluster():
    model, (x, _) = mlp(), batch()
    g = viz.graph(model, x)
    assert g.level == "module"
    layers = [name for name, m in model.named_modules() if not list(m.children())]
    assert [n.label for n in g.nodes if n.kind == "module"] == [f"{name}: {type(model[int(name)]).__name__}"
                                                                 for name in layers]
    assert [n.label for n in g.nodes if n.kind != "module"] == ["input"]
    assert len(g.edges) == len(layers)  # a chain: input -> 0 -> 1 -> 2 -> 3 -> 4
    assert set(g.clusters) == {""} and g.clusters[""].label == "Sequential"
    first = g.nodes[0]
    assert first.details["input_shape"] == (6, 4) and first.details["output_shape"] == (6, 16)
    assert first.details["parameters"] == 4 * 16 + 16
    for hooks in [m._forward_hooks for m in model.modules()] + [m._forward_pre_hooks for m in model.modules()]:
        assert not hooks  # every temporary hook is gone


def test_nested_modules_become_nested_clusters_and_ops_are_grouped_by_their_innermost_module():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Sequential(nn.Linear(8, 8), nn.ReLU()), nn.Linear(8, 2))
    x, y = lamina.randn(5, 4), lamina.tensor([0, 1, 1, 0, 1])
    g = viz.graph(model, x, target=y, loss_fn=nn.CrossEntropyLoss(), level="op")
    assert g.clusters["1"].parent == "" and g.clusters["1.0"].parent == "1" and g.clusters["loss"].parent is None
    ops = {n.label: n.cluster for n in g.nodes if n.kind == "op"}
    assert ops["ReLU"] == "1.1"
    assert [n.cluster for n in g.nodes if n.kind == "op"] == ["0", "1.0", "1.1", "2", "loss"]
    loss = nn.CrossEntropyLoss()(model(x), y)
    assert len([n for n in g.nodes if n.kind == "op"]) == len(list(walk(loss)))
    modules = viz.graph(model, x, target=y, loss_fn=nn.CrossEntropyLoss())
    assert [n.cluster for n in modules.nodes if n.kind == "module"] == ["", "1", "1", "", None]
    assert [n.label for n in modules.nodes if n.kind == "input"] == ["input", "target"]


def test_module_graph_with_a_loss_shows_gradients_without_touching_grad():
    model, (x, y) = mlp(), batch()
    g = viz.graph(model, x, target=y, loss_fn=nn.CrossEntropyLoss())
    assert all(p.grad is None for p in model.parameters())
    out = model(x)
    out.retain_grad()
    nn.CrossEntropyLoss()(out, y).backward()
    last = [n for n in g.nodes if n.kind == "module"][-2]  # the last Linear; the loss comes after it
    assert last.grad["norm"] == pytest.approx(float(np.linalg.norm(out.grad.array)), rel=1e-5)


def test_ops_a_container_calls_itself_stay_ops_in_its_cluster():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            return x + self.fc(x).relu()

    model = Residual()
    g = viz.graph(model, lamina.randn(2, 3))
    assert sorted((n.kind, n.label) for n in g.nodes) == [("input", "input"), ("module", "fc: Linear"),
                                                          ("op", "Add"), ("op", "ReLU")]
    assert {n.label: n.cluster for n in g.nodes}["Add"] == ""
    assert len(g.edges) == 4  # input -> fc, fc -> ReLU, ReLU -> Add, input -> Add


def test_a_module_called_twice_gets_a_node_per_call():
    lamina.manual_seed(0)
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    g = viz.graph(model, lamina.randn(2, 3))
    assert [n.label for n in g.nodes if n.kind == "module"] == ["0: Linear", "1: Tanh", "0: Linear (call 2)"]


def test_errors_name_the_problem():
    model, (x, y) = mlp(), batch()
    with pytest.raises(TypeError, match="example input"):
        viz.graph(model)
    with pytest.raises(TypeError, match="Tensor or a Module"):
        viz.graph([1, 2])
    with pytest.raises(ValueError, match="no recorded graph"):
        viz.graph(x)
    with pytest.raises(TypeError, match="both a target and a loss"):
        viz.graph(model, x, target=y)
    with pytest.raises(ValueError, match="level"):
        viz.graph(model, x, level="layer")
    with lamina.no_grad(), pytest.raises(ValueError, match="nothing was recorded"):
        viz.graph(model, x)


def test_a_chain_of_10000_ops_builds_and_lays_out_without_recursion():
    import sys

    x = lamina.ones(2, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # a recursive walk or layout would fail at once
    try:
        g = viz.graph(y)
        from lamina.viz.render import draw

        drawing = draw(g)
    finally:
        sys.setrecursionlimit(limit)
    assert len(g.nodes) == 10_001 and len(g.edges) == 10_000
    assert len(set(drawing.layout.row)) == 10_001  # one row per node: a chain
    assert drawing.layout.y == sorted(drawing.layout.y)


def test_saved_arrays_are_drawn_with_what_they_are_and_their_size_until_backward_releases_them():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2))
    x, y = lamina.randn(5, 3), lamina.tensor([0, 1, 0, 1, 1])
    loss = nn.CrossEntropyLoss()(model(x), y)
    plain = viz.graph(loss, params=dict(model.named_parameters()))
    g = viz.graph(loss, params=dict(model.named_parameters()), saved=True)
    saved = [n for n in g.nodes if n.kind == "saved"]
    expected = sum(sum(isinstance(a, np.ndarray) for a in node.fn.saved) for node in walk(loss))
    assert len(saved) == expected > 0
    assert len(g.nodes) == len(plain.nodes) + len(saved) and len(g.edges) == len(plain.edges) + len(saved)
    by_op = {}
    for a, b in g.edges:
        if g.nodes[a].kind == "saved":
            assert g.nodes[b].kind == "op" and g.nodes[b].label == g.nodes[a].details["saved by"]
            by_op.setdefault(g.nodes[b].label, []).append(g.nodes[a])
    relu = by_op["ReLU"][0]  # ReLU keeps its output; dropout its own mask; Linear its input and weight
    assert relu.label == "saved: output" and relu.details["bytes"] == 5 * 4 * 4
    assert by_op["Dropout"][0].details["is"] == "own array"
    linear = next(name for name in by_op if "Linear" in name)
    assert sorted(n.details["is"] for n in by_op[linear][:2]) == ["input 0", "input 1"]
    mask = [n for n in walk(loss) if n.op == "Dropout"][0].fn.saved[0]
    assert by_op["Dropout"][0].value["mean"] == pytest.approx(float(mask.mean()))
    assert 'class="edge saved"' in g.to_svg() and "style=dashed" in g.to_dot()
    loss.backward()
    after = viz.graph(loss, params=dict(model.named_parameters()), saved=True)
    assert not any(n.kind == "saved" for n in after.nodes)
    assert all(n.details["saved"] == "released by backward" for n in after.nodes if n.kind == "op")


def test_saved_arrays_in_a_model_graph_sit_in_the_module_of_their_op():
    model, (x, y) = mlp(), batch()
    g = viz.graph(model, x, target=y, loss_fn=nn.CrossEntropyLoss(), level="op", saved=True)
    for a, b in g.edges:
        if g.nodes[a].kind == "saved":
            assert g.nodes[a].cluster == g.nodes[b].cluster
    assert any(n.kind == "saved" and n.cluster == "0" for n in g.nodes)
    with pytest.raises(ValueError, match="level='op'"):
        viz.graph(model, x, saved=True)
