"""Every differentiable op as (id, lamina fn, torch fn, inputs): shared by test_ops_parity (against PyTorch) and
test_ops_gradcheck (finite differences, no torch needed). The torch functions are lambdas, so this module loads
without torch; only calling them needs it."""

import numpy as np

import lamina
from lamina.nn import functional as F

try:
    import torch
except ImportError:  # the gradcheck tests run without torch
    torch = None

rng = np.random.default_rng(0)


def positive(shape):
    return rng.uniform(0.5, 2.0, shape).astype(np.float32)


def normal(shape):
    return rng.standard_normal(shape).astype(np.float32)


def distinct(shape):
    """Values far apart, so max/min/abs/relu/clamp are differentiable at every point."""
    n = int(np.prod(shape))
    return ((rng.permutation(n).reshape(shape) - n / 2 + 0.31) * 0.37).astype(np.float32)


# (id, lamina fn, torch fn, input makers)
CASES = [
    ("add_broadcast", lambda a, b: a + b, lambda a, b: a + b, [normal((3, 4)), normal((4,))]),
    ("add_scalar", lambda a: 2.5 + a, lambda a: 2.5 + a, [normal((2, 3))]),
    ("sub_broadcast", lambda a, b: a - b, lambda a, b: a - b, [normal((2, 1, 4)), normal((3, 1))]),
    ("rsub", lambda a: 1 - a, lambda a: 1 - a, [normal((5,))]),
    ("mul_broadcast", lambda a, b: a * b, lambda a, b: a * b, [normal((3, 4)), normal((3, 1))]),
    ("div", lambda a, b: a / b, lambda a, b: a / b, [normal((3, 4)), positive((4,))]),
    ("rdiv", lambda a: 2 / a, lambda a: 2 / a, [positive((3,))]),
    ("neg", lambda a: -a, lambda a: -a, [normal((3,))]),
    ("pow_scalar", lambda a: a**3, lambda a: a**3, [normal((2, 3))]),
    ("pow_fraction", lambda a: a**0.5, lambda a: a**0.5, [positive((4,))]),
    ("pow_tensor", lambda a, b: a**b, lambda a, b: a**b, [positive((3, 2)), normal((2,))]),
    ("rpow", lambda a: 2.0**a, lambda a: 2.0**a, [normal((3,))]),
    ("matmul_2d", lambda a, b: a @ b, lambda a, b: a @ b, [normal((3, 4)), normal((4, 5))]),
    ("matmul_batched", lambda a, b: a @ b, lambda a, b: a @ b, [normal((2, 3, 4)), normal((4, 2))]),
    ("matmul_batched_bcast", lambda a, b: a @ b, lambda a, b: a @ b, [normal((2, 1, 3, 4)), normal((3, 4, 2))]),
    ("matmul_vec_mat", lambda a, b: a @ b, lambda a, b: a @ b, [normal((4,)), normal((4, 3))]),
    ("matmul_mat_vec", lambda a, b: a @ b, lambda a, b: a @ b, [normal((3, 4)), normal((4,))]),
    ("matmul_dot", lambda a, b: a @ b, lambda a, b: a @ b, [normal((4,)), normal((4,))]),
    ("bmm", lambda a, b: a.bmm(b), lambda a, b: a.bmm(b), [normal((2, 3, 4)), normal((2, 4, 5))]),
    ("baddbmm", lambda c, a, b: c.baddbmm(a, b, beta=0.5, alpha=2.0),
     lambda c, a, b: c.baddbmm(a, b, beta=0.5, alpha=2.0), [normal((3, 1)), normal((2, 3, 4)), normal((2, 4, 1))]),
    ("tril", lambda a: a.tril(), lambda a: a.tril(), [normal((2, 3, 4))]),
    ("triu_offset", lambda a: a.triu(1), lambda a: a.triu(1), [normal((4, 3))]),
    ("tril_negative", lambda a: lamina.tril(a, -1), lambda a: torch.tril(a, -1), [normal((3, 3))]),
    ("exp", lambda a: a.exp(), lambda a: a.exp(), [normal((3, 2))]),
    ("log", lambda a: a.log(), lambda a: a.log(), [positive((3, 2))]),
    ("log1p", lambda a: a.log1p(), lambda a: a.log1p(), [positive((3,))]),
    ("sqrt", lambda a: a.sqrt(), lambda a: a.sqrt(), [positive((3,))]),
    ("abs", lambda a: a.abs(), lambda a: a.abs(), [distinct((3, 2))]),
    ("sin", lambda a: a.sin(), lambda a: a.sin(), [normal((4,))]),
    ("cos", lambda a: a.cos(), lambda a: a.cos(), [normal((4,))]),
    ("tanh", lambda a: a.tanh(), lambda a: a.tanh(), [normal((3, 3))]),
    ("sigmoid", lambda a: a.sigmoid(), lambda a: a.sigmoid(), [normal((3, 3)) * 4]),
    ("relu", lambda a: a.relu(), lambda a: a.relu(), [distinct((3, 4))]),
    ("clamp", lambda a: a.clamp(-0.5, 1.0), lambda a: a.clamp(-0.5, 1.0), [distinct((3, 4)) / 3]),
    ("clamp_min", lambda a: a.clamp(min=0.2), lambda a: a.clamp(min=0.2), [distinct((6,)) / 3]),
    ("maximum", lambda a, b: lamina.maximum(a, b), lambda a, b: torch.maximum(a, b),
     [distinct((3, 4)), distinct((3, 4)) + 0.1]),
    ("minimum", lambda a, b: lamina.minimum(a, b), lambda a, b: torch.minimum(a, b),
     [distinct((3, 4)), distinct((4,)) + 0.1]),
    ("where", lambda a, b: lamina.where(a > 0, a, b), lambda a, b: torch.where(a > 0, a, b),
     [distinct((3, 4)), normal((4,))]),
    ("sum_all", lambda a: a.sum(), lambda a: a.sum(), [normal((3, 4))]),
    ("sum_dim", lambda a: a.sum(1), lambda a: a.sum(1), [normal((3, 4, 2))]),
    ("sum_dims_keepdim", lambda a: a.sum((0, 2), keepdim=True), lambda a: a.sum((0, 2), keepdim=True),
     [normal((3, 4, 2))]),
    ("mean_dim", lambda a: a.mean(-1), lambda a: a.mean(-1), [normal((3, 4))]),
    ("mean_keepdim", lambda a: a.mean(0, keepdim=True), lambda a: a.mean(0, keepdim=True), [normal((3, 4))]),
    ("var", lambda a: a.var(), lambda a: a.var(), [normal((3, 4))]),
    ("var_dim", lambda a: a.var(1, keepdim=True), lambda a: a.var(1, keepdim=True), [normal((3, 4))]),
    ("var_biased", lambda a: a.var(0, correction=0), lambda a: a.var(0, correction=0), [normal((3, 4))]),
    ("std_dim", lambda a: a.std(0), lambda a: a.std(0), [normal((5, 2))]),
    ("max_all", lambda a: a.max(), lambda a: a.max(), [distinct((3, 4))]),
    ("max_dim", lambda a: a.max(1).values, lambda a: a.max(1).values, [distinct((3, 4))]),
    ("min_dim_keepdim", lambda a: a.min(0, keepdim=True)[0], lambda a: a.min(0, keepdim=True)[0],
     [distinct((3, 4))]),
    ("amax", lambda a: a.amax(1), lambda a: a.amax(1), [distinct((3, 4))]),
    ("logsumexp", lambda a: a.logsumexp(1), lambda a: a.logsumexp(1), [normal((3, 4)) * 5]),
    ("prod_all", lambda a: a.prod(), lambda a: a.prod(), [normal((2, 3))]),
    ("prod_dim", lambda a: a.prod(1), lambda a: a.prod(1), [normal((3, 4))]),
    ("norm", lambda a: a.norm(), lambda a: a.norm(), [normal((3, 4))]),
    ("softmax", lambda a: a.softmax(1), lambda a: a.softmax(1), [normal((3, 5)) * 3]),
    ("softmax_dim0", lambda a: a.softmax(0), lambda a: a.softmax(0), [normal((3, 5))]),
    ("log_softmax", lambda a: a.log_softmax(-1), lambda a: a.log_softmax(-1), [normal((3, 5)) * 3]),
    ("reshape", lambda a: a.reshape(4, 3) * 1, lambda a: a.reshape(4, 3) * 1, [normal((3, 4))]),
    ("view_minus1", lambda a: a.view(-1, 2), lambda a: a.view(-1, 2), [normal((3, 4))]),
    ("flatten", lambda a: a.flatten(1), lambda a: a.flatten(1), [normal((2, 3, 4))]),
    ("transpose", lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2), [normal((2, 3, 4))]),
    ("T", lambda a: a.T, lambda a: a.T, [normal((2, 3))]),
    ("permute", lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1), [normal((2, 3, 4))]),
    ("squeeze", lambda a: a.squeeze(1), lambda a: a.squeeze(1), [normal((3, 1, 2))]),
    ("squeeze_all", lambda a: a.squeeze(), lambda a: a.squeeze(), [normal((1, 3, 1))]),
    ("unsqueeze", lambda a: a.unsqueeze(-1), lambda a: a.unsqueeze(-1), [normal((3, 2))]),
    ("expand", lambda a: a.expand(4, 3, 2), lambda a: a.expand(4, 3, 2), [normal((3, 1))]),
    ("getitem_slice", lambda a: a[1:, ::2], lambda a: a[1:, ::2], [normal((4, 5))]),
    ("getitem_int", lambda a: a[2], lambda a: a[2], [normal((4, 5))]),
    ("getitem_repeated_indices", lambda a: a[[0, 2, 0, 0]], lambda a: a[[0, 2, 0, 0]], [normal((4, 3))]),
    ("getitem_tensor_index", lambda a: a[lamina.tensor([1, 1, 3]), 0],
     lambda a: a[torch.tensor([1, 1, 3]), 0], [normal((4, 3))]),
    ("getitem_mask", lambda a: a[a > 0], lambda a: a[a > 0], [distinct((3, 4))]),
    ("getitem_ellipsis_none", lambda a: a[..., None, 1], lambda a: a[..., None, 1], [normal((2, 3))]),
    ("cat", lambda a, b: lamina.cat([a, b, a], dim=1), lambda a, b: torch.cat([a, b, a], dim=1),
     [normal((2, 3)), normal((2, 1))]),
    ("stack", lambda a, b: lamina.stack([a, b], dim=1), lambda a, b: torch.stack([a, b], dim=1),
     [normal((2, 3)), normal((2, 3))]),
    ("split", lambda a: lamina.split(a, 2, dim=1)[1] * 2, lambda a: torch.split(a, 2, dim=1)[1] * 2,
     [normal((3, 5))]),
    ("split_sections", lambda a: a.split([1, 4], dim=1)[1], lambda a: a.split([1, 4], dim=1)[1], [normal((3, 5))]),
    ("chunk", lambda a: lamina.chunk(a, 3, dim=0)[2], lambda a: torch.chunk(a, 3, dim=0)[2], [normal((7, 2))]),
    ("pad", lambda a: F.pad(a, (1, 2, 0, 1), value=0.5),
     lambda a: torch.nn.functional.pad(a, (1, 2, 0, 1), value=0.5), [normal((2, 3))]),
    ("round", lambda a: a.round() * a, lambda a: a.round() * a, [distinct((3, 4))]),
    ("floor_ceil", lambda a: a.floor() + a.ceil() + a.trunc() + a, lambda a: a.floor() + a.ceil() + a.trunc() + a,
     [distinct((3, 4))]),
    ("clone", lambda a: a.clone(), lambda a: a.clone(), [normal((3,))]),
    ("masked_fill", lambda a: a.masked_fill(a < 0, 0.0), lambda a: a.masked_fill(a < 0, 0.0), [distinct((3, 3))]),
    ("composite_mlp", lambda x, w, b: (x @ w.T + b).tanh().sum(1), lambda x, w, b: (x @ w.T + b).tanh().sum(1),
     [normal((5, 3)), normal((4, 3)), normal((4,))]),
    ("linear_fused", lambda x, w, b: F.linear(x, w, b),
     lambda x, w, b: torch.nn.functional.linear(x, w, b), [normal((5, 3)), normal((4, 3)), normal((4,))]),
    ("linear_fused_3d", lambda x, w, b: F.linear(x, w, b),
     lambda x, w, b: torch.nn.functional.linear(x, w, b), [normal((2, 5, 3)), normal((4, 3)), normal((4,))]),
    ("linear_fused_1d_nobias", lambda x, w: F.linear(x, w),
     lambda x, w: torch.nn.functional.linear(x, w), [normal((3,)), normal((4, 3))]),
]

