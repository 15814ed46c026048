"""Batches of sequences of different lengths, as PyTorch's torch.nn.utils.rnn.

A padded batch (T, B, *) wastes the steps after each sequence's end. A ``PackedSequence`` keeps only the real
steps, time-major: the rows of step 0 of every sequence, then of step 1 of the sequences that are that long, and
so on, the longest sequences first; ``batch_sizes[t]`` counts the sequences still running at step t. The
recurrent layers take it as input and run each sequence for exactly its own length.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from lamina.ops.shape import GatherDistinct, Pad, ScatterDistinct, stack
from lamina.tensor import Tensor, as_array, from_numpy

__all__ = ["PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence", "pack_sequence",
           "unpack_sequence", "unpad_sequence", "invert_permutation"]


class PackedSequence(NamedTuple):
    """``data`` (sum of the lengths, *), ``batch_sizes`` (int64, one per step), and the permutation that sorted
    the batch by length (``sorted_indices``) with its inverse (``unsorted_indices``); None when it was sorted."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args, **kwargs) -> PackedSequence:
        return self._replace(data=self.data.to(*args, **kwargs))

    def float(self) -> PackedSequence:
        return self._replace(data=self.data.float())

    def double(self) -> PackedSequence:
        return self._replace(data=self.data.double())

    def cpu(self) -> PackedSequence:
        return self

    @property
    def is_cuda(self) -> bool:
        return False


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    if permutation is None:
        return None
    p = as_array(permutation)
    inverse = np.empty_like(p)
    inverse[p] = np.arange(p.size, dtype=p.dtype)
    return from_numpy(inverse)


def _lengths(lengths) -> np.ndarray:
    out = np.asarray(as_array(lengths), dtype=np.int64).reshape(-1)
    return out


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) ((B, T, *) with batch_first) whose sequence b has length lengths[b].

    With ``enforce_sorted`` the lengths must be in decreasing order; otherwise the batch is sorted here and the
    permutation kept, so that the outputs come back in the input's order."""
    lengths = _lengths(lengths)
    batch = input.shape[0 if batch_first else 1]
    if lengths.size != batch:
        raise ValueError(f"pack_padded_sequence: expected {batch} lengths (one per sequence), got {lengths.size}")
    if lengths.size and lengths.min() <= 0:
        raise RuntimeError("pack_padded_sequence: every length must be at least 1 (empty sequences cannot be "
                           f"packed), got {lengths.tolist()}")
    if lengths.size and lengths.max() > input.shape[1 if batch_first else 0]:
        raise ValueError(f"pack_padded_sequence: a length of {lengths.max()} is longer than the "
                         f"{input.shape[1 if batch_first else 0]} steps of the input")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence "
                               "to sidestep this requirement if you do not need ONNX exportability.")
        order, sorted_indices = np.arange(batch), None
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices = from_numpy(order.astype(np.int64))
    sorted_lengths = lengths[order]
    steps = int(sorted_lengths[0]) if batch else 0
    t, b = np.nonzero(np.arange(steps)[:, None] < sorted_lengths[None, :])  # time-major: the packed order
    index = (order[b], t) if batch_first else (t, order[b])
    batch_sizes = (sorted_lengths[None, :] > np.arange(steps)[:, None]).sum(1).astype(np.int64)
    return PackedSequence(GatherDistinct.apply(input, index), from_numpy(batch_sizes), sorted_indices,
                          invert_permutation(sorted_indices))


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """The inverse of pack_padded_sequence: (padded batch, lengths), in the original batch order."""
    data, batch_sizes, sorted_indices, unsorted_indices = sequence
    bs = as_array(batch_sizes)
    steps, batch = bs.size, int(bs[0])
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence ({steps}), "
                             f"but got total_length={total_length}")
        steps = total_length
    sorted_lengths = (bs[None, :] > np.arange(batch)[:, None]).sum(1).astype(np.int64)
    order = np.arange(batch) if sorted_indices is None else as_array(sorted_indices)
    t, b = np.nonzero(np.arange(steps)[:, None] < sorted_lengths[None, :])
    index = (order[b], t) if batch_first else (t, order[b])
    shape = ((batch, steps) if batch_first else (steps, batch)) + tuple(data.shape[1:])
    padded = ScatterDistinct.apply(data, index, shape, padding_value)
    lengths = sorted_lengths if unsorted_indices is None else sorted_lengths[as_array(unsorted_indices)]
    return padded, from_numpy(lengths)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences (L_i, *) into (T, B, *) ((B, T, *) with batch_first), padded to the longest."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = longest - s.shape[0]
        widths = ((0, extra) if padding_side == "right" else (extra, 0),) + ((0, 0),) * (s.ndim - 1)
        padded.append(Pad.apply(s, widths, padding_value) if extra else s)
    return stack(padded, dim=0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (L_i, *) directly."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """The list of sequences of a padded batch, each cut to its length."""
    lengths = _lengths(lengths)
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[b, :int(n)] for b, n in enumerate(lengths)]


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of sequences of a PackedSequence, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
