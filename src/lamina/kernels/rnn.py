"""Kernels of the recurrent layers in lamina/ops/rnn.py: a whole direction of an LSTM or GRU layer, forward or
backward, in one compiled call; and one time step of an LSTM, for layers whose loop stays in Python.

Each whole-direction kernel runs the op's time loop: the recurrent product of a step (``np.dot`` here is a BLAS
call, as in NumPy), then the step's gate arithmetic fused into one pass over its rows, with no temporaries. The
NumPy loop in the op stays the definition; the formulas below are its lines in the same order, so the arithmetic
is the same bit for bit and only exp and tanh round differently: σ and tanh come from ``vecmath`` (float32
arithmetic alone, so that the loops over a row vectorise, a few ulps from NumPy's).

The blocks of the packed layout come as ``starts`` and ``counts`` (``ops.rnn.steps``), in the order they run.
Larger LSTM layers keep their loop in Python, where the product is NumPy's ``np.dot`` (its BLAS threads), and
call ``lstm_step`` (the forward's gate arithmetic of one step) and ``lstm_gate_grads`` (the backward's, without
the product) once per step. Each loops over a row's gates as separate contiguous views: LLVM vectorises a loop
only when it can check cheaply that its arrays do not overlap, which a loop over many 2-D arrays defeats.
"""

from __future__ import annotations

import numpy as np

from lamina.kernels import jit
from lamina.kernels.vecmath import sigmoid32, tanh32

_1 = np.float32(1)


@jit
def lstm_step(z, hp, h, c, out, h_prev, c_prev, tanh_c):
    """One step of ops.rnn.LSTM.forward's loop (its n rows), after the product hp = h·W_hhᵀ: z (n, 4H) holds
    x·W_ihᵀ + biases and becomes σ(i), σ(f), tanh(g), σ(o); h, c (n, H), the running state, are saved into h_prev
    and c_prev and updated in place; out (n, H) gets h_t, tanh_c (n, H) tanh(c_t)."""
    hidden = c.shape[1]
    for r in range(c.shape[0]):
        zr, hr = z[r], hp[r]
        ifz, ifh = zr[:2 * hidden], hr[:2 * hidden]
        for j in range(ifz.size):
            ifz[j] = sigmoid32(ifz[j] + ifh[j])
        gz, gh = zr[2 * hidden:3 * hidden], hr[2 * hidden:3 * hidden]
        for j in range(hidden):
            gz[j] = tanh32(gz[j] + gh[j])
        oz, oh = zr[3 * hidden:], hr[3 * hidden:]
        for j in range(hidden):
            oz[j] = sigmoid32(oz[j] + oh[j])
        hrow, crow, hprow, cprow = h[r], c[r], h_prev[r], c_prev[r]
        for j in range(hidden):
            hprow[j] = hrow[j]
            cprow[j] = crow[j]
        i, f, o = zr[:hidden], zr[hidden:2 * hidden], oz
        outr, tcr = out[r], tanh_c[r]
        for j in range(hidden):
            cn = f[j] * crow[j] + i[j] * gz[j]  # c_t = f·c_{t−1} + i·g
            crow[j] = cn
            tc = tanh32(cn)
            tcr[j] = tc
            v = o[j] * tc
            outr[j] = v
            hrow[j] = v


@jit
def lstm_forward(gates, h, c, w_hh_t, starts, counts, out, h_prev, c_prev, tanh_c):
    """ops.rnn.LSTM.forward's loop: gates (N, 4H) hold x·W_ihᵀ + biases and become σ(i), σ(f), tanh(g), σ(o);
    h, c (B, H) are the running state (updated in place); out (N, H) the outputs; h_prev, c_prev, tanh_c (N, H)
    what the backward needs."""
    for k in range(starts.size):
        s, n = starts[k], counts[k]
        lstm_step(gates[s:s + n], np.dot(h[:n], w_hh_t), h[:n], c[:n], out[s:s + n], h_prev[s:s + n],
                  c_prev[s:s + n], tanh_c[s:s + n])


@jit
def lstm_gate_grads(gates, tanh_c, c_prev, g_out, dh, dc, d):
    """One step of ops.rnn.LSTM.backward's loop, the product aside (rows of this step only): dL/d(pre-activation
    gates) into d (n, 4H); dc (n, H) becomes dL/dc_{t−1}. dh (n, H) is dL/dh_t from the later steps."""
    hidden = dc.shape[1]
    for r in range(dc.shape[0]):
        z, dr = gates[r], d[r]
        zi, zf, zg, zo = z[:hidden], z[hidden:2 * hidden], z[2 * hidden:3 * hidden], z[3 * hidden:]
        di, df, dg, do = dr[:hidden], dr[hidden:2 * hidden], dr[2 * hidden:3 * hidden], dr[3 * hidden:]
        tcr, cpr, gor, dhr, dcr = tanh_c[r], c_prev[r], g_out[r], dh[r], dc[r]
        for j in range(hidden):
            i, f, g, o = zi[j], zf[j], zg[j], zo[j]
            tc = tcr[j]
            dhn = gor[j] + dhr[j]
            dcn = dcr[j] + dhn * o * (_1 - tc * tc)
            di[j] = dcn * g * i * (_1 - i)
            df[j] = dcn * cpr[j] * f * (_1 - f)
            dg[j] = dcn * i * (_1 - g * g)
            do[j] = dhn * tc * o * (_1 - o)
            dcr[j] = dcn * f


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
                rr = sigmoid32(gates[row, j] + (hp[r, j] + b_hh[j]))
                z = sigmoid32(gates[row, hidden + j] + (hp[r, hidden + j] + b_hh[hidden + j]))
                hnv = hp[r, 2 * hidden + j] + b_hh[2 * hidden + j]
                nn = tanh32(gates[row, 2 * hidden + j] + rr * hnv)
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
