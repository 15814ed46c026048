"""Kernels of the recurrent layers in lamina/ops/rnn.py: a whole direction of an LSTM or GRU layer, forward or
backward, in one compiled call.

Each runs the op's time loop: the recurrent product of a step (``np.dot`` here is a BLAS call, as in NumPy), then
the step's gate arithmetic fused into one pass over its rows, with no temporaries. The NumPy loop in the op stays
the definition; the formulas below are its lines in the same order, so the arithmetic is the same bit for bit
and only exp and tanh (numba's scalar ones against NumPy's vectorised ones) round differently.

The blocks of the packed layout come as ``starts`` and ``counts`` (``ops.rnn.steps``), in the order they run.
``lstm_gate_grads`` is one step of the LSTM's backward without the product: larger layers, whose loops stay in
Python, call it per step (it has no exp or tanh, so it wins at every size).
"""

from __future__ import annotations

import math

import numpy as np

from lamina.kernels import jit

_1, _88 = np.float32(1), np.float32(88)


@jit
def _sigmoid(z):
    return _1 / (math.exp(min(-z, _88)) + _1)


@jit
def lstm_forward(gates, h, c, w_hh_t, starts, counts, out, h_prev, c_prev, tanh_c):
    """ops.rnn.LSTM.forward's loop: gates (N, 4H) hold x·W_ihᵀ + biases and become σ(i), σ(f), tanh(g), σ(o);
    h, c (B, H) are the running state (updated in place); out (N, H) the outputs; h_prev, c_prev, tanh_c (N, H)
    what the backward needs."""
    hidden = c.shape[1]
    for k in range(starts.size):
        s, n = starts[k], counts[k]
        hp = np.dot(h[:n], w_hh_t)
        for r in range(n):
            row = s + r
            for j in range(hidden):
                h_prev[row, j] = h[r, j]
                c_prev[row, j] = c[r, j]
                i = _sigmoid(gates[row, j] + hp[r, j])
                f = _sigmoid(gates[row, hidden + j] + hp[r, hidden + j])
                g = np.tanh(gates[row, 2 * hidden + j] + hp[r, 2 * hidden + j])
                o = _sigmoid(gates[row, 3 * hidden + j] + hp[r, 3 * hidden + j])
                gates[row, j], gates[row, hidden + j], gates[row, 2 * hidden + j], gates[row, 3 * hidden + j] = \
                    i, f, g, o
                cn = f * c[r, j] + i * g
                c[r, j] = cn
                tc = np.tanh(cn)
                tanh_c[row, j] = tc
                out[row, j] = o * tc
                h[r, j] = o * tc


@jit
def lstm_gate_grads(gates, tanh_c, c_prev, g_out, dh, dc, d):
    """One step of ops.rnn.LSTM.backward's loop, the product aside (rows of this step only): dL/d(pre-activation
    gates) into d (n, 4H); dc (n, H) becomes dL/dc_{t−1}. dh (n, H) is dL/dh_t from the later steps."""
    hidden = dc.shape[1]
    for r in range(dc.shape[0]):
        for j in range(hidden):
            i, f = gates[r, j], gates[r, hidden + j]
            g, o = gates[r, 2 * hidden + j], gates[r, 3 * hidden + j]
            tc = tanh_c[r, j]
            dhn = g_out[r, j] + dh[r, j]
            dcn = dc[r, j] + dhn * o * (_1 - tc * tc)
            d[r, j] = dcn * g * i * (_1 - i)
            d[r, hidden + j] = dcn * c_prev[r, j] * f * (_1 - f)
            d[r, 2 * hidden + j] = dcn * i * (_1 - g * g)
            d[r, 3 * hidden + j] = dhn * tc * o * (_1 - o)
            dc[r, j] = dcn * f


@jit
def lstm_backward(gates, tanh_c, c_prev, g_out, w_hh, starts, counts, dh, dc, d):
    """ops.rnn.LSTM.backward's loop (blocks in backward order): dh, dc (B, H) carry dL/dh and dL/dc (in place);
    d (N, 4H) receives dL/d(pre-activation gates)."""
    for k in range(starts.size):
        s, n = starts[k], counts[k]
        lstm_gate_grads(gates[s:s + n], tanh_c[s:s + n], c_prev[s:s + n], g_out[s:s + n], dh[:n], dc[:n],
                        d[s:s + n])
        dh[:n] = np.dot(d[s:s + n], w_hh)


@jit
def gru_forward(gates, h, w_hh_t, b_hh, starts, counts, out, h_prev, hn):
    """ops.rnn.GRU.forward's loop: gates (N, 3H) hold x·W_ihᵀ + b_ih and become r, z, n; h (B, H) is the running
    state (in place); out (N, H) the outputs; h_prev and hn (N, H: h·W_hnᵀ + b_hn) what the backward needs."""
    hidden = h.shape[1]
    for k in range(starts.size):
        s, n = starts[k], counts[k]
        hp = np.dot(h[:n], w_hh_t)
        for r in range(n):
            row = s + r
            for j in range(hidden):
                rr = _sigmoid(gates[row, j] + (hp[r, j] + b_hh[j]))
                z = _sigmoid(gates[row, hidden + j] + (hp[r, hidden + j] + b_hh[hidden + j]))
                hnv = hp[r, 2 * hidden + j] + b_hh[2 * hidden + j]
                nn = np.tanh(gates[row, 2 * hidden + j] + rr * hnv)
                gates[row, j], gates[row, hidden + j], gates[row, 2 * hidden + j] = rr, z, nn
                hn[row, j] = hnv
                hv = h[r, j]
                h_prev[row, j] = hv
                hv = nn + z * (hv - nn)
                h[r, j] = hv
                out[row, j] = hv


@jit
def gru_backward(gates, h_prev, hn, g_out, w_hh, starts, counts, dh, dx_pre, dh_pre):
    """ops.rnn.GRU.backward's loop (blocks in backward order): dh (B, H) carries dL/dh (in place); dx_pre and
    dh_pre (N, 3H) receive dL/d(x·W_ihᵀ + b_ih) and dL/d(h·W_hhᵀ + b_hh)."""
    hidden = dh.shape[1]
    dz = np.empty_like(dh)
    for k in range(starts.size):
        s, n = starts[k], counts[k]
        for r in range(n):
            row = s + r
            for j in range(hidden):
                rr, z, nn = gates[row, j], gates[row, hidden + j], gates[row, 2 * hidden + j]
                dhn = g_out[row, j] + dh[r, j]
                dn = dhn * (_1 - z) * (_1 - nn * nn)
                dr = dn * hn[row, j] * rr * (_1 - rr)
                dzz = dhn * (h_prev[row, j] - nn) * z * (_1 - z)
                dx_pre[row, j], dx_pre[row, hidden + j], dx_pre[row, 2 * hidden + j] = dr, dzz, dn
                dh_pre[row, j], dh_pre[row, hidden + j], dh_pre[row, 2 * hidden + j] = dr, dzz, dn * rr
                dz[r, j] = dhn * z
        dh[:n] = dz[:n] + np.dot(dh_pre[s:s + n], w_hh)
