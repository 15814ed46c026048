"""Recurrent layers with PyTorch's API: RNN, LSTM, GRU (fused: one graph node per layer and direction, see
lamina/ops/rnn.py) and the cells RNNCell, LSTMCell, GRUCell (built from ordinary ops: the readable reference).

Parameters and their order are PyTorch's: ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
``bias_hh_l{k}`` and, for an LSTM with ``proj_size``, ``weight_hr_l{k}`` (``_reverse`` for the backward
direction), gates stacked in the order i, f, g, o (LSTM) and r, z, n (GRU), all drawn from
U(−1/√hidden_size, 1/√hidden_size); so state_dicts move both ways.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from lamina.nn import functional as F
from lamina.nn import init
from lamina.nn.module import LayerInputError, Module
from lamina.nn.parameter import Parameter
from lamina.nn.utils.rnn import PackedSequence
from lamina.ops import rnn as _rnn
from lamina.ops.shape import cat, stack
from lamina.tensor import Tensor, as_array, from_numpy

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters, the checks, packing, layers and directions."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None):
        super().__init__()
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          stacklevel=2)
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size!r}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        dtype = np.dtype(dtype or np.float32)
        gate_size, real_hidden = _GATES[mode] * hidden_size, proj_size or hidden_size
        self._flat_weights_names = []
        for layer in range(num_layers):
            for suffix in ("", "_reverse")[:self.num_directions]:
                width = input_size if layer == 0 else real_hidden * self.num_directions
                shapes = {"weight_ih": (gate_size, width), "weight_hh": (gate_size, real_hidden)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for kind, shape in shapes.items():
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, Parameter(np.empty(shape, dtype=dtype)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def _weights(self, layer: int, direction: int) -> tuple:
        suffix = "_reverse" if direction else ""
        p = self._parameters
        weights = (p[f"weight_ih_l{layer}{suffix}"], p[f"weight_hh_l{layer}{suffix}"],
                   p.get(f"bias_ih_l{layer}{suffix}"), p.get(f"bias_hh_l{layer}{suffix}"))
        return weights + (p[f"weight_hr_l{layer}{suffix}"],) if self.proj_size else weights

    @property
    def all_weights(self) -> list:
        return [[getattr(self, n) for n in self._flat_weights_names if n.endswith(f"_l{k}{s}")]
                for k in range(self.num_layers) for s in ("", "_reverse")[:self.num_directions]]

    def flatten_parameters(self) -> None:
        """PyTorch's cuDNN housekeeping: nothing to do on the CPU."""

    # -- input ----------------------------------------------------------------------------------------
    def _prepare(self, input):
        """(packed rows (N, input_size), batch_sizes, batch size, undo) from a tensor or a PackedSequence."""
        if isinstance(input, PackedSequence):
            data, batch_sizes = input.data, as_array(input.batch_sizes).astype(np.int64)
            if data.ndim != 2 or data.shape[1] != self.input_size:
                raise LayerInputError(self, f"expected packed data with {self.input_size} features in the last "
                                            f"dimension, got shape {tuple(data.shape)}")
            return data, batch_sizes, int(batch_sizes[0]), ("packed", input)
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a Tensor or a PackedSequence, got "
                            f"{type(input).__name__}")
        if input.ndim not in (2, 3):
            raise LayerInputError(self, f"expected input of 2 dimensions (L, {self.input_size}: unbatched) or 3 "
                                        f"({'N, L' if self.batch_first else 'L, N'}, {self.input_size}), got shape "
                                        f"{tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise LayerInputError(self, f"expected input with {self.input_size} features in the last dimension, "
                                        f"got shape {tuple(input.shape)}")
        if input.dtype != self.weight_ih_l0.dtype:
            raise LayerInputError(self, f"expected input of dtype {self.weight_ih_l0.dtype} (the layer's), got "
                                        f"{input.dtype}")
        unbatched = input.ndim == 2
        x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
        steps, batch = x.shape[0], x.shape[1]
        return x.reshape(steps * batch, self.input_size), np.full(steps, batch, dtype=np.int64), batch, \
            ("unbatched" if unbatched else "batched", steps)

    def _initial(self, hx, batch: int, undo, label: str = "hidden state") -> Tensor:
        """h0 (or c0) as (layers·directions, batch, hidden), in the packed (sorted) batch order; h0 of an LSTM with
        proj_size is proj_size wide."""
        width = self.proj_size if self.proj_size and label == "hidden state" else self.hidden_size
        shape = (self.num_layers * self.num_directions, batch, width)
        if hx is None:
            return from_numpy(np.zeros(shape, dtype=self.weight_ih_l0.dtype))
        unbatched = undo[0] == "unbatched"
        expected = (shape[0], shape[2]) if unbatched else shape
        if tuple(hx.shape) != expected:
            raise LayerInputError(self, f"expected {label} of shape {expected}, got {tuple(hx.shape)}")
        if hx.dtype != self.weight_ih_l0.dtype:
            raise LayerInputError(self, f"expected {label} of dtype {self.weight_ih_l0.dtype}, got {hx.dtype}")
        if unbatched:
            return hx.unsqueeze(1)
        if undo[0] == "packed" and undo[1].sorted_indices is not None:
            return hx[:, as_array(undo[1].sorted_indices)]
        return hx

    def _finish(self, output: Tensor, states: list, undo):
        """The output in the input's form, and each final state as (layers·directions, batch, hidden)."""
        kind = undo[0]
        if kind == "packed":
            packed = undo[1]
            output = packed._replace(data=output)
            if packed.unsorted_indices is not None:
                states = [s[:, as_array(packed.unsorted_indices)] for s in states]
            return output, states
        width = output.shape[-1]
        output = output.reshape(undo[1], -1, width)
        if kind == "unbatched":
            return output.squeeze(1), [s.squeeze(1) for s in states]
        return (output.transpose(0, 1) if self.batch_first else output), states

    # -- the layers ---------------------------------------------------------------------------------------
    def _run(self, x: Tensor, batch_sizes, initial: list) -> tuple[Tensor, list]:
        """Every layer and direction over the packed rows x; initial holds h0 (and c0), each (L·D, B, H)."""
        rows, batch = x.shape[0], initial[0].shape[1]
        finals = [[] for _ in initial]
        proj = self.proj_size  # the op's rows are hidden_size wide; h and the outputs fill the first proj_size
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                k = layer * self.num_directions + direction
                result = self._direction(x, [s[k] for s in initial], self._weights(layer, direction), batch_sizes,
                                         bool(direction))
                outputs.append(result[:rows, :proj] if proj else result[:rows])
                for j, final in enumerate(finals):
                    final.append(result[rows + j * batch:rows + (j + 1) * batch, :proj] if proj and j == 0
                                 else result[rows + j * batch:rows + (j + 1) * batch])
            x = outputs[0] if len(outputs) == 1 else cat(outputs, dim=1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, [stack(final) for final in finals]

    def forward(self, input, hx: Tensor | None = None):
        """(output, h_n) for the one-state layers (RNN, GRU); LSTM, with its cell state, has its own."""
        x, batch_sizes, batch, undo = self._prepare(input)
        h0 = self._initial(hx, batch, undo)
        output, finals = self._run(x, batch_sizes, [h0])
        output, (h_n,) = self._finish(output, finals, undo)
        return output, h_n

    def _direction(self, x, states, weights, batch_sizes, reverse):  # pragma: no cover - interface
        raise NotImplementedError

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh) (or relu). Returns (output, h_n)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, device=device, dtype=dtype)

    def _direction(self, x, states, weights, batch_sizes, reverse):
        return _rnn.RNN.apply(x, states[0], *weights, batch_sizes=batch_sizes, reverse=reverse,
                              nonlinearity=self.nonlinearity)


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o; c_t = f·c_{t−1} + i·g, h_t = o·tanh(c_t), or with
    ``proj_size`` P > 0 h_t = (o·tanh(c_t))·W_hrᵀ (P wide: the outputs and h_n too, c_n stays hidden_size wide).
    Returns (output, (h_n, c_n))."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)

    def _direction(self, x, states, weights, batch_sizes, reverse):
        return _rnn.LSTM.apply(x, states[0], states[1], *weights, batch_sizes=batch_sizes, reverse=reverse)

    def forward(self, input, hx: tuple | None = None):
        x, batch_sizes, batch, undo = self._prepare(input)
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise LayerInputError(self, "expected hx to be a tuple (h_0, c_0)")
        h0 = self._initial(None if hx is None else hx[0], batch, undo)
        c0 = self._initial(None if hx is None else hx[1], batch, undo, "cell state")
        output, finals = self._run(x, batch_sizes, [h0, c0])
        output, (h_n, c_n) = self._finish(output, finals, undo)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit: gates r, z, n with b_hn inside the reset product; h_t = (1 − z)·n + z·h_{t−1}.
    Returns (output, h_n)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, device=None,
                 dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def _direction(self, x, states, weights, batch_sizes, reverse):
        return _rnn.GRU.apply(x, states[0], *weights, batch_sizes=batch_sizes, reverse=reverse)


# -- cells: one time step, from ordinary ops ------------------------------------------------------------------
class RNNCellBase(Module):
    _gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        dtype = np.dtype(dtype or np.float32)
        self.weight_ih = Parameter(np.empty((self._gates * hidden_size, input_size), dtype=dtype))
        self.weight_hh = Parameter(np.empty((self._gates * hidden_size, hidden_size), dtype=dtype))
        if bias:
            self.bias_ih = Parameter(np.empty(self._gates * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(np.empty(self._gates * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def _check(self, input: Tensor, hx, label: str = "hidden state"):
        """(input as (B, input_size), hx as (B, hidden) or zeros, whether the input was unbatched)."""
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise LayerInputError(self, f"expected input of shape (N, {self.input_size}) or ({self.input_size},), "
                                        f"got {tuple(input.shape)}")
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        expected = (self.hidden_size,) if unbatched else (x.shape[0], self.hidden_size)
        if hx is None:
            return x, from_numpy(np.zeros((x.shape[0], self.hidden_size), dtype=input.dtype)), unbatched
        if tuple(hx.shape) != expected:
            raise LayerInputError(self, f"expected {label} of shape {expected}, got {tuple(hx.shape)}")
        return x, (hx.unsqueeze(0) if unbatched else hx), unbatched

    def _project(self, x, h):
        return F.linear(x, self.weight_ih, self.bias_ih), F.linear(h, self.weight_hh, self.bias_hh)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """h′ = tanh(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh) (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, unbatched = self._check(input, hx)
        gi, gh = self._project(x, h)
        h = (gi + gh).tanh() if self.nonlinearity == "tanh" else (gi + gh).relu()
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    """i, f, g, o = σ, σ, tanh, σ of x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh; c′ = f·c + i·g, h′ = o·tanh(c′)."""

    _gates = 4

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple[Tensor, Tensor]:
        x, h, unbatched = self._check(input, None if hx is None else hx[0])
        c = self._check(input, None if hx is None else hx[1], "cell state")[1]
        gi, gh = self._project(x, h)
        i, f, g, o = (gi + gh).chunk(4, 1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = o.sigmoid() * c.tanh()
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """r, z = σ(x·W_i{r,z}ᵀ + b_i{r,z} + h·W_h{r,z}ᵀ + b_h{r,z}), n = tanh(x·W_inᵀ + b_in + r·(h·W_hnᵀ + b_hn)),
    h′ = (1 − z)·n + z·h."""

    _gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, unbatched = self._check(input, hx)
        gi, gh = self._project(x, h)
        i_r, i_z, i_n = gi.chunk(3, 1)
        h_r, h_z, h_n = gh.chunk(3, 1)
        r, z = (i_r + h_r).sigmoid(), (i_z + h_z).sigmoid()
        n = (i_n + r * h_n).tanh()
        h = (1 - z) * n + z * h
        return h.squeeze(0) if unbatched else h
