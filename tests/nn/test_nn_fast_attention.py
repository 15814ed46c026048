"""The inference fast path of TransformerEncoderLayer and MultiheadAttention (nn.functional.fast_attention): equal
to the graph path to float32 rounding and to torch's eval-mode output over every mask kind, norm_first,
activations, batch_first and unbatched input; taken only when no gradient is needed and no dropout is active,
and never when a submodule is hooked; bad input still gets the graph path's error."""

import numpy as np
import pytest

import lamina
from lamina import nn
from lamina.nn.functional import fast_attention

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.filterwarnings("ignore:enable_nested_tensor:UserWarning"),
              pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")]  # NaN weights
E, HEADS, L, N = 8, 2, 5, 3


@pytest.fixture
def calls(monkeypatch):
    """How many times the fast path's attention ran."""
    count = [0]
    original = fast_attention.self_attention_array

    def counting(*args):
        count[0] += 1
        return original(*args)

    monkeypatch.setattr(fast_attention, "self_attention_array", counting)
    return count


def mask_pair(kind, batch_first=True, unbatched=False):
    """(attn_mask, key_padding_mask) arrays for self-attention over L positions of N (or 1 unbatched) sequences."""
    rng = np.random.default_rng(1)
    causal = np.triu(np.full((L, L), -np.inf, np.float32), 1)
    padding = np.zeros((N, L), bool)
    padding[0, -2:] = True
    dead = padding.copy()
    dead[1] = True  # every key of sequence 1 masked out: its outputs come from zero attention
    per_head = np.where(rng.random((N * HEADS, L, L)) < 0.3, -np.inf, rng.standard_normal((N * HEADS, L, L)))
    kinds = {"none": (None, None), "causal_float": (causal, None), "causal_bool": (np.isinf(causal), None),
             "padding": (None, padding), "padding_float": (None, np.where(padding, -np.inf, 0).astype(np.float32)),
             "both": (np.isinf(causal), padding), "per_head_float": (per_head.astype(np.float32), None),
             "all_masked_row": (None, dead)}
    attn, kpm = kinds[kind]
    if unbatched:
        attn = None if attn is None or attn.ndim == 3 else attn
        kpm = None if kpm is None else kpm[0]
    return attn, kpm


def lamina_pair(attn, kpm):
    return tuple(None if a is None else lamina.tensor(a) for a in (attn, kpm))


def make_layer(norm_first, activation, batch_first, dropout=0.0, bias=True):
    lamina.manual_seed(0)
    layer = nn.TransformerEncoderLayer(E, HEADS, 16, dropout, activation=activation, batch_first=batch_first,
                                       norm_first=norm_first, bias=bias)
    for p in layer.parameters():  # non-trivial biases and norms, so that every term is checked
        p.array += np.random.default_rng(p.numel()).normal(0, 0.1, p.shape).astype(np.float32)
    return layer


def graph_and_fast(module, x, calls, **kwargs):
    """The module's output by the graph path (grad mode on, parameters requiring grad) and by the fast path
    (under no_grad), checking which path ran."""
    before = calls[0]
    graph = module(x, **kwargs)
    assert calls[0] == before and graph.grad_fn is not None
    with lamina.no_grad():
        fast = module(x, **kwargs)
    assert calls[0] == before + 1 and fast.grad_fn is None and fast.dtype == np.float32
    return graph.detach().numpy(), fast.numpy()


@pytest.mark.parametrize("kind", ["none", "causal_float", "causal_bool", "padding", "padding_float", "both",
                                  "per_head_float", "all_masked_row"])
@pytest.mark.parametrize("norm_first,activation,batch_first", [(False, "relu", False), (True, "relu", True),
                                                               (False, "gelu", True), (True, "gelu", False)])
def test_encoder_layer_fast_path_equals_graph_path_and_torch(calls, kind, norm_first, activation, batch_first):
    layer = make_layer(norm_first, activation, batch_first).eval()
    x = np.random.default_rng(2).standard_normal((N, L, E) if batch_first else (L, N, E)).astype(np.float32)
    attn, kpm = mask_pair(kind)
    graph, fast = graph_and_fast(layer, lamina.tensor(x), calls, src_mask=lamina_pair(attn, kpm)[0],
                                 src_key_padding_mask=lamina_pair(attn, kpm)[1])
    assert np.isfinite(fast).all()
    np.testing.assert_allclose(fast, graph, rtol=1e-5, atol=1e-5)

    theirs = torch.nn.TransformerEncoderLayer(E, HEADS, 16, 0.0, activation=activation, batch_first=batch_first,
                                              norm_first=norm_first)
    theirs.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in layer.state_dict().items()})
    theirs.eval()
    args = (torch.from_numpy(x), None if attn is None else torch.from_numpy(attn),
            None if kpm is None else torch.from_numpy(kpm))
    slow = theirs(*args).detach().numpy()  # grad mode on: torch's graph path
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=2e-5)
    if kind not in ("per_head_float", "all_masked_row"):  # there torch's own fast path gives NaN
        with torch.no_grad():
            np.testing.assert_allclose(fast, theirs(*args).numpy(), rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize("kind", ["none", "causal_bool", "padding"])
def test_encoder_layer_fast_path_unbatched_and_without_bias(calls, kind):
    layer = make_layer(True, "relu", True, bias=False).eval()
    x = lamina.tensor(np.random.default_rng(3).standard_normal((L, E)).astype(np.float32))
    attn, kpm = lamina_pair(*mask_pair(kind, unbatched=True))
    graph, fast = graph_and_fast(layer, x, calls, src_mask=attn, src_key_padding_mask=kpm)
    assert fast.shape == (L, E)
    np.testing.assert_allclose(fast, graph, rtol=1e-5, atol=1e-5)


def test_encoder_layer_fast_path_custom_activation(calls):
    layer = make_layer(False, lambda t: lamina.nn.functional.relu(t) * 0.5, True).eval()
    x = lamina.tensor(np.random.default_rng(4).standard_normal((N, L, E)).astype(np.float32))
    graph, fast = graph_and_fast(layer, x, calls)
    np.testing.assert_allclose(fast, graph, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["none", "causal_float", "both", "per_head_float", "all_masked_row"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_self_attention_fast_path_equals_graph_path_and_torch(calls, kind, batch_first):
    lamina.manual_seed(0)
    mha = nn.MultiheadAttention(E, HEADS, batch_first=batch_first)
    mha.in_proj_bias.array += np.random.default_rng(5).normal(0, 0.1, 3 * E).astype(np.float32)
    x = lamina.tensor(np.random.default_rng(6).standard_normal((N, L, E) if batch_first else (L, N, E)).astype(
        np.float32))
    attn, kpm = lamina_pair(*mask_pair(kind))
    before = calls[0]
    graph = mha(x, x, x, attn_mask=attn, key_padding_mask=kpm, need_weights=False)
    with lamina.no_grad():
        fast, weights = mha(x, x, x, attn_mask=attn, key_padding_mask=kpm, need_weights=False)
        with_weights = mha(x, x, x, attn_mask=attn, key_padding_mask=kpm)  # weights asked: the graph path
    assert calls[0] == before + 1 and weights is None and with_weights[1] is not None
    assert graph[1] is None and graph[0].grad_fn is not None
    np.testing.assert_allclose(fast.numpy(), graph[0].detach().numpy(), rtol=1e-5, atol=1e-6)
    if kind != "all_masked_row":  # with the weights asked for, a query with nothing to attend to gets NaN
        np.testing.assert_allclose(fast.numpy(), with_weights[0].numpy(), rtol=1e-5, atol=1e-6)
    theirs = torch.nn.MultiheadAttention(E, HEADS, batch_first=batch_first)
    theirs.load_state_dict({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in mha.state_dict().items()})
    t = torch.from_numpy(x.numpy())
    ref = theirs.eval()(t, t, t, attn_mask=None if attn is None else torch.from_numpy(attn.numpy()),
                        key_padding_mask=None if kpm is None else torch.from_numpy(kpm.numpy()),
                        need_weights=False)[0].detach().numpy()  # grad mode on: torch's graph path
    np.testing.assert_allclose(fast.numpy(), ref, rtol=1e-5, atol=2e-5)


def test_fast_path_only_when_no_gradient_and_no_dropout(calls):
    x = lamina.tensor(np.random.default_rng(7).standard_normal((N, L, E)).astype(np.float32))
    layer = make_layer(False, "relu", True, dropout=0.3)
    with lamina.no_grad():
        layer(x)  # training with dropout: the graph path (with its random masks)
        assert calls[0] == 0
        layer.eval()(x)
        assert calls[0] == 1
        layer.train()
        layer.dropout.p = layer.dropout1.p = layer.dropout2.p = layer.self_attn.dropout = 0.0
        layer(x)  # training mode without dropout computes the same as eval
        assert calls[0] == 2
    layer.eval()
    out = layer(lamina.tensor(x.numpy(), requires_grad=True))  # a gradient wanted: the graph
    assert calls[0] == 2 and out.grad_fn is not None
    for p in layer.parameters():
        p.requires_grad_(False)
    assert layer(x).grad_fn is None and calls[0] == 3  # nothing requires grad: the fast path, grad mode on


def test_fast_path_skipped_when_a_submodule_is_hooked(calls):
    layer = make_layer(True, "relu", True).eval()
    x = lamina.tensor(np.random.default_rng(8).standard_normal((N, L, E)).astype(np.float32))
    seen = []
    handle = layer.linear1.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    with lamina.no_grad():
        hooked = layer(x).numpy()  # the layer runs module by module (its attention alone takes the fast path)
        assert calls[0] == 1 and seen == [(N, L, 16)]
        handle.remove()
        own = layer.register_forward_hook(lambda m, args, out: seen.append("layer"))
        fast = layer(x).numpy()  # the layer's own hook runs around its forward, fast or not
        own.remove()
    assert calls[0] == 2 and seen[-1] == "layer"
    np.testing.assert_allclose(fast, hooked, rtol=1e-5, atol=1e-5)


def test_fast_path_bad_input_gets_the_graph_paths_error(calls):
    layer = make_layer(False, "relu", True).eval()
    x = lamina.tensor(np.zeros((N, L, E), np.float32))
    with lamina.no_grad():
        with pytest.raises(lamina.nn.LayerInputError, match="attn_mask"):
            layer(x, src_mask=lamina.tensor(np.zeros((L + 1, L), np.float32)))
        with pytest.raises(lamina.nn.LayerInputError, match="key_padding_mask"):
            layer(x, src_key_padding_mask=lamina.tensor(np.zeros((N, L), np.int64)))
        with pytest.raises(RuntimeError, match="Need attn_mask"):
            layer(x, is_causal=True)
    assert calls[0] == 0


def test_encoder_stack_and_generation_use_the_fast_path(calls):
    from lamina.training import TransformerLanguageModel

    lamina.manual_seed(0)
    model = TransformerLanguageModel(11, 8, d_model=8, nhead=2, num_layers=2).eval()
    ids = lamina.tensor(np.array([[1, 4, 2, 7, 3]]))
    graph = model(ids).detach().numpy()
    with lamina.no_grad():
        fast = model(ids).numpy()
    assert calls[0] == 2
    np.testing.assert_allclose(fast, graph, rtol=1e-5, atol=1e-5)


def test_decoder_layer_self_attention_uses_the_fast_path(calls):
    lamina.manual_seed(0)
    layer = nn.TransformerDecoderLayer(E, HEADS, 16, 0.0, batch_first=True).eval()
    rng = np.random.default_rng(9)
    tgt, memory = (lamina.tensor(rng.standard_normal(s).astype(np.float32)) for s in ((N, L, E), (N, L + 2, E)))
    mask = nn.Transformer.generate_square_subsequent_mask(L)
    graph = layer(tgt, memory, tgt_mask=mask).detach().numpy()
    with lamina.no_grad():
        fast = layer(tgt, memory, tgt_mask=mask).numpy()  # self-attention fast, attention over memory by the graph
    assert calls[0] == 1
    np.testing.assert_allclose(fast, graph, rtol=1e-5, atol=1e-5)
