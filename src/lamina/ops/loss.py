"""Loss functions as fused ops: one graph node each, with a closed-form, numerically stable backward.

Every loss takes ``reduction``: 'none' (per element), 'sum', or 'mean'. The wrappers at the end check
shapes and dtypes first, so a mismatch is reported in the user's terms instead of broadcasting silently.
"""

from __future__ import annotations

import math

import numpy as np

from lamina import kernels
from lamina.tensor import Function, Tensor, as_array

REDUCTIONS = ("mean", "sum", "none")


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
        from lamina.ops.unary import sigmoid_array

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


def _log_softmax(z):
    shifted = z - np.maximum.reduce(z, axis=1, keepdims=True)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=1, keepdims=True))


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
    """ℓᵢ = −Σ_c qᵢc·log softmax(zᵢ)_c, where q holds the targets (one-hot or probabilities) times the class
    weights, with label smoothing ε: q = (1 − ε)·target + ε/C. dℓᵢ/dzᵢ = softmax(zᵢ)·Σ_c qᵢc − qᵢ
    (= softmax − onehot for plain class targets). Class-index targets average over Σ w[yᵢ], probabilities over N."""

    def forward(self, z, target, weight, ignore_index, label_smoothing, reduction):
        self.fused = (weight is None and not label_smoothing and reduction != "none" and target.ndim == 1
                      and target.dtype.kind in "iu" and z.shape[1] > 0 and kernels.fits_small(z))
        if self.fused:  # plain class indices: the same in one kernel call
            logp = np.empty_like(z)
            total, self.count = kernels.cross_entropy(z, target, ignore_index, logp)
            self.reduction, self.ignore_index = reduction, ignore_index
            self.save(logp, target)
            if reduction == "mean":
                total = total / self.count if self.count else math.nan  # NaN when every target is ignored
            return np.array(total, dtype=z.dtype)
        logp = _log_softmax(z)
        n_classes, eps = z.shape[1], label_smoothing
        w_b = None if weight is None else weight.reshape((1, -1) + (1,) * (z.ndim - 2))
        self.reduction, self.eps, self.probs = reduction, eps, target.dtype.kind == "f"
        if self.probs:  # class probabilities
            q = target * (1 - eps) + eps / n_classes if eps else target
            if w_b is not None:
                q = q * w_b
            self.count = logp.size // n_classes
            self.save(logp, q, w_b)
            return _reduce(-(q * logp).sum(axis=1), reduction, self.count)
        w, idx, kept = _class_weights(target, weight, ignore_index, z.dtype)
        loss = -w * logp[idx]
        if eps:
            smooth = -(logp if w_b is None else logp * w_b).sum(axis=1) * kept
            loss = (1 - eps) * loss + (eps / n_classes) * smooth
        self.count = np.add.reduce(w, axis=None)
        self.save(logp, w, idx, kept, w_b)
        return _reduce(loss, reduction, self.count)

    def backward(self, g):
        if self.fused:
            logp, target = self.saved
            scale = _spread(g, self.reduction, self.count) if self.count else 0.0  # 0 kept rows: zero gradient
            gz = np.empty_like(logp)
            kernels.cross_entropy_backward(logp, target, self.ignore_index, np.float32(scale), gz)
            return gz, None
        c = _spread(g, self.reduction, self.count)
        if self.probs:
            logp, q, w_b = self.saved
            c = np.expand_dims(c, 1) if np.ndim(c) else c
            gz = (np.exp(logp) * q.sum(axis=1, keepdims=True) - q) * c if self.needs[0] else None
            gt = None
            if self.needs[1]:
                gt = -(1 - self.eps) * c * (logp if w_b is None else logp * w_b)
            return gz, gt
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


# ---------------------------------------------------------------------------
# checked entry points (the functional API)
# ---------------------------------------------------------------------------
def _as_tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._make(as_array(x), False, None)


def _check_reduction(name, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: {reduction!r} is not a valid value for reduction (use 'mean', 'sum' or 'none')")


def _check_pair(name, input, target, reduction):
    """Same shape and same floating dtype for input and target (no silent broadcasting)."""
    _check_reduction(name, reduction)
    target = _as_tensor(target)
    if input.shape != target.shape:
        try:
            hint = f"; they would broadcast to {np.broadcast_shapes(input.shape, target.shape)}, silently"
        except ValueError:
            hint = ""
        raise ValueError(f"{name}: input shape {tuple(input.shape)} and target shape {tuple(target.shape)} differ"
                         f"{hint}. Reshape one to match the other, e.g. target.reshape{tuple(input.shape)} "
                         f"or input.reshape{tuple(target.shape)}")
    if target.dtype != input.dtype:
        raise ValueError(f"{name}: target has dtype {target.dtype} but input has dtype {input.dtype}; convert the "
                         f"target with target.to({input.dtype}) (e.g. target.float())")
    return target


def _constant(value, dtype):
    """A weight given as Tensor or array-like, as an array of the input's dtype (a constant: no gradient)."""
    if value is None:
        return None
    return np.asarray(value.array if isinstance(value, Tensor) else value, dtype=dtype)


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean((input − target)²)."""
    target = _check_pair("mse_loss", input, target, reduction)
    return MSELoss.apply(input, target, reduction)


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean absolute error: mean(|input − target|)."""
    target = _check_pair("l1_loss", input, target, reduction)
    return L1Loss.apply(input, target, reduction)


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Quadratic for errors up to delta, linear beyond."""
    target = _check_pair("huber_loss", input, target, reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    return HuberLoss.apply(input, target, float(delta), reduction)


def binary_cross_entropy(input: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy on probabilities in [0, 1] (after a sigmoid)."""
    target = _check_pair("binary_cross_entropy", input, target, reduction)
    weight = _constant(weight, input.dtype)
    loss = BinaryCrossEntropy.apply(input, target, weight, reduction)
    # An input outside [0, 1] makes its log NaN, so the inputs are searched only when the loss has a NaN:
    # a min and a max on every call would cost more than the loss itself on small batches.
    if math.isnan(loss.array if reduction != "none" else np.add.reduce(loss.array, axis=None)):
        x = input.array
        if x.min() < 0 or x.max() > 1:
            raise ValueError(f"binary_cross_entropy: all elements of input should be between 0 and 1, got values in "
                             f"[{x.min():g}, {x.max():g}]; pass raw scores to binary_cross_entropy_with_logits "
                             f"instead")
    return loss


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable step; pos_weight (per class, last dim) weighs positives."""
    target = _check_pair("binary_cross_entropy_with_logits", input, target, reduction)
    weight = _constant(weight, input.dtype)
    pos_weight = _constant(pos_weight, input.dtype)
    for label, w in (("weight", weight), ("pos_weight", pos_weight)):
        if w is not None:
            try:
                np.broadcast_shapes(w.shape, input.shape)
            except ValueError:
                raise ValueError(f"binary_cross_entropy_with_logits: {label} of shape {w.shape} does not broadcast "
                                 f"to the input shape {tuple(input.shape)}") from None
    return BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, reduction)


_UNSIGNED = {np.dtype(f"i{n}"): np.dtype(f"u{n}") for n in (1, 2, 4, 8)}


def _check_class_target(name, input, target, weight, ignore_index, allow_probs):
    """Validate class-index (or probability) targets for input (N, C, d1, ...) or (C,)."""
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-d tensor")
    target = _as_tensor(target)
    n_classes = input.shape[1] if input.ndim > 1 else input.shape[0]
    index_shape = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    kind = target.dtype.kind
    if kind == "f" and allow_probs and target.shape == input.shape:
        if target.dtype != input.dtype:
            raise ValueError(f"{name}: probability target has dtype {target.dtype} but input has dtype "
                             f"{input.dtype}; convert with target.to({input.dtype})")
    elif kind in "iu" and target.shape == index_shape:
        t = target.array
        # read as unsigned, a negative index is huge, so one max checks both ends of [0, n_classes)
        in_range = t.size == 0 or np.maximum.reduce(t.view(_UNSIGNED.get(t.dtype, t.dtype)), axis=None) < n_classes
        bad = None if in_range else (t != ignore_index) & ((t < 0) | (t >= n_classes))
        if bad is not None and bad.any():
            raise ValueError(f"{name}: target value {t[bad].flat[0]} is out of range for {n_classes} classes "
                             f"(class indices must be in [0, {n_classes - 1}] or equal ignore_index={ignore_index})")
    else:
        accepted = f"class indices (int64) of shape {index_shape}"
        if allow_probs:
            accepted += f" or class probabilities (float) of shape {tuple(input.shape)}"
        hint = ""
        if kind == "f" and target.shape == index_shape:
            hint = "; class-index targets must be integers: use target.long()"
        elif kind in "iu" and target.shape == input.shape:
            hint = "; for one-hot targets pass target.argmax(1), or target.float() as probabilities"
        raise ValueError(f"{name}: expected target as {accepted} for input of shape {tuple(input.shape)}, got "
                         f"target of shape {tuple(target.shape)} and dtype {target.dtype}{hint}")
    if weight is not None:
        weight = _constant(weight, input.dtype)
        if weight.shape != (n_classes,):
            raise ValueError(f"{name}: weight should have shape ({n_classes},), one per class, got {weight.shape}")
    return target, weight


def _with_batch(fn, input, target, reduction):
    """Run a class loss on unbatched input (C,) by adding and removing a batch dimension."""
    if input.ndim > 1:
        return fn(input, target)
    out = fn(input.reshape(1, -1), target.reshape((1,) + target.shape))
    return out.reshape(()) if reduction == "none" else out


def cross_entropy(input: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Softmax + negative log-likelihood in one stable step, on logits (N, C), (C,) or (N, C, d1, ...)."""
    _check_reduction("cross_entropy", reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    target, weight = _check_class_target("cross_entropy", input, target, weight, ignore_index, allow_probs=True)
    return _with_batch(lambda x, t: CrossEntropy.apply(x, t, weight, ignore_index, float(label_smoothing),
                                                       reduction), input, target, reduction)


def nll_loss(input: Tensor, target, weight=None, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class targets, given log-probabilities (after log_softmax)."""
    _check_reduction("nll_loss", reduction)
    target, weight = _check_class_target("nll_loss", input, target, weight, ignore_index, allow_probs=False)
    return _with_batch(lambda x, t: NLLLoss.apply(x, t, weight, ignore_index, reduction), input, target, reduction)


def penalty(parameters, l1: float = 0.0, l2: float = 0.0) -> Tensor:
    """l1·Σ|w| + l2·Σw² over the given tensors, as one differentiable scalar."""
    params = list(parameters)
    if not params or (not l1 and not l2):
        return Tensor._make(np.zeros((), dtype=params[0].dtype if params else np.float32), False, None)
    return Penalty.apply(*params, l1=float(l1), l2=float(l2))
