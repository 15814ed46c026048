"""Recurrent layers, one graph node per layer and direction, with a hand-written backward through time.

Each Function runs one direction of one layer over a whole batch of sequences. The input projection of every
time step is one GEMM before the loop, the loop does only ``h·W_hhᵀ`` and the gate arithmetic of each step, and
the backward walks the steps in reverse, then forms the weight gradients as GEMMs after its loop.

The layout is PyTorch's packed one (``nn.utils.rnn.PackedSequence``): ``x`` is (N, input) holding the rows of
time step 0, then of step 1, ..., and ``batch_sizes[t]`` says how many sequences are still running at step t
(the longest first, so they are the first rows of the state). A padded batch (T, B, input) is the special case
``batch_sizes = [B] * T``, ``x = input.reshape(T·B, input)``. A sequence that has ended keeps its last state
(its h_n); in the reverse direction a sequence starts from h0 at its own last step.

The result is one array: the outputs (N, H), then h_n (B, H), then (LSTM) c_n (B, H), stacked by rows; the
module slices it. The cells of ``nn.RNNCell``, ``nn.LSTMCell`` and ``nn.GRUCell``, built from ordinary ops, are
the readable reference these loops are tested against.

LSTM and GRU layers (without a projection) of at most ``kernels.RNN_GATES`` gate values per step (batch × gates ×
hidden) run their loops in one compiled call when the kernels apply (``lamina/kernels/rnn.py``: the same lines,
fused per step); the NumPy loops below are the definition, and run everything larger.
"""

from __future__ import annotations

import numpy as np

from lamina import kernels
from lamina.autograd.function import Function
from lamina.ops import scratch
from lamina.ops.unary import sigmoid_array


def steps(batch_sizes, reverse: bool):
    """(first row, number of rows) of each time step's block in the packed layout, in the order they are run."""
    starts = np.concatenate(([0], np.cumsum(batch_sizes)[:-1]))
    blocks = [(int(s), int(n)) for s, n in zip(starts, batch_sizes)]
    return blocks[::-1] if reverse else blocks


def _blocks(batch_sizes, reverse: bool):
    """steps() as two int64 arrays (starts, counts), for the kernels."""
    blocks = np.array(steps(batch_sizes, reverse), dtype=np.int64).reshape(-1, 2)
    return np.ascontiguousarray(blocks[:, 0]), np.ascontiguousarray(blocks[:, 1])


def _use_kernels(batch_sizes, gates, *arrays) -> bool:
    """The compiled loop pays where a step's gate arithmetic is small (measured: it is 1.5–3.5x quicker up to 4096
    gate values per step, slower from 8192, where NumPy's vectorised exp and tanh win)."""
    return int(batch_sizes[0]) * gates.shape[1] <= kernels.RNN_GATES and _fits_all(gates, *arrays)


def _fits_all(*arrays) -> bool:
    """The kernels apply to every array given (C-contiguous float32, kernels enabled)."""
    return all(kernels.fits(a) for a in arrays)


def _sigmoid_in_place(v) -> None:
    """v ← σ(v), the steps of unary.sigmoid_array without its temporary (v is a view into the gates)."""
    np.negative(v, out=v)
    np.minimum(v, 88.0 if v.dtype.itemsize <= 4 else 709.0, out=v)
    np.exp(v, out=v)
    v += 1
    np.reciprocal(v, out=v)


def _bias_grads(d, has_bias, needs):
    """dL/db of a bias added to every row (None where there is no bias or it needs no gradient)."""
    return np.add.reduce(d, axis=0) if has_bias and needs else None


class RNN(Function):
    """h_t = f(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh), f = tanh or relu; BPTT: δ_t = (g_t + δ_{t+1}·W_hh)·f′"""

    def forward(self, x, h0, w_ih, w_hh, b_ih, b_hh, *, batch_sizes, reverse, nonlinearity):
        n_rows, batch = x.shape[0], h0.shape[0]
        self.batch_sizes, self.reverse, self.relu, self.has_bias = batch_sizes, reverse, nonlinearity == "relu", \
            b_ih is not None
        result = np.empty((n_rows + batch, h0.shape[1]), dtype=x.dtype)
        y = result[:n_rows]
        np.dot(x, w_ih.T, out=y)  # every step's input projection in one GEMM
        if b_ih is not None:
            y += b_ih + b_hh
        h = h0.copy()
        h_prev = np.empty_like(y)
        for s, n in steps(batch_sizes, reverse):
            a = y[s:s + n]
            h_prev[s:s + n] = h[:n]
            a += np.dot(h[:n], w_hh.T)
            if self.relu:
                np.maximum(a, 0, out=a)
            else:
                np.tanh(a, out=a)
            h[:n] = a
        result[n_rows:] = h
        self.save(x, w_ih, w_hh, h_prev, y)
        return result

    def backward(self, g):
        x, w_ih, w_hh, h_prev, y = self.saved
        n_rows = x.shape[0]
        g_out, dh = g[:n_rows], g[n_rows:].copy()
        d = np.empty_like(y)  # dL/d(pre-activation) of every step
        for s, n in steps(self.batch_sizes, not self.reverse):
            ds = d[s:s + n]
            np.add(g_out[s:s + n], dh[:n], out=ds)
            ys = y[s:s + n]
            ds *= (ys > 0) if self.relu else 1 - ys * ys
            dh[:n] = np.dot(ds, w_hh)
        needs = self.needs
        dx = np.dot(d, w_ih) if needs[0] else None
        dw_ih = np.dot(d.T, x) if needs[2] else None
        dw_hh = np.dot(d.T, h_prev) if needs[3] else None
        db = _bias_grads(d, self.has_bias, needs[4] or needs[5])
        return dx, (dh if needs[1] else None), dw_ih, dw_hh, db, db


class LSTM(Function):
    """gates i, f, g, o = σ, σ, tanh, σ of x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh; c_t = f·c_{t−1} + i·g,
    h_t = o·tanh(c_t), or with a projection W_hr (proj_size rows) h_t = (o·tanh(c_t))·W_hrᵀ; BPTT carries dL/dh
    and dL/dc back through the steps.

    With a projection h is narrower (P = proj_size) than c (H): the result's rows are H wide and the outputs and
    h_n fill their first P columns (the rest are zeros)."""

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr=None, *, batch_sizes, reverse):
        n_rows, (batch, hidden) = x.shape[0], c0.shape
        self.batch_sizes, self.reverse, self.has_bias = batch_sizes, reverse, b_ih is not None
        # (N, 4H): becomes the gates' activations, step by step; it and the other arrays saved for the backward
        # are scratch buffers, reused from step to step (fresh pages cost a fault each on first write)
        gates = np.dot(x, w_ih.T, out=scratch.take((n_rows, 4 * hidden), x.dtype))
        if b_ih is not None:
            gates += b_ih + b_hh
        width = h0.shape[1]
        result = np.empty((n_rows + 2 * batch, hidden), dtype=x.dtype) if w_hr is None else \
            np.zeros((n_rows + 2 * batch, hidden), dtype=x.dtype)
        h, c = h0.copy(), c0.copy()
        h_prev, c_prev, tanh_c = (scratch.take((n_rows, size), x.dtype) for size in (width, hidden, hidden))
        m_all = None if w_hr is None else np.empty_like(tanh_c)  # o·tanh(c) before the projection
        two, three = 2 * hidden, 3 * hidden
        if w_hr is None and _use_kernels(batch_sizes, gates, h, c, w_hh):
            kernels.lstm_forward(gates, h, c, np.ascontiguousarray(w_hh.T), *_blocks(batch_sizes, reverse),
                                 result[:n_rows], h_prev, c_prev, tanh_c)
            batch_sizes = ()  # the loop below has nothing left to do
        elif w_hr is None and _fits_all(gates, h, c, w_hh):  # larger: the loop here, each step's arithmetic compiled
            hp, w_hh_t = np.empty_like(gates[:batch]), w_hh.T  # hp: a step's recurrent product h·W_hhᵀ
            for s, n in steps(batch_sizes, reverse):
                np.dot(h[:n], w_hh_t, out=hp[:n])
                kernels.lstm_step(gates[s:s + n], hp[:n], h[:n], c[:n], result[s:s + n], h_prev[s:s + n],
                                  c_prev[s:s + n], tanh_c[s:s + n])
            batch_sizes = ()
        g_pre = np.empty_like(c)  # the g gate's pre-activation, while σ runs over the whole block
        for s, n in steps(batch_sizes, reverse):
            z = gates[s:s + n]
            z += np.dot(h[:n], w_hh.T)
            np.copyto(g_pre[:n], z[:, two:three])
            _sigmoid_in_place(z)  # i, f, o (one pass over the contiguous block is quicker than three strided ones)
            np.tanh(g_pre[:n], out=z[:, two:three])
            i, f, gg, o = z[:, :hidden], z[:, hidden:two], z[:, two:three], z[:, three:]
            h_prev[s:s + n], c_prev[s:s + n] = h[:n], c[:n]
            cn = c[:n]
            cn *= f
            cn += i * gg  # c_t = f·c_{t−1} + i·g, in place
            tc = tanh_c[s:s + n]
            np.tanh(cn, out=tc)
            if w_hr is None:
                np.multiply(o, tc, out=result[s:s + n])
                h[:n] = result[s:s + n]
            else:
                m = m_all[s:s + n]
                np.multiply(o, tc, out=m)
                h[:n] = np.dot(m, w_hr.T)
                result[s:s + n, :width] = h[:n]
        result[n_rows:n_rows + batch, :width], result[n_rows + batch:] = h, c
        self.save(x, w_ih, w_hh, w_hr, gates, h_prev, c_prev, tanh_c, m_all)
        return result

    def backward(self, g):
        x, w_ih, w_hh, w_hr, gates, h_prev, c_prev, tanh_c, m_all = self.saved
        n_rows, width, hidden = x.shape[0], h_prev.shape[1], tanh_c.shape[1]
        batch = (g.shape[0] - n_rows) // 2
        g_out, dh, dc = g[:n_rows, :width], g[n_rows:n_rows + batch, :width].copy(), g[n_rows + batch:].copy()
        d = scratch.take(gates.shape, gates.dtype)  # dL/d(pre-activation gates)
        dh_all = None if w_hr is None else np.empty_like(h_prev)  # dL/dh_t, for dL/dW_hr
        two, three = 2 * hidden, 3 * hidden
        batch_sizes = self.batch_sizes
        if w_hr is None and _use_kernels(batch_sizes, gates, g, w_hh):
            kernels.lstm_backward(gates, tanh_c, c_prev, g_out, w_hh, *_blocks(batch_sizes, not self.reverse), dh,
                                  dc, d)
            batch_sizes = ()
        elif w_hr is None and _fits_all(g, gates, w_hh):  # larger: each step's gate arithmetic in one compiled pass
            for s, n in steps(batch_sizes, not self.reverse):
                kernels.lstm_gate_grads(gates[s:s + n], tanh_c[s:s + n], c_prev[s:s + n], g_out[s:s + n], dh[:n],
                                        dc[:n], d[s:s + n])
                np.dot(d[s:s + n], w_hh, out=dh[:n])
            batch_sizes = ()
        for s, n in steps(batch_sizes, not self.reverse):
            z, tc = gates[s:s + n], tanh_c[s:s + n]
            i, f, gg, o = z[:, :hidden], z[:, hidden:two], z[:, two:three], z[:, three:]
            dhn = g_out[s:s + n] + dh[:n]
            if w_hr is not None:
                dh_all[s:s + n] = dhn
                dhn = np.dot(dhn, w_hr)  # dL/d(o·tanh c)
            dcn = dc[:n] + dhn * o * (1 - tc * tc)
            ds = d[s:s + n]
            ds[:, :hidden] = dcn * gg * i * (1 - i)
            ds[:, hidden:two] = dcn * c_prev[s:s + n] * f * (1 - f)
            ds[:, two:three] = dcn * i * (1 - gg * gg)
            ds[:, three:] = dhn * tc * o * (1 - o)
            dc[:n] = dcn * f
            dh[:n] = np.dot(ds, w_hh)
        needs = self.needs
        dx = np.dot(d, w_ih) if needs[0] else None
        dw_ih = np.dot(d.T, x) if needs[3] else None
        dw_hh = np.dot(d.T, h_prev) if needs[4] else None
        db = _bias_grads(d, self.has_bias, needs[5] or needs[6])
        if w_hr is None:
            return dx, (dh if needs[1] else None), (dc if needs[2] else None), dw_ih, dw_hh, db, db
        dw_hr = np.dot(dh_all.T, m_all) if needs[7] else None
        return dx, (dh if needs[1] else None), (dc if needs[2] else None), dw_ih, dw_hh, db, db, dw_hr


class GRU(Function):
    """r, z = σ(x_t·W_i{r,z}ᵀ + b_i{r,z} + h_{t−1}·W_h{r,z}ᵀ + b_h{r,z}), n = tanh(x_t·W_inᵀ + b_in +
    r·(h_{t−1}·W_hnᵀ + b_hn)), h_t = (1 − z)·n + z·h_{t−1}; BPTT carries dL/dh back through the steps"""

    def forward(self, x, h0, w_ih, w_hh, b_ih, b_hh, *, batch_sizes, reverse):
        n_rows, (batch, hidden) = x.shape[0], h0.shape
        self.batch_sizes, self.reverse, self.has_bias = batch_sizes, reverse, b_ih is not None
        gates = np.dot(x, w_ih.T)  # (N, 3H): becomes r, z, n step by step
        if b_ih is not None:
            gates += b_ih
        result = np.empty((n_rows + batch, hidden), dtype=x.dtype)
        h = h0.copy()
        h_prev, hn = np.empty_like(result[:n_rows]), np.empty_like(result[:n_rows])
        two = 2 * hidden
        if _use_kernels(batch_sizes, gates, h, w_hh):
            b = np.zeros(3 * hidden, gates.dtype) if b_hh is None else np.ascontiguousarray(b_hh)
            kernels.gru_forward(gates, h, np.ascontiguousarray(w_hh.T), b, *_blocks(batch_sizes, reverse),
                                result[:n_rows], h_prev, hn)
            batch_sizes = ()
        for s, n in steps(batch_sizes, reverse):
            a = gates[s:s + n]
            hp = np.dot(h[:n], w_hh.T)
            if b_hh is not None:
                hp += b_hh
            a[:, :two] = sigmoid_array(a[:, :two] + hp[:, :two])
            r, z = a[:, :hidden], a[:, hidden:two]
            hn[s:s + n] = hp[:, two:]
            a[:, two:] = np.tanh(a[:, two:] + r * hp[:, two:])
            nn = a[:, two:]
            h_prev[s:s + n] = h[:n]
            h[:n] = nn + z * (h[:n] - nn)
            result[s:s + n] = h[:n]
        result[n_rows:] = h
        self.save(x, w_ih, w_hh, gates, h_prev, hn)
        return result

    def backward(self, g):
        x, w_ih, w_hh, gates, h_prev, hn = self.saved
        n_rows, hidden = x.shape[0], w_hh.shape[1]
        g_out, dh = g[:n_rows], g[n_rows:].copy()
        dx_pre, dh_pre = np.empty_like(gates), np.empty_like(gates)  # dL/d(x·W_ihᵀ + b_ih), dL/d(h·W_hhᵀ + b_hh)
        two = 2 * hidden
        batch_sizes = self.batch_sizes
        if _use_kernels(batch_sizes, gates, g, w_hh):
            kernels.gru_backward(gates, h_prev, hn, g_out, w_hh, *_blocks(batch_sizes, not self.reverse), dh, dx_pre,
                                 dh_pre)
            batch_sizes = ()
        for s, n in steps(batch_sizes, not self.reverse):
            a = gates[s:s + n]
            r, z, nn = a[:, :hidden], a[:, hidden:two], a[:, two:]
            dhn = g_out[s:s + n] + dh[:n]
            dn = dhn * (1 - z) * (1 - nn * nn)
            dxs, dhs = dx_pre[s:s + n], dh_pre[s:s + n]
            dxs[:, :hidden] = dn * hn[s:s + n] * r * (1 - r)
            dxs[:, hidden:two] = dhn * (h_prev[s:s + n] - nn) * z * (1 - z)
            dxs[:, two:] = dn
            dhs[:, :two] = dxs[:, :two]
            dhs[:, two:] = dn * r
            dh[:n] = dhn * z + np.dot(dhs, w_hh)
        needs = self.needs
        dx = np.dot(dx_pre, w_ih) if needs[0] else None
        dw_ih = np.dot(dx_pre.T, x) if needs[2] else None
        dw_hh = np.dot(dh_pre.T, h_prev) if needs[3] else None
        db_ih = _bias_grads(dx_pre, self.has_bias, needs[4])
        db_hh = _bias_grads(dh_pre, self.has_bias, needs[5])
        return dx, (dh if needs[1] else None), dw_ih, dw_hh, db_ih, db_hh
