"""L-BFGS with an optional strong-Wolfe line search, as torch.optim.LBFGS.

L-BFGS treats all parameters as one flat vector x. Each ``step(closure)`` runs up to ``max_iter`` iterations:
the direction d = −H·g comes from the two-loop recursion over the last ``history_size`` pairs
(s = step taken, y = change of gradient), scaled by H_diag = sᵀy/yᵀy; then x ← x + t·d, with t = lr
(t = min(1, 1/‖g‖₁)·lr at the very first iteration), or t chosen by the strong-Wolfe line search.
The arithmetic stays in the parameters' dtype (NumPy scalars such as sᵀy keep float32), as torch's does.
"""

from __future__ import annotations

import numbers

import numpy as np

from lamina.autograd.grad_mode import enable_grad
from lamina.optim.optimizer import Optimizer, check_range
from lamina.tensor import Tensor

_FLAT = ("d", "prev_flat_grad")  # state entries that are one flat vector over all parameters
_FLAT_LISTS = ("old_dirs", "old_stps")  # lists of flat vectors
_SCALAR_LISTS = ("ro", "al")


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clamped to ``bounds``
    (default: between x1 and x2); the middle of the bounds when the cubic has no minimum."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if d2_square >= 0:
        d2 = np.sqrt(d2_square)
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """Find t with sufficient decrease f(x + t·d) ≤ f + c1·t·gᵀd and small slope |g(t)ᵀd| ≤ −c2·gᵀd.

    Phase 1 grows t (by cubic extrapolation) until an interval [t_prev, t] brackets such a point; phase 2
    shrinks the bracket by cubic interpolation (zoom). ``obj_func(x, t, d)`` returns (loss, flat gradient)
    at x + t·d. Returns (f, g, t, evaluations). Minimizing a smooth function, this is torch's _strong_wolfe.
    """
    d_norm = np.abs(d).max()
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)

    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:  # phase 1: bracket
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)  # extrapolate
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:  # reached the maximum number of evaluations
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:  # phase 2: zoom
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1])
        # Keep t away from the bracket's ends: after two tries close to an end (or outside), move it 10% in.
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                t = max(bracket) - eps if abs(t - max(bracket)) < abs(t - min(bracket)) else min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:  # not enough decrease: t is the new high
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:  # Wolfe conditions hold
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:  # the old low becomes the high
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos], bracket_gtd[high_pos] = bracket_g[low_pos], bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


class LBFGS(Optimizer):
    """``LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
    history_size=100, line_search_fn=None)``; ``step(closure)`` needs the closure (it evaluates many times).

    One parameter group only. The state (torch's keys) lives on the first parameter: ``func_evals``,
    ``n_iter``, the last direction ``d`` and step ``t``, the history ``old_dirs`` (y), ``old_stps`` (s),
    ``ro`` (1/yᵀs), ``H_diag``, ``prev_flat_grad``, ``prev_loss`` and the scratch list ``al``.
    """

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        check_range("LBFGS", "lr", lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4 if isinstance(max_iter, numbers.Integral) else max_iter
        for name, value in (("max_iter", max_iter), ("max_eval", max_eval), ("history_size", history_size)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"LBFGS: {name} must be a positive integer, got {value!r}")
        for name, value in (("tolerance_grad", tolerance_grad), ("tolerance_change", tolerance_change)):
            check_range("LBFGS", name, value)
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"LBFGS: line_search_fn must be None or 'strong_wolfe', got {line_search_fn!r}")
        defaults = dict(lr=lr, max_iter=int(max_iter), max_eval=int(max_eval), tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=int(history_size),
                        line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        self._params = self.param_groups[0]["params"]

    def add_param_group(self, param_group: dict) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups): it optimizes all "
                             "parameters as one vector; pass a single list of parameters")
        super().add_param_group(param_group)

    # -- the parameters as one flat vector -------------------------------------------------------
    def _gather_flat_grad(self) -> np.ndarray:
        return np.concatenate([p.grad.array.reshape(-1) if p.grad is not None else np.zeros(p.array.size, p.array.dtype)
                               for p in self._params])

    def _add_grad(self, step_size, update: np.ndarray) -> None:
        """x ← x + step_size·update, parameter by parameter."""
        offset = 0
        for p in self._params:
            n = p.array.size
            p.array += step_size * update[offset: offset + n].reshape(p.array.shape)
            offset += n

    def _clone_param(self) -> list[np.ndarray]:
        return [p.array.copy() for p in self._params]

    def _set_param(self, arrays: list[np.ndarray]) -> None:
        for p, a in zip(self._params, arrays):
            np.copyto(p.array, a)

    def _directional_evaluate(self, closure, x, t, d):
        """(loss, flat gradient) at x + t·d; the parameters are put back to x afterwards."""
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    def step(self, closure=None):
        """Run up to ``max_iter`` L-BFGS iterations; ``closure()`` must zero the gradients, compute the loss,
        call ``backward()`` and return the loss. Returns the loss from the first evaluation."""
        if closure is None:
            raise TypeError("LBFGS.step needs a closure: step(closure) where closure() zeroes the gradients, "
                            "computes the loss, calls loss.backward() and returns the loss")
        user_closure = closure

        def closure():
            with enable_grad():
                return user_closure()

        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        state = self.state[self._params[0]]  # all state on the first parameter, as torch
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:  # already optimal
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        H_diag = state.get("H_diag")
        prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # the direction d = −H·g
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad  # the change of gradient over the last step s = t·d
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:  # keep the pair only if the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)  # the initial Hessian approximation H₀ = H_diag·I
                num_old = len(old_dirs)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                q = -flat_grad  # two-loop recursion: q ← q − αᵢyᵢ backwards, then r ← r + sᵢ(αᵢ − βᵢ) forwards
                for i in range(num_old - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q -= al[i] * old_dirs[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                np.copyto(prev_flat_grad, flat_grad)
            prev_loss = loss

            # the step length t
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr
            else:
                t = lr
            gtd = flat_grad.dot(d)  # the directional derivative
            if gtd > -tolerance_change:  # d is not a descent direction any more
                break

            ls_func_evals = 0
            if line_search_fn == "strong_wolfe":
                x_init = self._clone_param()

                def obj_func(x, t, d):
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(obj_func, x_init, t, d, loss, flat_grad, gtd,
                                                                  max_ls=max_eval - current_evals)
                self._add_grad(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:  # a fixed step; re-evaluate unless this was the last iteration
                self._add_grad(t, d)
                if n_iter != max_iter:
                    loss = float(closure())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # the stopping conditions
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change:  # the step is too small
                break
            if abs(loss - prev_loss) < tolerance_change:  # the loss stopped changing
                break

        state["d"] = d
        state["t"] = _number(t)
        state["old_dirs"] = old_dirs
        state["old_stps"] = old_stps
        state["ro"] = [_number(r) for r in ro]
        state["H_diag"] = _number(H_diag)
        state["prev_flat_grad"] = prev_flat_grad
        state["prev_loss"] = _number(prev_loss)
        if "al" in state:
            state["al"] = [None if a is None else _number(a) for a in state["al"]]
        return orig_loss

    def _update(self, param, grad, state, group):
        raise NotImplementedError("LBFGS updates all parameters together in step(closure)")

    def _restore_entry(self, name, value, param, what):
        """The flat vectors and lists of LBFGS's state, in the parameters' dtype."""
        if name in _FLAT:
            return None if value is None else self._restore_flat(value, what)
        if name in _FLAT_LISTS:
            return [self._restore_flat(v, f"{what}[{i}]") for i, v in enumerate(value)]
        if name in _SCALAR_LISTS:
            return [None if v is None else _number(v) for v in value]
        return super()._restore_entry(name, value, param, what)

    def _restore_flat(self, value, what: str) -> np.ndarray:
        arr = np.asarray(value.array if isinstance(value, Tensor) else value)
        size = sum(p.array.size for p in self._params)
        if arr.shape != (size,):
            raise ValueError(f"{what} has shape {arr.shape} but the parameters hold {size} numbers in all: "
                             f"expected shape ({size},)")
        dtype = np.result_type(*(p.array.dtype for p in self._params))
        return np.array(arr, dtype=dtype)


def _number(value):
    """A NumPy (or 0-d array) scalar as a Python number; the values stay exact (float32 → float is exact)."""
    if value is None or isinstance(value, (int, float)):
        return value
    if isinstance(value, Tensor):
        value = value.array
    return np.asarray(value).item()
