"""Tensor creation, dtypes, conversion, printing, seeding and error messages."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lamina

torch = pytest.importorskip("torch")


def test_default_dtypes_follow_pytorch():
    assert lamina.tensor([1.0, 2.0]).dtype == lamina.float32
    assert lamina.tensor([1, 2]).dtype == lamina.int64
    assert lamina.tensor([True]).dtype == lamina.bool
    assert lamina.tensor(np.zeros(2)).dtype == lamina.float64  # an ndarray keeps its dtype, as torch.tensor
    assert lamina.tensor([1, 2], dtype=lamina.float32).dtype == lamina.float32
    for make in (lamina.zeros, lamina.ones, lamina.rand, lamina.randn, lamina.empty):
        assert make(2, 3).dtype == lamina.float32 and make(2, 3).shape == (2, 3)
    assert lamina.zeros((2, 3)).shape == (2, 3)


def test_float32_ops_stay_float32_and_int_division_gives_float32():
    x = lamina.randn(3)
    for y in (x * 2.5, x / 3, x + np.float64(1.0), x.exp(), x.mean(), x**2, 1 / (x.abs() + 1)):
        assert y.dtype == lamina.float32
    ints = lamina.tensor([1, 2, 3])
    assert (ints / 2).dtype == lamina.float32 and (ints / 2).tolist() == [0.5, 1.0, 1.5]
    assert ints.mean().dtype == lamina.float32 and ints.mean().item() == 2.0
    assert (ints + 1).dtype == lamina.int64 and ints.sum().dtype == lamina.int64
    assert lamina.tensor(2.0, dtype=lamina.float64).exp().dtype == lamina.float64


def test_factories():
    assert lamina.arange(5).tolist() == [0, 1, 2, 3, 4] and lamina.arange(5).dtype == lamina.int64
    assert lamina.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert lamina.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert lamina.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert lamina.full((2,), 7).tolist() == [7, 7] and lamina.full((2,), 0.5).dtype == lamina.float32
    x = lamina.randn(2, 3)
    assert lamina.zeros_like(x).shape == (2, 3) and lamina.ones_like(x).sum().item() == 6.0
    assert lamina.randn_like(x).shape == (2, 3)
    r = lamina.randint(0, 10, (100,))
    assert r.dtype == lamina.int64 and 0 <= r.min().item() and r.max().item() < 10
    u = lamina.rand(1000)
    assert 0 <= u.min().item() and u.max().item() < 1 and abs(u.mean().item() - 0.5) < 0.05


def test_manual_seed_gives_identical_draws():
    lamina.manual_seed(42)
    a = (lamina.randn(5), lamina.rand(3), lamina.randint(0, 100, (4,)), lamina.randperm(6))
    lamina.manual_seed(42)
    b = (lamina.randn(5), lamina.rand(3), lamina.randint(0, 100, (4,)), lamina.randperm(6))
    for x, y in zip(a, b):
        assert np.array_equal(x.numpy(), y.numpy())
    g1, g2 = lamina.Generator().manual_seed(7), lamina.Generator().manual_seed(7)
    assert np.array_equal(lamina.randn(4, generator=g1).numpy(), lamina.randn(4, generator=g2).numpy())
    state = lamina.get_rng_state()
    first = lamina.randn(3).numpy()
    lamina.set_rng_state(state)
    assert np.array_equal(first, lamina.randn(3).numpy())


def test_tensor_properties_and_conversion():
    x = lamina.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.shape == (2, 3) and x.ndim == 2 and x.numel() == 6 and x.size(1) == 3 and len(x) == 2
    assert x.T.shape == (3, 2) and x.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert x.sum().item() == 21.0 and float(x[0, 1]) == 2.0
    assert x.double().dtype == lamina.float64 and x.long().dtype == lamina.int64
    assert np.asarray(x).shape == (2, 3)
    assert [row.tolist() for row in x] == [[1, 2, 3], [4, 5, 6]]
    with pytest.raises(RuntimeError, match="detach"):
        lamina.tensor([1.0], requires_grad=True).numpy()
    with pytest.raises(RuntimeError, match="6 elements"):
        x.item()


def test_repr_matches_pytorch():
    cases = [[1.0, 2.0], [0.1, 2.5], [[1.0, -2.0], [3.5, 4.25]], [1, 2, 3], 3.0]
    for data in cases:
        assert repr(lamina.tensor(data)) == repr(torch.tensor(data))
    assert repr(lamina.tensor([1.0, 2.0], requires_grad=True)) == repr(torch.tensor([1.0, 2.0], requires_grad=True))
    assert repr(lamina.tensor([1.0], dtype=lamina.float64)) == repr(torch.tensor([1.0], dtype=torch.float64)).replace(
        "torch", "lamina")
    y = lamina.tensor([1.0], requires_grad=True) * 2
    assert repr(y) == "tensor([2.], grad_fn=<MulBackward0>)"


def test_comparisons_give_bool_tensors_and_indexing_assignment():
    x = lamina.tensor([1.0, -2.0, 3.0])
    assert (x > 0).tolist() == [True, False, True] and (x == 3).dtype == lamina.bool
    x[x < 0] = 0.0
    assert x.tolist() == [1.0, 0.0, 3.0]
    assert x.argmax().item() == 2 and lamina.tensor([[1, 5], [7, 2]]).argmax(1).tolist() == [1, 0]


def test_broadcast_mismatch_names_op_and_both_shapes():
    a, b = lamina.ones(2, 3), lamina.ones(4)
    with pytest.raises(ValueError, match=r"add.*\(2, 3\).*\(4,\)"):
        a + b
    with pytest.raises(ValueError, match=r"mul.*\(2, 3\).*\(4,\)"):
        a * b


def test_matmul_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(64, 64\) and \(784, 128\)"):
        lamina.ones(64, 64) @ lamina.ones(784, 128)
    with pytest.raises(TypeError, match="float32 and float64"):
        lamina.ones(2, 2) @ lamina.ones(2, 2, dtype=lamina.float64)


def test_shape_op_errors_are_clear():
    x = lamina.ones(2, 3)
    with pytest.raises(ValueError, match=r"reshape: shape \(4, 2\) is invalid for input of shape \(2, 3\)"):
        x.reshape(4, 2)
    with pytest.raises(IndexError, match=r"shape \(2, 3\)"):
        x[5]
    with pytest.raises(ValueError, match="cat"):
        lamina.cat([lamina.ones(2, 3), lamina.ones(3, 2)], dim=0)
    with pytest.raises(ValueError, match="expand"):
        x.expand(4, 4)


def test_max_with_dim_returns_values_and_indices_like_torch():
    data = [[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]
    values, indices = lamina.tensor(data).max(dim=1)
    tv, ti = torch.tensor(data).max(dim=1)
    assert values.tolist() == tv.tolist() and indices.tolist() == ti.tolist()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=0, max_size=3), st.data())
def test_broadcast_gradients_sum_back_to_each_input_shape(shape_a, data):
    # b's shape: a suffix of a's shape with some dims set to 1
    suffix = shape_a[len(shape_a) - data.draw(st.integers(0, len(shape_a))):]
    shape_b = [1 if data.draw(st.booleans()) else n for n in suffix]
    rng = np.random.default_rng(len(shape_a))
    a_np = rng.standard_normal(shape_a).astype(np.float32)
    b_np = rng.standard_normal(shape_b).astype(np.float32)
    a, b = lamina.tensor(a_np, requires_grad=True), lamina.tensor(b_np, requires_grad=True)
    ta, tb = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
    ((a * b + b) * a).sum().backward()
    ((ta * tb + tb) * ta).sum().backward()
    assert a.grad.shape == tuple(shape_a) and b.grad.shape == tuple(shape_b)
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_from_numpy_shares_memory_and_takes_only_arrays():
    a = np.arange(3, dtype=np.float32)
    t = lamina.from_numpy(a)
    a[0] = 7
    assert t.tolist() == [7.0, 1.0, 2.0] and not t.requires_grad
    assert lamina.from_numpy(np.float32(2.5)).shape == ()
    with pytest.raises(TypeError, match="expected a NumPy array, got list"):
        lamina.from_numpy([1.0, 2.0])


@pytest.mark.parametrize("data, error, words", [
    (["a", "b"], TypeError, "list holding str values"), ([1.0, None], TypeError, "NoneType"),
    ({"a": 1}, TypeError, "from a dict"), ("text", TypeError, "from a str"),
    ([[1, 2], [3]], ValueError, "ragged"), (np.array(["a"]), TypeError, "dtype <U1"),
    (np.array([object()]), TypeError, "dtype object"),
])
def test_non_numeric_data_is_refused_saying_what_lamina_takes(data, error, words):
    with pytest.raises(error, match=words):
        lamina.tensor(data)
