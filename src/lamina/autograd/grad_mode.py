"""Grad mode: whether operations record the graph. Per thread, as PyTorch's: a ``no_grad`` block in one thread
does not stop another thread from recording, and a new thread starts with recording on.

The mode is a context variable (each thread has its own context; an asyncio task its own copy): reading it is
as quick as reading a global (~30 ns; a ``threading.local`` attribute takes ~100 ns), and Function.apply reads
it on every call.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools

_enabled = contextvars.ContextVar("lamina_grad_enabled", default=True)
is_grad_enabled = _enabled.get  # () -> bool
_set = _enabled.set


class _Switch(contextlib.ContextDecorator):
    """Sets grad mode to ``self.mode`` inside a ``with`` block or a decorated function, then restores it."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = is_grad_enabled()
        _set(self.mode)
        return self

    def __exit__(self, *exc):
        _set(self.prev)
        return False


class set_grad_enabled(_Switch):
    """``lamina.set_grad_enabled(False)`` turns recording off at once (as a call), or for a ``with`` block or a
    decorated function, as in PyTorch."""

    def __init__(self, enabled: bool):
        super().__init__(enabled)
        self.prev = is_grad_enabled()
        _set(self.mode)

    def __enter__(self):  # prev was taken when the object was made, before the switch
        _set(self.mode)
        return self

    def __call__(self, func):
        _set(self.prev)  # used as a decorator: the mode applies only while func runs
        return super().__call__(func)


class no_grad(_Switch):
    """``with lamina.no_grad():`` (or ``@lamina.no_grad()``) records no graph: for inference and updates."""

    def __init__(self, func=None):
        super().__init__(False)
        if func is not None:  # used as a bare decorator: @lamina.no_grad
            functools.update_wrapper(self, func)
            self._func = func

    def __call__(self, *args, **kwargs):
        func = getattr(self, "_func", None)
        if func is not None:
            with no_grad():
                return func(*args, **kwargs)
        return super().__call__(*args, **kwargs)


class enable_grad(_Switch):
    """Turns graph recording back on inside a ``no_grad`` block."""

    def __init__(self):
        super().__init__(True)


class inference_mode(_Switch):
    """``with lamina.inference_mode():`` is ``no_grad`` (lamina has no separate inference tensors);
    ``inference_mode(False)`` leaves recording as it is, as in PyTorch."""

    def __init__(self, mode: bool = True):
        super().__init__(not mode)
        self.active = bool(mode)

    def __enter__(self):
        self.prev = is_grad_enabled()
        if self.active:
            _set(False)
        return self
