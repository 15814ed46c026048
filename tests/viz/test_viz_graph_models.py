"""The drawn graphs of a CNN and an LSTM (besides the MLP of test_viz_graph.py) have the autograd graph's nodes and
edges at the op level, and the module tree's layer calls at the module level."""

import lamina
from lamina import nn, viz
from lamina.autograd.graph import leaves, walk


def cnn():
    lamina.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3, padding=1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))


class Tagger(nn.Module):
    """A two-layer bidirectional LSTM read at its last step, then a linear head."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(5, 6, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(12, 3)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def autograd_counts(loss):
    """(ops, leaf tensors, producer -> consumer pairs) of the recorded graph."""
    nodes = list(walk(loss))
    pairs = set()
    for node in nodes:
        for t in node.inputs:
            pairs.add((id(t.grad_fn) if t.grad_fn is not None else id(t), id(node.fn)))
    return nodes, leaves(loss), pairs


def check_op_level(model, x, y):
    g = viz.graph(model, x, target=y, loss_fn=nn.CrossEntropyLoss(), level="op")
    x = x.detach().requires_grad_(True)  # as graph() draws a float input: a leaf that requires grad
    nodes, leaf_tensors, pairs = autograd_counts(nn.CrossEntropyLoss()(model(x), y))
    assert [n.label for n in g.nodes if n.kind == "op"] == [n.op for n in nodes]
    assert len(g.nodes) == len(nodes) + len(leaf_tensors)
    assert len(g.edges) == len(pairs)
    assert sorted(n.label for n in g.nodes if n.kind == "param") == sorted(n for n, _ in model.named_parameters())
    paths = {name for name, _ in model.named_modules()}
    assert set(g.clusters) <= paths | {"loss"}
    for node in g.nodes:  # each parameter sits in the cluster of the module that owns it
        if node.kind == "param":
            assert node.cluster == node.label.rpartition(".")[0]
    return g


def check_module_level(model, x, y, leaf_modules):
    g = viz.graph(model, x, target=y, loss_fn=nn.CrossEntropyLoss())
    modules = dict(model.named_modules())
    layers = [f"{name}: {type(modules[name]).__name__}" for name in leaf_modules]
    assert [n.label for n in g.nodes if n.kind == "module"] == layers + ["loss: CrossEntropyLoss"]
    for node in g.nodes:
        if node.kind == "module" and not node.label.startswith("loss"):
            name = node.label.split(":")[0]
            assert node.details["parameters"] == sum(p.numel() for p in modules[name].parameters())
    return g


def test_cnn_graphs_match_the_autograd_graph_and_the_module_tree():
    model = cnn()
    lamina.manual_seed(1)
    x, y = lamina.randn(2, 1, 8, 8), lamina.tensor([0, 2])
    g = check_op_level(model, x, y)
    ops = [(n.label, n.cluster) for n in g.nodes if n.kind == "op"]
    assert ops[:4] == [("Convolution", "0"), ("ReLU", "1"), ("MaxPool", "2"), ("Convolution", "3")]
    assert len(ops) == len(model) + 1  # one node per layer (a convolution: im2col + GEMM inside) and the loss
    leaf_modules = [name for name, m in model.named_modules() if name and not list(m.children())]
    m = check_module_level(model, x, y, leaf_modules)
    assert len(m.nodes) == len(leaf_modules) + 3  # + input, target, loss
    assert len(m.edges) == len(leaf_modules) + 2  # a chain: input -> 0 -> ... -> 7 -> loss <- target
    assert m.nodes[0].details["output_shape"] == (2, 4, 8, 8)


def test_lstm_graphs_match_the_autograd_graph_and_the_module_tree():
    model = Tagger()
    lamina.manual_seed(1)
    x, y = lamina.randn(3, 4, 5), lamina.tensor([0, 1, 2])
    g = check_op_level(model, x, y)
    ops = [n.label for n in g.nodes if n.kind == "op" and n.cluster == "lstm"]
    assert ops.count("LSTM") == 4  # one node per layer and direction
    assert ops.count("Cat") == 2  # each layer joins its two directions
    assert sum(1 for n in g.nodes if n.kind == "param" and n.cluster == "lstm") == 16  # 4 tensors x 2 x 2
    assert sum(1 for n in g.nodes if n.label == "tensor") == 8  # the zero initial h and c of each LSTM node
    assert [n.label for n in g.nodes if n.kind == "op" and n.cluster == ""] == ["GetItem"]  # out[:, -1]: the model's
    m = check_module_level(model, x, y, ["lstm", "head"])
    # input -> lstm -> GetItem -> head -> loss <- target: the initial states are constants inside the LSTM's box
    assert [(n.label, n.kind) for n in m.nodes] == [("lstm: LSTM", "module"), ("GetItem", "op"),
                                                    ("head: Linear", "module"), ("loss: CrossEntropyLoss", "module"),
                                                    ("input", "input"), ("target", "input")]
    assert len(m.edges) == 5
    assert m.nodes[0].details["output_shape"] == [(3, 4, 12), [(4, 3, 6), (4, 3, 6)]]  # output, (h_n, c_n)
