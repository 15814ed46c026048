"""The graph walker: every node, its op, inputs, output and non-tensor arguments, with no per-op knowledge."""

import numpy as np

import lamina
from lamina import nn
from lamina.autograd import graph


def test_walks_a_model_in_order_with_shapes_dtypes_and_arguments():
    lamina.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 40), nn.ReLU(), nn.Linear(40, 30))  # too big for the tiny fused Linear
    x = lamina.randn(5, 16)
    loss = model(x).log_softmax(dim=1).sum(dim=0).mean()
    nodes = list(graph.walk(loss))
    assert [n.op for n in nodes] == ["Linear", "ReLU", "Linear", "LogSoftmax", "Sum", "Mean"]
    first = nodes[0]
    assert first.input_shapes == [(5, 16), (40, 16), (40,)] and first.output_shape == (5, 40)
    assert first.input_dtypes == [np.float32] * 3 and first.output_dtype == np.float32
    assert first.inputs[1] is model[0].weight
    assert nodes[3].args == {"dim": 1}
    assert nodes[4].args == {"dim": 0, "keepdim": False}
    assert nodes[-1].output_shape == ()
    assert [n.fn.seq for n in nodes] == sorted(n.fn.seq for n in nodes)
    params = {id(p) for p in model.parameters()}
    assert {id(t) for t in graph.leaves(loss)} == params | {id(x)}


def test_positional_non_tensor_arguments_are_named_by_forward():
    x = lamina.randn(3, requires_grad=True)
    (node,) = graph.walk(x.round())
    assert node.op == "Step" and list(node.args.values()) == [np.round]


def test_a_node_used_twice_is_yielded_once_and_a_long_chain_needs_no_recursion():
    x = lamina.ones(1, requires_grad=True)
    y = x * 2
    z = y * y + y
    assert [n.op for n in graph.walk(z)] == ["Mul", "Mul", "Add"]
    for _ in range(10_000):
        z = z * 1.0
    assert sum(1 for _ in graph.walk(z)) == 10_003


def test_in_place_changes_appear_as_their_own_nodes():
    x = lamina.ones(2, requires_grad=True)
    h = x * 2
    y = h.exp()
    h += 1
    ops = [n.op for n in graph.walk(y + h)]
    assert ops == ["Mul", "Exp", "Add", "Add"]


def test_the_node_is_the_algorithm_that_ran():
    lamina.manual_seed(0)
    tiny = nn.Linear(2, 3)
    (node,) = graph.walk(tiny(lamina.randn(4, 2)))
    assert node.op == "TinyLinear" and isinstance(node.fn, lamina.ops.linalg.Linear)
