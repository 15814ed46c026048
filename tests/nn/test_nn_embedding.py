"""Embedding and EmbeddingBag against torch: lookups, gradients with repeated indices, padding_idx, max_norm,
from_pretrained, offsets, per_sample_weights; the scatter-add's two algorithms agree; errors name the layer."""

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn import functional as F
from lamina.ops.embedding import scatter_add_rows

torch = pytest.importorskip("torch")
rng = np.random.default_rng(0)


def close(ours, theirs, rtol=1e-5, atol=1e-6):
    np.testing.assert_allclose(np.asarray(ours), theirs.detach().numpy(), rtol=rtol, atol=atol)


def pair(module, tmodule):
    tmodule.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in module.state_dict().items()})
    return module, tmodule


@pytest.mark.parametrize("dim", [3, 16])  # narrow rows: bincount per column; wide rows: sort + reduceat
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("scale_grad_by_freq", [False, True])
def test_embedding_matches_torch(dim, padding_idx, scale_grad_by_freq):
    ours, theirs = pair(nn.Embedding(7, dim, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq),
                        torch.nn.Embedding(7, dim, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq))
    idx = np.array([[1, 2, 2, 6], [0, 1, 1, 1], [5, 2, 6, 3]])  # repeated indices
    y, ty = ours(lamina.tensor(idx)), theirs(torch.from_numpy(idx))
    assert y.dtype == np.float32 and y.shape == (3, 4, dim)
    close(y.detach().numpy(), ty)
    g = rng.standard_normal(ty.shape).astype(np.float32)
    y.backward(g)
    ty.backward(torch.from_numpy(g))
    close(ours.weight.grad.numpy(), theirs.weight.grad)


def test_padding_row_starts_at_zero_and_init_is_standard_normal():
    lamina.manual_seed(0)
    emb = nn.Embedding(1000, 50, padding_idx=3)
    w = emb.weight.detach().numpy()
    assert not w[3].any() and abs(w.std() - 1) < 0.02 and abs(w.mean()) < 0.02
    assert repr(emb) == "Embedding(1000, 50, padding_idx=3)"
    assert repr(nn.Embedding(5, 2, max_norm=1.0)) == repr(torch.nn.Embedding(5, 2, max_norm=1.0))


def test_max_norm_renormalises_the_looked_up_rows_in_place_as_torch():
    ours, theirs = pair(nn.Embedding(6, 4, max_norm=1.5), torch.nn.Embedding(6, 4, max_norm=1.5))
    idx = np.array([0, 2, 2, 5])
    y, ty = ours(lamina.tensor(idx)), theirs(torch.from_numpy(idx))
    close(y.detach().numpy(), ty)
    close(ours.weight.detach().numpy(), theirs.weight)  # rows 0, 2, 5 shrunk; the others untouched
    y.sum().backward()
    ty.sum().backward()
    close(ours.weight.grad.numpy(), theirs.weight.grad)


def test_from_pretrained_freezes_and_copies():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    emb = nn.Embedding.from_pretrained(lamina.tensor(table))
    assert not emb.weight.requires_grad and list(emb.parameters())
    np.testing.assert_array_equal(emb(lamina.tensor([3, 0])).numpy(), table[[3, 0]])
    table[0] = -1
    assert emb.weight.array[0, 0] == 0  # a copy
    trainable = nn.Embedding.from_pretrained(lamina.tensor(table), freeze=False, padding_idx=1)
    trainable(lamina.tensor([1, 2, 1])).sum().backward()
    np.testing.assert_array_equal(trainable.weight.grad.numpy()[:, 0], [0, 0, 1, 0])


def test_functional_embedding_and_int32_indices():
    w = lamina.randn(5, 2, requires_grad=True)
    idx = np.array([4, 4, 0], dtype=np.int32)
    out = F.embedding(lamina.tensor(idx), w)
    np.testing.assert_array_equal(out.detach().numpy(), w.detach().numpy()[idx])
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [1, 0, 0, 0, 2])


@pytest.mark.parametrize("n,dim", [(3, 1), (50, 8), (50, 9), (100_000, 32)])
def test_scatter_add_rows_agrees_with_add_at(n, dim):
    index = rng.integers(0, n, 3000)
    rows = rng.standard_normal((3000, dim)).astype(np.float32)
    expected = np.zeros((n, dim), np.float32)
    np.add.at(expected, index, rows)
    out = scatter_add_rows(index, rows, n)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_embedding_errors_name_the_layer_the_index_and_the_size():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2))
    with pytest.raises(nn.LayerInputError, match=r"^model\.0 \(Embedding\(10, 4\)\): index 12 is out of range "
                                                 r"for an embedding of size 10"):
        model(lamina.tensor([[1, 12]]))
    with pytest.raises(nn.LayerInputError, match="index -1 is out of range"):
        model(lamina.tensor([-1]))
    with pytest.raises(nn.LayerInputError, match="expected integer indices"):
        model(lamina.tensor([1.0]))
    with pytest.raises(ValueError, match=r"^embedding: index 5"):
        F.embedding(lamina.tensor([5]), lamina.randn(5, 2))


@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding_bag_2d_and_offsets_match_torch(mode, padding_idx):
    ours, theirs = pair(nn.EmbeddingBag(8, 5, mode=mode, padding_idx=padding_idx),
                        torch.nn.EmbeddingBag(8, 5, mode=mode, padding_idx=padding_idx))
    idx2 = np.array([[1, 2, 1], [7, 1, 1], [0, 3, 3]])
    flat = np.array([1, 2, 4, 4, 1, 7, 0, 1])
    offsets = np.array([0, 3, 3, 6])  # one empty bag
    for args in [(idx2,), (flat, offsets)]:
        ours.zero_grad()
        theirs.zero_grad()
        y = ours(*(lamina.tensor(a) for a in args))
        ty = theirs(*(torch.from_numpy(a) for a in args))
        close(y.detach().numpy(), ty)
        g = rng.standard_normal(ty.shape).astype(np.float32)
        y.backward(g)
        ty.backward(torch.from_numpy(g))
        close(ours.weight.grad.numpy(), theirs.weight.grad)


def test_embedding_bag_per_sample_weights_and_include_last_offset():
    ours, theirs = pair(nn.EmbeddingBag(6, 3, mode="sum", include_last_offset=True),
                        torch.nn.EmbeddingBag(6, 3, mode="sum", include_last_offset=True))
    idx, offsets = np.array([0, 5, 5, 2, 1]), np.array([0, 2, 5])
    psw = rng.standard_normal(5).astype(np.float32)
    pl, pt = lamina.tensor(psw, requires_grad=True), torch.tensor(psw, requires_grad=True)
    y = ours(lamina.tensor(idx), lamina.tensor(offsets), pl)
    ty = theirs(torch.from_numpy(idx), torch.from_numpy(offsets), pt)
    close(y.detach().numpy(), ty)
    g = rng.standard_normal(ty.shape).astype(np.float32)
    y.backward(g)
    ty.backward(torch.from_numpy(g))
    close(ours.weight.grad.numpy(), theirs.weight.grad)
    close(pl.grad.numpy(), pt.grad)
    assert repr(ours) == repr(theirs)
