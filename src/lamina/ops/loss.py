"""Loss functions as fused ops: one graph node each, with a closed-form, numerically stable backward.

Every loss takes ``reduction``: 'none' (per element), 'sum', or 'mean'. Their entry points in lamina.nn.functional
check shapes and dtypes first, so a mismatch is reported in the user's terms instead of broadcasting silently,
and choose between the cross-entropy Functions.
"""

from __future__ import annotations

import math

import numpy as np

from lamina import kernels
from lamina.autograd.function import Function
from lamina.ops.reduce import log_softmax_array
from lamina.ops.unary import sigmoid_array


def _reduce(loss, reduction, count=None):
    """Reduce per-element losses; 'mean' divides by count (default: the number of elements)."""
    if reduction == "none":
        return loss
    total = np.add.reduce(loss, axis=None)
    if reduction == "sum":
        return total
    return total / (loss.size if count is None else count)


def _spread(g, reduction, count):
    """The gradient reaching each element from the reduction: g, or g/count for 'mean'."""
    return g / count if reduction == "mean" else g


class MSELoss(Function):
    """ℓ = (x − y)²; dℓ/dx = 2(x − y) = −dℓ/dy"""

    def forward(self, x, y, reduction):
        diff = x - y
        self.save(diff)
        self.reduction = reduction
        return _reduce(diff * diff, reduction)

    def backward(self, g):
        (diff,) = self.saved
        gx = _spread(g, self.reduction, diff.size) * 2 * diff
        return (gx if self.needs[0] else None), (-gx if self.needs[1] else None)


class L1Loss(Function):
    """ℓ = |x − y|; dℓ/dx = sign(x − y) = −dℓ/dy"""

    def forward(self, x, y, reduction):
        diff = x - y
        self.save(diff)
        self.reduction = reduction
        return _reduce(np.abs(diff), reduction)

    def backward(self, g):
        (diff,) = self.saved
        gx = _spread(g, self.reduction, diff.size) * np.sign(diff)
        return (gx if self.needs[0] else None), (-gx if self.needs[1] else None)


class HuberLoss(Function):
    """ℓ = ½d² if |d| ≤ δ else δ·(|d| − ½δ), d = x − y; dℓ/dx = clip(d, −δ, δ) = −dℓ/dy"""

    def forward(self, x, y, delta, reduction):
        diff = x - y
        self.save(diff)
        self.delta, self.reduction = delta, reduction
        absd = np.abs(diff)
        loss = np.where(absd <= delta, 0.5 * diff * diff, delta * (absd - 0.5 * delta))
        return _reduce(loss.astype(x.dtype, copy=False), reduction)

    def backward(self, g):
        (diff,) = self.saved
        gx = _spread(g, self.reduction, diff.size) * np.clip(diff, -self.delta, self.delta)
        return (gx if self.needs[0] else None), (-gx if self.needs[1] else None)


class BinaryCrossEntropy(Function):
    """ℓ = −w·(y·log x + (1 − y)·log(1 − x)), logs clamped at −100 (as PyTorch);
    dℓ/dx = w·(x − y)/max(x·(1 − x), 1e-12), dℓ/dy = w·(log(1 − x) − log x)"""

    def forward(self, x, y, weight, reduction):
        self.save(x, y, weight)
        self.reduction = reduction
        if weight is None and kernels.fits_small(x, y):
            return _reduce(kernels.binary_cross_entropy(x, y), reduction)  # the same in one pass
        log_x, log_1mx = _clamped_logs(x)
        loss = log_x - log_1mx  # ℓ = −(log(1 − x) + y·(log x − log(1 − x)))
        loss *= y
        loss += log_1mx
        np.negative(loss, out=loss)
        if weight is not None:
            loss = loss * weight
        return _reduce(loss, reduction)

    def backward(self, g):
        x, y, weight = self.saved
        gs = _spread(g, self.reduction, x.size)
        if weight is not None:
            gs = gs * weight
        gx = gy = None
        if self.needs[0]:
            if gs.ndim == 0 and kernels.fits(x, y):
                gx = kernels.binary_cross_entropy_backward(x, y, np.float32(gs))  # the same in one pass
            else:
                gx = gs * (x - y) / np.maximum(x * (1 - x), 1e-12)
        if self.needs[1]:
            log_x, log_1mx = _clamped_logs(x)
            gy = gs * (log_1mx - log_x)
        return gx, gy


def _clamped_logs(x):
    """max(log x, −100) and max(log(1 − x), −100); NaN where x is outside [0, 1] (the caller reports it)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_x = np.log(x)
        log_1mx = np.log1p(-x)
    np.maximum(log_x, -100, out=log_x)
    np.maximum(log_1mx, -100, out=log_1mx)
    return log_x, log_1mx


def _softplus_neg(z):
    """softplus(−z) = log(1 + e⁻ᶻ), without overflow."""
    return np.maximum(-z, 0) + np.log1p(np.exp(-np.abs(z)))


class BinaryCrossEntropyWithLogits(Function):
    """ℓ = w·[(1 − y)·z + (1 + (p − 1)·y)·softplus(−z)] = −w·[p·y·log σ(z) + (1 − y)·log(1 − σ(z))];
    dℓ/dz = w·[(1 − y + p·y)·σ(z) − p·y] (= σ(z) − y for w = p = 1), dℓ/dy = w·[(p − 1)·softplus(−z) − z]"""

    def forward(self, z, y, weight, pos_weight, reduction):
        sp = _softplus_neg(z)
        if pos_weight is None:
            loss = (1 - y) * z + sp
        else:
            loss = (1 - y) * z + (1 + (pos_weight - 1) * y) * sp
        if weight is not None:
            loss = loss * weight
        self.save(z, y, weight, pos_weight, sp)
        self.reduction = reduction
        return _reduce(loss, reduction)

    def backward(self, g):
        z, y, weight, pos_weight, sp = self.saved
        gs = _spread(g, self.reduction, z.size)
        if weight is not None:
            gs = gs * weight
        gz = gy = None
        if self.needs[0]:
            s = sigmoid_array(z)
            gz = gs * (s - y if pos_weight is None else (1 - y + pos_weight * y) * s - pos_weight * y)
        if self.needs[1]:
            gy = gs * (-z if pos_weight is None else (pos_weight - 1) * sp - z)
        return gz, gy


def _class_weights(target, weight, ignore_index, dtype):
    """Per-sample weight w[yᵢ] (0 where yᵢ = ignore_index), an index of each sample's class entry, the kept mask."""
    kept = target != ignore_index
    safe = np.where(kept, target, 0)
    w = kept.astype(dtype) if weight is None else weight[safe] * kept
    if safe.ndim == 1:  # (N, C) input: rows and columns, plain fancy indexing
        idx = (np.arange(safe.shape[0]), safe)
    else:  # (N, C, d1, ...): index every axis, with the class axis taken from the target
        grid = np.indices(safe.shape, sparse=True)
        idx = (grid[0], safe) + tuple(grid[1:])
    return w, idx, kept


class NLLLoss(Function):
    """ℓᵢ = −w[yᵢ]·log pᵢ[yᵢ] (input: log-probabilities, class axis 1); 'mean' divides by Σ w[yᵢ];
    dℓᵢ/d log pᵢc = −w[yᵢ] if c = yᵢ else 0"""

    def forward(self, logp, target, weight, ignore_index, reduction):
        w, idx, _ = _class_weights(target, weight, ignore_index, logp.dtype)
        self.shape, self.reduction, self.count = logp.shape, reduction, np.add.reduce(w, axis=None)
        self.save(w, idx)
        loss = -w * logp[idx]
        return _reduce(loss, reduction, self.count)

    def backward(self, g):
        w, idx = self.saved
        grad = np.zeros(self.shape, dtype=g.dtype)
        grad[idx] = -_spread(g, self.reduction, self.count) * w
        return grad


class CrossEntropy(Function):
    """ℓᵢ = −Σ_c qᵢc·log softmax(zᵢ)_c for class-index targets yᵢ, q = w[yᵢ]·onehot(yᵢ) with class weights w, or with
    label smoothing ε: q = (1 − ε)·w[yᵢ]·onehot(yᵢ) + (ε/C)·w (0 where yᵢ = ignore_index); 'mean' divides by Σ w[yᵢ].
    dℓᵢ/dzᵢ = softmax(zᵢ)·Σ_c qᵢc − qᵢ (= softmax − onehot for plain class targets)"""

    def forward(self, z, target, weight, ignore_index, label_smoothing, reduction):
        logp = log_softmax_array(z, 1)
        n_classes, eps = z.shape[1], label_smoothing
        w_b = None if weight is None else weight.reshape((1, -1) + (1,) * (z.ndim - 2))
        self.reduction, self.eps = reduction, eps
        w, idx, kept = _class_weights(target, weight, ignore_index, z.dtype)
        loss = -w * logp[idx]
        if eps:
            smooth = -(logp if w_b is None else logp * w_b).sum(axis=1) * kept
            loss = (1 - eps) * loss + (eps / n_classes) * smooth
        self.count = np.add.reduce(w, axis=None)
        self.save(logp, w, idx, kept, w_b)
        return _reduce(loss, reduction, self.count)

    def backward(self, g):
        c = _spread(g, self.reduction, self.count)
        logp, w, idx, kept, w_b = self.saved
        n_classes, eps = logp.shape[1], self.eps
        onehot_part = c * (1 - eps) * w  # coefficient of the target class, per sample
        smooth_part = c * (eps / n_classes) * kept  # coefficient of each class weight w_c, per sample
        total = onehot_part + smooth_part * (n_classes if w_b is None else w_b.sum())
        gz = np.exp(logp)
        gz *= total.reshape(total.shape[:1] + (1,) + total.shape[1:])
        gz[idx] -= onehot_part  # each (sample, position) appears once in idx: no repeated index
        if eps:
            gz -= np.expand_dims(smooth_part, 1) * (1 if w_b is None else w_b)
        return gz, None


class SmallCrossEntropy(CrossEntropy):
    """CrossEntropy on plain class indices (no weights, no smoothing, reduced) of float32 (N, C) logits of at most
    kernels.SMALL elements: the loss in one kernel call, its gradient softmax − onehot in another"""

    def forward(self, z, target, ignore_index, reduction):
        logp = np.empty_like(z)
        total, self.count = kernels.cross_entropy(z, target, ignore_index, logp)
        self.reduction, self.ignore_index = reduction, ignore_index
        self.save(logp, target)
        if reduction == "mean":
            total = total / self.count if self.count else math.nan  # NaN when every target is ignored
        return np.array(total, dtype=z.dtype)

    def backward(self, g):
        logp, target = self.saved
        scale = _spread(g, self.reduction, self.count) if self.count else 0.0  # 0 kept rows: zero gradient
        gz = np.empty_like(logp)
        kernels.cross_entropy_backward(logp, target, self.ignore_index, np.float32(scale), gz)
        return gz, None

    @property
    def name(self) -> str:
        return "CrossEntropyBackward0"  # the same op in the graph; only its implementation differs


class SoftCrossEntropy(Function):
    """ℓᵢ = −Σ_c qᵢc·log softmax(zᵢ)_c for class probabilities pᵢ as targets, q = w·((1 − ε)·pᵢ + ε/C) with class
    weights w and label smoothing ε; 'mean' divides by N.
    dℓᵢ/dzᵢ = softmax(zᵢ)·Σ_c qᵢc − qᵢ, dℓᵢ/dpᵢ = −(1 − ε)·w·log softmax(zᵢ)"""

    def forward(self, z, target, weight, label_smoothing, reduction):
        logp = log_softmax_array(z, 1)
        n_classes, eps = z.shape[1], label_smoothing
        w_b = None if weight is None else weight.reshape((1, -1) + (1,) * (z.ndim - 2))
        self.reduction, self.eps = reduction, eps
        q = target * (1 - eps) + eps / n_classes if eps else target
        if w_b is not None:
            q = q * w_b
        self.count = logp.size // n_classes
        self.save(logp, q, w_b)
        return _reduce(-(q * logp).sum(axis=1), reduction, self.count)

    def backward(self, g):
        c = _spread(g, self.reduction, self.count)
        logp, q, w_b = self.saved
        c = np.expand_dims(c, 1) if np.ndim(c) else c
        gz = (np.exp(logp) * q.sum(axis=1, keepdims=True) - q) * c if self.needs[0] else None
        gt = None
        if self.needs[1]:
            gt = -(1 - self.eps) * c * (logp if w_b is None else logp * w_b)
        return gz, gt


class Penalty(Function):
    """l1·Σ|w| + l2·Σw² over the given tensors; d/dw = l1·sign(w) + 2·l2·w"""

    def forward(self, *ws, l1, l2):
        self.save(*ws)
        self.l1, self.l2 = l1, l2
        total = np.zeros((), dtype=ws[0].dtype)
        for w in ws:
            if l1:
                total = total + l1 * np.abs(w).sum()
            if l2:
                total = total + l2 * np.vdot(w, w)
        return np.asarray(total)

    def backward(self, g):
        return tuple((g * (self.l1 * np.sign(w) + 2 * self.l2 * w) if need else None)
                     for w, need in zip(self.saved, self.needs))


class SmoothL1Loss(Function):
    """ℓ = ½d²/β if |d| < β else |d| − ½β, d = x − y; dℓ/dx = clip(d/β, −1, 1) = −dℓ/dy"""

    def forward(self, x, y, beta, reduction):
        diff = x - y
        self.save(diff)
        self.beta, self.reduction = beta, reduction
        absd = np.abs(diff)
        loss = np.where(absd < beta, 0.5 * diff * diff / beta, absd - 0.5 * beta)
        return _reduce(loss.astype(x.dtype, copy=False), reduction)

    def backward(self, g):
        (diff,) = self.saved
        gx = _spread(g, self.reduction, diff.size) * np.clip(diff / self.beta, -1, 1)
        return (gx if self.needs[0] else None), (-gx if self.needs[1] else None)


class KLDivLoss(Function):
    """ℓ = y·(log y − x) (0 where y = 0) on log-probabilities x; with log_target, ℓ = eʸ·(y − x).
    dℓ/dx = −y (−eʸ); dℓ/dy = log y + 1 − x (eʸ·(y − x + 1)); at y = 0 that is NaN, as PyTorch's xlogy gives.
    'batchmean' divides the sum by the batch size x.shape[0]."""

    def forward(self, x, y, log_target, reduction):
        self.save(x, y)
        self.log_target, self.reduction = log_target, reduction
        if log_target:
            loss = np.exp(y) * (y - x)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                loss = np.where(y == 0, 0, y * np.log(y)) - y * x
        self.count = (x.shape[0] if x.ndim else 1) if reduction == "batchmean" else loss.size
        return _reduce(loss.astype(x.dtype, copy=False), "mean" if reduction == "batchmean" else reduction, self.count)

    def backward(self, g):
        x, y = self.saved
        gs = _spread(g, "mean" if self.reduction == "batchmean" else self.reduction, self.count)
        gx = gy = None
        if self.log_target:
            ey = np.exp(y)
            gx = -gs * ey if self.needs[0] else None
            gy = gs * ey * (y - x + 1) if self.needs[1] else None
        else:
            gx = -gs * y if self.needs[0] else None
            if self.needs[1]:
                with np.errstate(divide="ignore", invalid="ignore"):
                    gy = gs * (np.where(y == 0, 0, np.log(y)) + y / y - x)
        return gx, gy


class GaussianNLLLoss(Function):
    """ℓ = ½·(log v + (x − y)²/v) (+ ½·log 2π when full), v = max(var, eps); dℓ/dx = (x − y)/v = −dℓ/dy,
    dℓ/dvar = ½·(1/v − (x − y)²/v²): the clamp is outside the gradient, as PyTorch applies it under no_grad"""

    def forward(self, x, y, var, eps, full, reduction):
        v = np.maximum(var, np.asarray(eps, var.dtype))
        d = x - y
        loss = 0.5 * (np.log(v) + d * d / v)
        if full:
            loss = loss + 0.5 * math.log(2 * math.pi)
        self.save(d, v)
        self.reduction, self.count = reduction, loss.size
        return _reduce(loss.astype(x.dtype, copy=False), reduction)

    def backward(self, g):
        d, v = self.saved
        gs = _spread(g, self.reduction, self.count)
        gx = gs * d / v
        gv = gs * 0.5 * (1 / v - d * d / (v * v)) if self.needs[2] else None
        return (gx if self.needs[0] else None), (-gx if self.needs[1] else None), gv
