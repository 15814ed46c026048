"""scaled_dot_product_attention and MultiheadAttention against torch: outputs, attention weights and every
gradient over each mask kind (boolean and float, attn_mask and key_padding_mask, causal), batch_first, kdim/vdim,
bias_kv, zero attention, unbatched input; the opposite boolean conventions of the two; errors name the layer."""

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn import functional as F

torch = pytest.importorskip("torch")
rng = np.random.default_rng(0)


def close(ours, theirs, rtol=1e-5, atol=1e-5):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=rtol, atol=atol)


def leaves(*shapes):
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    return [lamina.tensor(a, requires_grad=True) for a in arrays], [torch.tensor(a, requires_grad=True)
                                                                    for a in arrays]


def backprop(out, tout):
    w = rng.standard_normal(tuple(tout.shape)).astype(np.float32)
    (out * lamina.tensor(w)).sum().backward()
    (tout * torch.from_numpy(w)).sum().backward()


def keep_mask(shape, p=0.6):
    """A random boolean mask with column 0 always True (no query loses every key)."""
    m = rng.random(shape) < p
    m[..., 0] = True
    return m


SDPA_MASKS = {
    "none": lambda: None,
    "bool": lambda: keep_mask((3, 5)),
    "bool_broadcast": lambda: keep_mask((2, 1, 3, 5)),
    "float": lambda: rng.standard_normal((2, 2, 3, 5)).astype(np.float32),
    "float_inf": lambda: np.where(keep_mask((3, 5)), 0.0, -np.inf).astype(np.float32),
}


@pytest.mark.parametrize("mask_kind", list(SDPA_MASKS))
@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_sdpa_matches_torch(mask_kind, is_causal, scale):
    (q, k, v), (tq, tk, tv) = leaves((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 6))
    m = SDPA_MASKS[mask_kind]()
    if is_causal and m is not None:
        with pytest.raises(RuntimeError, match="attn_mask should not be set when is_causal=True"):
            F.scaled_dot_product_attention(q, k, v, lamina.tensor(m), is_causal=True)
        return
    out = F.scaled_dot_product_attention(q, k, v, None if m is None else lamina.tensor(m), is_causal=is_causal,
                                         scale=scale)
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, None if m is None else torch.from_numpy(m),
                                                            is_causal=is_causal, scale=scale)
    close(out.detach().numpy(), tout)
    backprop(out, tout)
    for a, b in zip((q, k, v), (tq, tk, tv)):
        close(a.grad.numpy(), b.grad)


def test_sdpa_query_that_may_attend_nowhere_gets_zeros_and_no_nan_gradient():
    (q, k, v), (tq, tk, tv) = leaves((1, 3, 4), (1, 3, 4), (1, 3, 4))
    m = np.ones((3, 3), bool)
    m[1] = False
    out = F.scaled_dot_product_attention(q, k, v, lamina.tensor(m))
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, torch.from_numpy(m))
    assert not out.detach().numpy()[0, 1].any()
    close(out.detach().numpy(), tout)
    backprop(out, tout)
    for a, b in zip((q, k, v), (tq, tk, tv)):
        assert np.isfinite(a.grad.numpy()).all()
        close(a.grad.numpy(), b.grad)


def test_sdpa_grouped_query_attention():
    (q, k, v), (tq, tk, tv) = leaves((2, 4, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4))
    out = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, enable_gqa=True)
    close(out.detach().numpy(), tout)
    backprop(out, tout)
    close(k.grad.numpy(), tk.grad)


def test_sdpa_errors():
    q = lamina.randn(2, 3, 4)
    with pytest.raises(nn.LayerInputError, match="^scaled_dot_product_attention: expected attn_mask of dtype bool"):
        F.scaled_dot_product_attention(q, q, q, lamina.tensor(np.zeros((3, 3), np.int64)))
    with pytest.raises(nn.LayerInputError, match=r"attn_mask of shape \(4, 3\) does not broadcast"):
        F.scaled_dot_product_attention(q, q, q, lamina.ones(4, 3).bool())
    with pytest.raises(nn.LayerInputError, match="need the same E"):
        F.scaled_dot_product_attention(q, lamina.randn(2, 3, 5), q)


def make_mha(*args, **kwargs):
    theirs = torch.nn.MultiheadAttention(*args, **kwargs)
    ours = nn.MultiheadAttention(*args, **kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


MHA_MASKS = {  # (key_padding_mask, attn_mask) for N=2, heads=2, L=3, S=4; booleans True = masked out
    "none": lambda: (None, None),
    "key_padding_bool": lambda: (~keep_mask((2, 4)), None),
    "key_padding_float": lambda: (rng.standard_normal((2, 4)).astype(np.float32), None),
    "attn_bool": lambda: (None, ~keep_mask((3, 4))),
    "attn_float": lambda: (None, rng.standard_normal((3, 4)).astype(np.float32)),
    "attn_3d_bool": lambda: (None, ~keep_mask((4, 3, 4))),
    "both": lambda: (~keep_mask((2, 4)), ~keep_mask((3, 4))),
}


def mha_call(module, q, k, v, kpm, am, lib, **kwargs):
    wrap = (lambda a: None if a is None else lamina.tensor(a)) if lib == "lamina" else \
        (lambda a: None if a is None else torch.from_numpy(a))
    return module(q, k, v, key_padding_mask=wrap(kpm), attn_mask=wrap(am), **kwargs)


@pytest.mark.parametrize("mask_kind", list(MHA_MASKS))
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_mha_masks_and_weights_match_torch(mask_kind, need_weights, average):
    ours, theirs = make_mha(8, 2)
    (q, k, v), (tq, tk, tv) = leaves((3, 2, 8), (4, 2, 8), (4, 2, 8))
    kpm, am = MHA_MASKS[mask_kind]()
    out, w = mha_call(ours, q, k, v, kpm, am, "lamina", need_weights=need_weights, average_attn_weights=average)
    tout, tw = mha_call(theirs, tq, tk, tv, kpm, am, "torch", need_weights=need_weights,
                        average_attn_weights=average)
    close(out.detach().numpy(), tout)
    if need_weights:
        close(w.detach().numpy(), tw)
    else:
        assert w is None and tw is None
    backprop(out, tout)
    for a, b in zip((q, k, v), (tq, tk, tv)):
        close(a.grad.numpy(), b.grad)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        close(p.grad.numpy(), tp.grad)


@pytest.mark.parametrize("options", [
    {"batch_first": True}, {"kdim": 3, "vdim": 5}, {"bias": False}, {"add_bias_kv": True},
    {"add_zero_attn": True}, {"add_bias_kv": True, "add_zero_attn": True, "kdim": 6, "batch_first": True},
])
def test_mha_options_match_torch(options):
    ours, theirs = make_mha(8, 4, **options)
    kdim, vdim = options.get("kdim", 8), options.get("vdim", 8)
    bf = options.get("batch_first", False)
    shape = (lambda L, E: (2, L, E)) if bf else (lambda L, E: (L, 2, E))
    (q, k, v), (tq, tk, tv) = leaves(shape(3, 8), shape(4, kdim), shape(4, vdim))
    kpm, am = ~keep_mask((2, 4)), ~keep_mask((3, 4))
    out, w = mha_call(ours, q, k, v, kpm, am, "lamina")
    tout, tw = mha_call(theirs, tq, tk, tv, kpm, am, "torch")
    close(out.detach().numpy(), tout)
    close(w.detach().numpy(), tw)
    backprop(out, tout)
    for a, b in zip((q, k, v), (tq, tk, tv)):
        close(a.grad.numpy(), b.grad)
    for p, tp in zip(ours.parameters(), theirs.parameters()):
        close(p.grad.numpy(), tp.grad)


def test_mha_self_attention_unbatched_and_causal():
    ours, theirs = make_mha(6, 3)
    (x,), (tx,) = leaves((5, 6))
    causal = nn.Transformer.generate_square_subsequent_mask(5)
    tcausal = torch.nn.Transformer.generate_square_subsequent_mask(5)
    close(causal.numpy(), tcausal)
    out, w = ours(x, x, x, attn_mask=causal, is_causal=True)
    tout, tw = theirs(tx, tx, tx, attn_mask=tcausal, is_causal=True)
    assert out.shape == (5, 6) and w.shape == (5, 5)
    close(out.detach().numpy(), tout)
    close(w.detach().numpy(), tw)
    backprop(out, tout)
    close(x.grad.numpy(), tx.grad)
    with pytest.raises(RuntimeError, match="Need attn_mask"):
        ours(x, x, x, is_causal=True)


def test_mha_boolean_convention_is_the_opposite_of_sdpa():
    """nn.MultiheadAttention: True = masked out; F.scaled_dot_product_attention: True = may attend."""
    mha = nn.MultiheadAttention(4, 1, bias=False)
    with lamina.no_grad():
        mha.in_proj_weight.copy_(np.concatenate([np.eye(4)] * 3))
        mha.out_proj.weight.copy_(np.eye(4))
    x = lamina.randn(3, 1, 4)
    masked_out = lamina.tensor([[False, True, True]] * 3)  # every query sees key 0 only
    out, w = mha(x, x, x, attn_mask=masked_out)
    np.testing.assert_allclose(w.detach().numpy()[0], [[1, 0, 0]] * 3)
    np.testing.assert_allclose(out.detach().numpy()[:, 0], np.repeat(x.numpy()[:1, 0], 3, 0), rtol=1e-6)
    xs = x.transpose(0, 1)  # (1, 3, 4): batch, length, features
    may_attend = F.scaled_dot_product_attention(xs, xs, xs, attn_mask=masked_out)  # the same mask, the opposite
    assert not np.allclose(may_attend.numpy()[0], out.detach().numpy()[:, 0])
    expected = F.scaled_dot_product_attention(xs, xs, xs, attn_mask=~masked_out)
    np.testing.assert_allclose(expected.numpy()[0], np.repeat(x.numpy()[:1, 0], 3, 0), rtol=1e-6)


class Parent(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.layers = layers

    def forward(self, q, kv):
        return self.layers["attn"](q, kv, kv)


def test_mha_init_and_errors():
    lamina.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4)
    bound = np.sqrt(6 / (16 + 48))
    w = mha.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert not mha.in_proj_bias.detach().numpy().any() and not mha.out_proj.bias.detach().numpy().any()
    assert repr(mha) == repr(torch.nn.MultiheadAttention(16, 4))
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    model = nn.ModuleDict({"attn": mha})
    x = lamina.randn(3, 2, 16)
    with pytest.raises(nn.LayerInputError, match=r"(?s)^model\.layers\.attn \(MultiheadAttention\(.*\)\): "
                                                 r"expected query with 16 features"):
        Parent(model)(lamina.randn(3, 2, 8), x)
    with pytest.raises(nn.LayerInputError, match=r"expected key_padding_mask of shape \(2, 3\)"):
        mha(x, x, x, key_padding_mask=lamina.ones(3, 2).bool())
    with pytest.raises(nn.LayerInputError, match=r"expected attn_mask of shape \(3, 3\)"):
        mha(x, x, x, attn_mask=lamina.ones(2, 3, 3).bool())
    with pytest.raises(nn.LayerInputError, match="expected key_padding_mask of dtype bool or float32"):
        mha(x, x, x, key_padding_mask=lamina.ones(2, 3).long())
