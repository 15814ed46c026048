"""Transformer layers against torch (weights copied through state_dict): outputs and every gradient over
post-norm and pre-norm, batch_first, relu and gelu, each mask kind; PyTorch's defaults, keys and causal mask."""

import numpy as np
import pytest

import lamina
from lamina import nn

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor:UserWarning")  # torch's, not ours
rng = np.random.default_rng(0)


def close(ours, theirs, rtol=1e-5, atol=2e-5):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=rtol, atol=atol)


def copy_weights(ours, theirs):
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})


def leaves(*shapes):
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    return [lamina.tensor(a, requires_grad=True) for a in arrays], [torch.tensor(a, requires_grad=True)
                                                                    for a in arrays]


def check(ours, theirs, out, tout, inputs, tinputs):
    close(out.detach().numpy(), tout)
    w = rng.standard_normal(tuple(tout.shape)).astype(np.float32)
    (out * lamina.tensor(w)).sum().backward()
    (tout * torch.from_numpy(w)).sum().backward()
    for a, b in zip(inputs, tinputs):
        close(a.grad.numpy(), b.grad)
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert tp.grad is not None, name
        close(p.grad.numpy(), tp.grad)


def masks(kind, length, batch, lib):
    """(attn_mask, key_padding_mask) for self-attention over `length` positions."""
    t = (lambda a: None if a is None else lamina.tensor(a)) if lib == "lamina" else \
        (lambda a: None if a is None else torch.from_numpy(a))
    causal = np.triu(np.full((length, length), -np.inf, np.float32), 1)
    padding = np.zeros((batch, length), bool)
    padding[0, -2:] = True
    kinds = {"none": (None, None), "causal_float": (causal, None), "causal_bool": (np.isinf(causal), None),
             "padding": (None, padding), "both": (np.isinf(causal), padding)}
    return tuple(t(a) for a in kinds[kind])


@pytest.mark.parametrize("mask_kind", ["none", "causal_float", "causal_bool", "padding", "both"])
@pytest.mark.parametrize("norm_first,batch_first,activation", [(False, False, "relu"), (True, True, "gelu")])
def test_encoder_layer_matches_torch(mask_kind, norm_first, batch_first, activation):
    kwargs = dict(dim_feedforward=12, dropout=0.0, norm_first=norm_first, batch_first=batch_first,
                  activation=activation)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, **kwargs)
    ours = nn.TransformerEncoderLayer(8, 2, **kwargs)
    copy_weights(ours, theirs)
    (x,), (tx,) = leaves((2, 5, 8) if batch_first else (5, 2, 8))
    am, kpm = masks(mask_kind, 5, 2, "lamina")
    tam, tkpm = masks(mask_kind, 5, 2, "torch")
    out = ours(x, src_mask=am, src_key_padding_mask=kpm)
    tout = theirs(tx, src_mask=tam, src_key_padding_mask=tkpm)
    check(ours, theirs, out, tout, [x], [tx])


@pytest.mark.parametrize("norm_first,batch_first", [(False, False), (True, True)])
def test_decoder_layer_matches_torch(norm_first, batch_first):
    kwargs = dict(dim_feedforward=12, dropout=0.0, norm_first=norm_first, batch_first=batch_first)
    theirs = torch.nn.TransformerDecoderLayer(8, 4, **kwargs)
    ours = nn.TransformerDecoderLayer(8, 4, **kwargs)
    copy_weights(ours, theirs)
    shapes = [(2, 4, 8), (2, 6, 8)] if batch_first else [(4, 2, 8), (6, 2, 8)]
    (tgt, mem), (ttgt, tmem) = leaves(*shapes)
    mem_padding = np.zeros((2, 6), bool)
    mem_padding[1, :3] = True
    causal = nn.Transformer.generate_square_subsequent_mask(4)
    out = ours(tgt, mem, tgt_mask=causal, memory_key_padding_mask=lamina.tensor(mem_padding), tgt_is_causal=True)
    tout = theirs(ttgt, tmem, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(4),
                  memory_key_padding_mask=torch.from_numpy(mem_padding), tgt_is_causal=True)
    check(ours, theirs, out, tout, [tgt, mem], [ttgt, tmem])


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_matches_torch(batch_first):
    kwargs = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=16, dropout=0.0,
                  batch_first=batch_first)
    theirs = torch.nn.Transformer(**kwargs)
    ours = nn.Transformer(**kwargs)
    copy_weights(ours, theirs)
    shapes = [(2, 5, 8), (2, 3, 8)] if batch_first else [(5, 2, 8), (3, 2, 8)]
    (src, tgt), (tsrc, ttgt) = leaves(*shapes)
    padding = np.zeros((2, 5), bool)
    padding[0, -1] = True
    out = ours(src, tgt, tgt_mask=nn.Transformer.generate_square_subsequent_mask(3),
               src_key_padding_mask=lamina.tensor(padding), memory_key_padding_mask=lamina.tensor(padding))
    tout = theirs(tsrc, ttgt, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(3),
                  src_key_padding_mask=torch.from_numpy(padding), memory_key_padding_mask=torch.from_numpy(padding))
    check(ours, theirs, out, tout, [src, tgt], [tsrc, ttgt])


def test_encoder_stack_has_independent_copies_and_state_dict_goes_to_torch():
    lamina.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0)
    ours = nn.TransformerEncoder(layer, 3, norm=nn.LayerNorm(8))
    assert ours.layers[0].linear1.weight is not ours.layers[1].linear1.weight
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0), 3,
                                         norm=torch.nn.LayerNorm(8), enable_nested_tensor=False)
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    x = rng.standard_normal((4, 2, 8)).astype(np.float32)
    close(ours(lamina.tensor(x)).detach().numpy(), theirs(torch.from_numpy(x)))


def test_defaults_repr_and_init():
    lamina.manual_seed(0)
    ours, theirs = nn.Transformer(16, 2, 1, 1, 32), torch.nn.Transformer(16, 2, 1, 1, 32)
    assert repr(ours) == repr(theirs)
    layer = nn.TransformerEncoderLayer(16, 4)
    assert layer.linear1.out_features == 2048 and layer.dropout.p == 0.1 and not layer.norm_first
    w = ours.encoder.layers[0].linear1.weight.detach().numpy()  # Xavier-uniform for every matrix
    bound = np.sqrt(6 / (16 + 32))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    close(nn.Transformer.generate_square_subsequent_mask(4).numpy(),
          torch.nn.Transformer.generate_square_subsequent_mask(4))


def test_errors_name_the_layer():
    model = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(nn.LayerInputError, match="the feature number of src and tgt must be equal to d_model"):
        model(lamina.randn(5, 2, 8), lamina.randn(3, 2, 6))
    with pytest.raises(nn.LayerInputError, match="the batch number of src and tgt must be equal"):
        model(lamina.randn(5, 2, 8), lamina.randn(3, 3, 8))
    with pytest.raises(nn.LayerInputError, match=r"(?s)^model\.encoder\.layers\.0\.self_attn .*expected attn_mask "
                                                 r"of shape \(5, 5\)"):
        model(lamina.randn(5, 2, 8), lamina.randn(3, 2, 8), src_mask=lamina.zeros(4, 4))
