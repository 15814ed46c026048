"""SyncBatchNorm: batch normalisation whose statistics span the whole global batch, all ranks together.

Forward: each rank computes its count, per-channel mean and sum of squared deviations in float64; one
``Allgather`` brings every rank's three to every rank, which combine them exactly (Chan's parallel formula:
M2 = Σ M2_r + Σ n_r·(μ_r − μ)²). Backward: one ``Allreduce`` of the per-channel Σg and Σg·x̂ over the ranks,
then BatchNorm's closed form with the global count, as PyTorch's SyncBatchNorm (whose scale then matches
DistributedDataParallel's averaging of the gradients: the pair gives the gradient of the global batch's mean loss).
"""

from __future__ import annotations

import numpy as np

from lamina.distributed import comm
from lamina.nn.module import LayerInputError, Module
from lamina.nn.normalization import _BatchNorm
from lamina.ops.norm import BatchNorm as _BatchNormFunction
from lamina.tensor import Tensor


class SyncBatchNormFunction(_BatchNormFunction):
    """BatchNorm's op with statistics over all ranks: ``total`` is the number of values per channel in the
    global batch."""

    def forward(self, x, weight, bias, mean, var, eps, total):
        self.total = total
        return super().forward(x, weight, bias, mean, var, eps, True)

    def backward(self, g):
        xhat, inv_std, weight = self.saved
        axes, shape = self.axes, self.shape
        sum_g, sum_gx = g.sum(axis=axes), (g * xhat).sum(axis=axes)
        gx = None
        if self.needs[0]:  # the same on every rank: the model is the same
            both = np.concatenate([sum_g, sum_gx]).astype(np.float64)
            comm.all_reduce_array(both, comm.ReduceOp.SUM)
            c, n = sum_g.size, self.total
            mean_g, mean_gx = (both[:c] / n).astype(g.dtype), (both[c:] / n).astype(g.dtype)
            scale = inv_std if weight is None else inv_std * weight
            gx = (g - mean_g.reshape(shape) - xhat * mean_gx.reshape(shape)) * scale.reshape(shape)
        return gx, (sum_gx if self.needs[1] else None), (sum_g if self.needs[2] else None)


def global_moments(x: np.ndarray):
    """(count, mean, biased variance) per channel (axis 1) of the global batch: every rank's ``x`` together."""
    axes = (0,) + tuple(range(2, x.ndim))
    n = x.size // x.shape[1]
    mean = x.mean(axis=axes, dtype=np.float64)
    centred = x - mean.reshape((1, -1) + (1,) * (x.ndim - 2))
    m2 = (centred * centred).sum(axis=axes)
    mine = np.concatenate([[float(n)], mean, m2])
    every = comm.all_gather_array(mine)
    counts, means, m2s = every[:, 0], every[:, 1:1 + mean.size], every[:, 1 + mean.size:]
    total = counts.sum()
    mu = (counts[:, None] * means).sum(axis=0) / total
    m2_all = m2s.sum(axis=0) + (counts[:, None] * (means - mu) ** 2).sum(axis=0)
    return int(total), mu, m2_all / total


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over (N, C, ...) input whose batch statistics cover every rank's batch, as PyTorch's
    ``nn.SyncBatchNorm``: while training in a job of several processes each channel is normalised with the mean
    and variance of the global batch (running statistics follow them); in eval, or in a single process, it is
    ``BatchNorm``. ``SyncBatchNorm.convert_sync_batchnorm(model)`` swaps a model's BatchNorm layers for it."""

    _ranks, _layout = tuple(range(2, 9)), "(N, C, ...)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None):
        if process_group is not None:
            raise NotImplementedError("SyncBatchNorm: process_group is not supported (statistics span the whole job)")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        batch_stats = self.training or self.running_mean is None
        if not (batch_stats and comm.is_initialized() and comm.world_size() > 1):
            return super().forward(input)
        x = input.array
        if x.ndim < 2 or x.shape[1] != self.num_features:
            raise LayerInputError(self, f"expected input with {self.num_features} channels in dimension 1, "
                                        f"got shape {tuple(x.shape)}")
        total, mean, var = global_moments(x)
        if total <= 1:
            raise LayerInputError(self, f"expected more than 1 value per channel over all ranks when training, got "
                                        f"{total}")
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            factor = (1.0 / float(self.num_batches_tracked.array) if self.momentum is None else self.momentum)
            self.running_mean.array[...] = ((1 - factor) * self.running_mean.array + factor * mean)
            self.running_var.array[...] = ((1 - factor) * self.running_var.array + factor * var * total / (total - 1))
        dtype = x.dtype
        return SyncBatchNormFunction.apply(input, self.weight, self.bias, mean.astype(dtype), var.astype(dtype),
                                           eps=self.eps, total=total)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """``module`` with every BatchNorm1d/2d (itself or inside it) replaced by a SyncBatchNorm holding the same
        parameters, buffers and mode, as PyTorch's."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                      process_group)
            for name in ("weight", "bias"):
                out._parameters[name] = module._parameters.get(name)
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                out._buffers[name] = module._buffers.get(name)
            out.train(module.training)
        for name, child in module.named_children():
            converted = cls.convert_sync_batchnorm(child, process_group)
            if converted is not child:
                out.add_module(name, converted)
        return out
