"""sort, argsort, topk (against torch: values, indices, gradients, errors) and multinomial, bernoulli (shapes,
dtypes and errors against torch; their distributions by statistical tests, seeded)."""

import numpy as np
import pytest

import lamina

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)


def both(array, requires_grad=True):
    return lamina.tensor(array, requires_grad=requires_grad), torch.tensor(array, requires_grad=requires_grad)


def check_values_and_grads(ours, theirs, x, tx):
    np.testing.assert_array_equal(ours.values.detach().numpy(), theirs.values.detach().numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    assert ours.indices.dtype == lamina.int64 and ours.values.dtype == x.dtype
    w = rng.standard_normal(theirs.values.shape).astype(np.float32)
    (ours.values * lamina.tensor(w)).sum().backward()
    (theirs.values * torch.tensor(w)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("dim", [-1, 0, 1])
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("k", [1, 2, 5])
def test_topk_matches_torch(dim, largest, k):
    a = rng.permutation(5 * 5 * 5).astype(np.float32).reshape(5, 5, 5)  # distinct: the order is unique
    x, tx = both(a)
    check_values_and_grads(lamina.topk(x, k, dim=dim, largest=largest), torch.topk(tx, k, dim=dim, largest=largest),
                           x, tx)


def test_topk_partition_path_on_a_wide_dimension_matches_torch():
    a = rng.permutation(3 * 200).astype(np.float32).reshape(3, 200)
    for largest in (True, False):
        x, tx = both(a)
        check_values_and_grads(x.topk(7, largest=largest), tx.topk(7, largest=largest), x, tx)
        unsorted = x.topk(7, largest=largest, sorted=False)
        assert sorted(unsorted.indices[1].tolist()) == sorted(tx.topk(7, largest=largest).indices[1].tolist())


def test_topk_nan_is_largest_and_edge_cases():
    x, tx = both(np.array([1.0, np.nan, 3.0], np.float32), requires_grad=False)
    for largest in (True, False):
        ours, theirs = x.topk(2, largest=largest), tx.topk(2, largest=largest)
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        assert ours.indices.tolist() == theirs.indices.tolist()
    assert x.topk(0).values.shape == (0,)
    scalar = lamina.tensor(5.0).topk(1)
    assert scalar.values.item() == 5.0 and scalar.indices.shape == ()
    ints = lamina.tensor([3, 1, 2]).topk(2)
    assert ints.values.tolist() == [3, 2] and ints.values.dtype == lamina.int64


def test_topk_errors_name_the_problem():
    with pytest.raises(RuntimeError, match="k out of range .*k=4 for dimension 0 of size 3"):
        lamina.tensor([1.0, 2.0, 3.0]).topk(4)
    with pytest.raises(RuntimeError, match="k out of range"):
        lamina.tensor([1.0, 2.0, 3.0]).topk(-1)
    with pytest.raises(IndexError, match="dimension 2 is out of range"):
        lamina.tensor([[1.0, 2.0]]).topk(1, dim=2)
    with pytest.raises(RuntimeError, match="bool"):
        lamina.tensor([True, False]).topk(1)


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1])
def test_sort_is_stable_and_matches_torch(descending, dim):
    a = rng.integers(0, 4, (6, 7)).astype(np.float32)  # many ties: stable order makes the indices unique
    a[2, 3] = np.nan
    x, tx = both(a)
    ours, theirs = lamina.sort(x, dim=dim, descending=descending), torch.sort(tx, dim=dim, descending=descending,
                                                                              stable=True)
    check_values_and_grads(ours, theirs, x, tx)
    assert (lamina.argsort(x, dim=dim, descending=descending).tolist()
            == torch.argsort(tx, dim=dim, descending=descending, stable=True).tolist())


def test_sort_of_a_scalar_and_of_integers():
    s = lamina.tensor(3.0).sort()
    assert s.values.item() == 3.0 and s.indices.item() == 0
    assert lamina.tensor([2, 1, 2, 1]).sort(descending=True).indices.tolist() == [0, 2, 1, 3]
    assert lamina.tensor([2, 1, 2, 1]).argsort().tolist() == [1, 3, 0, 2]


# -- multinomial --------------------------------------------------------------------------------------------------
def test_multinomial_shapes_and_dtypes_match_torch():
    for probs, n, replacement in [([0.2, 0.3, 0.5], 2, False), ([[1.0, 2.0], [3.0, 0.0]], 5, True),
                                  ([[1.0, 2.0, 3.0]], 3, False)]:
        ours = lamina.multinomial(lamina.tensor(probs), n, replacement)
        theirs = torch.multinomial(torch.tensor(probs), n, replacement)
        assert ours.shape == tuple(theirs.shape) and ours.dtype == lamina.int64
    assert lamina.tensor([1.0, 2.0]).double().multinomial(3, True).dtype == lamina.int64


@pytest.mark.parametrize("probs,num_samples,replacement,message", [
    ([0.2, 0.3, 0.5], 4, False, "cannot sample n_sample > prob_dist.size\\(-1\\) samples without replacement"),
    ([0.2, 0.3, 0.5], 0, False, "cannot sample n_sample <= 0 samples"),
    ([-1.0, 2.0], 1, False, "probability tensor contains either `inf`, `nan` or element < 0"),
    ([np.nan, 2.0], 1, True, "probability tensor contains either `inf`, `nan` or element < 0"),
    ([[0.0, 1.0], [0.0, 0.0]], 1, False, "invalid multinomial distribution \\(sum of probabilities <= 0\\)"),
    ([[[1.0]]], 1, False, "prob_dist must be 1 or 2 dim"),
    ([1, 2, 3], 1, False, "only supports floating-point dtypes"),
])
def test_multinomial_errors_are_torchs(probs, num_samples, replacement, message):
    a = np.array(probs)
    a = a.astype(np.float32) if a.dtype.kind == "f" else a
    with pytest.raises(RuntimeError, match=message):
        torch.multinomial(torch.tensor(a), num_samples, replacement)
    with pytest.raises(RuntimeError, match=message):
        lamina.multinomial(lamina.tensor(a), num_samples, replacement)


def test_multinomial_with_replacement_follows_the_probabilities():
    lamina.manual_seed(0)
    p = np.array([[0.1, 0.0, 0.6, 0.3], [0.0, 0.0, 0.0, 2.0], [1.0, 1.0, 1.0, 1.0]], np.float32)
    draws = lamina.multinomial(lamina.tensor(p), 20000, replacement=True).numpy()
    for row, weights in zip(draws, p):
        freq = np.bincount(row, minlength=4) / row.size
        expected = weights / weights.sum()
        # 4.5 standard errors: fails by chance about once in 10^5 runs (and the seed is fixed)
        assert np.all(np.abs(freq - expected) <= 4.5 * np.sqrt(expected * (1 - expected) / row.size) + 1e-12)
        assert np.all(freq[expected == 0] == 0)


def test_multinomial_without_replacement_draws_in_order_like_sequential_sampling():
    lamina.manual_seed(1)
    p = np.array([0.5, 0.3, 0.2], np.float32)
    n = 20000
    draws = lamina.multinomial(lamina.tensor(np.tile(p, (n, 1))), 2).numpy()
    assert np.all(draws[:, 0] != draws[:, 1])  # no category twice in a row
    first = np.bincount(draws[:, 0], minlength=3) / n
    np.testing.assert_allclose(first, p, atol=4.5 * np.sqrt(0.25 / n))
    # second draw: P(j second) = sum over i != j of p_i p_j / (1 - p_i)
    second = np.bincount(draws[:, 1], minlength=3) / n
    expected = [sum(p[i] * p[j] / (1 - p[i]) for i in range(3) if i != j) for j in range(3)]
    np.testing.assert_allclose(second, expected, atol=4.5 * np.sqrt(0.25 / n))
    # zero-weight categories only after every other one
    assert lamina.multinomial(lamina.tensor([0.0, 1.0, 0.0]), 3)[0].item() == 1


def test_multinomial_is_reproducible_with_a_generator_or_the_seed():
    p = lamina.tensor([0.1, 0.2, 0.3, 0.4])
    a = lamina.multinomial(p, 10, True, generator=lamina.Generator().manual_seed(5))
    b = p.multinomial(10, True, generator=lamina.Generator().manual_seed(5))
    assert a.tolist() == b.tolist()
    lamina.manual_seed(3)
    c = p.multinomial(10, True)
    lamina.manual_seed(3)
    assert c.tolist() == p.multinomial(10, True).tolist()


# -- bernoulli ----------------------------------------------------------------------------------------------------
def test_bernoulli_frequencies_dtype_and_gradient():
    lamina.manual_seed(0)
    p = lamina.tensor(np.linspace(0, 1, 5, dtype=np.float32)[:, None].repeat(20000, 1), requires_grad=True)
    draws = lamina.bernoulli(p)
    assert draws.dtype == lamina.float32 and draws.shape == p.shape
    assert set(np.unique(draws.detach().numpy())) <= {0.0, 1.0}
    freq = draws.detach().numpy().mean(1)
    np.testing.assert_allclose(freq, np.linspace(0, 1, 5), atol=4.5 * np.sqrt(0.25 / 20000))
    assert freq[0] == 0 and freq[-1] == 1
    draws.sum().backward()  # as torch: in the graph, with a zero gradient
    assert np.all(p.grad.numpy() == 0)
    assert lamina.bernoulli(lamina.tensor([0.5], dtype=lamina.float64)).dtype == lamina.float64


def test_bernoulli_with_p_and_in_place_and_errors():
    lamina.manual_seed(0)
    x = lamina.zeros(10000)
    assert abs(x.bernoulli(0.3).numpy().mean() - 0.3) < 0.02
    assert abs(lamina.bernoulli(x, p=0.8).numpy().mean() - 0.8) < 0.02
    assert abs(x.bernoulli_(0.6).numpy().mean() - 0.6) < 0.02 and x.dtype == lamina.float32
    with pytest.raises(RuntimeError, match="in \\[0, 1\\]"):
        lamina.bernoulli(lamina.tensor([0.5, 1.5]))
    with pytest.raises(RuntimeError, match="p to be in \\[0, 1\\], but got p=1.3"):
        lamina.bernoulli(lamina.tensor([0.5]), 1.3)
    with pytest.raises(TypeError, match="floating-point"):
        lamina.bernoulli(lamina.tensor([1, 0]))
    a = lamina.full((50,), 0.5).bernoulli(generator=lamina.Generator().manual_seed(2))
    b = lamina.full((50,), 0.5).bernoulli(generator=lamina.Generator().manual_seed(2))
    assert a.tolist() == b.tolist()


def test_topk_and_sort_values_pass_gradcheck():
    from lamina.autograd.gradcheck import gradcheck

    x = lamina.tensor(rng.permutation(24).reshape(4, 6).astype(np.float64) / 7, requires_grad=True)
    assert gradcheck(lambda t: t.topk(3, dim=1).values, (x,))
    assert gradcheck(lambda t: t.sort(dim=0, descending=True).values, (x,))
