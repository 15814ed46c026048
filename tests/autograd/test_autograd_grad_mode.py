"""Grad mode: no_grad, enable_grad, set_grad_enabled, inference_mode; thread-local as in PyTorch."""

import threading

import lamina


def test_grad_mode_is_per_thread():
    seen = {}
    inside, release = threading.Event(), threading.Event()

    def other():
        inside.wait()
        seen["other"] = lamina.is_grad_enabled()
        x = lamina.ones(2, requires_grad=True)
        seen["records"] = (x * 2).requires_grad
        release.set()

    t = threading.Thread(target=other)
    t.start()
    with lamina.no_grad():
        inside.set()
        release.wait()
        seen["main"] = lamina.is_grad_enabled()
    t.join()
    assert seen == {"other": True, "records": True, "main": False}
    assert lamina.is_grad_enabled()


def test_a_new_thread_starts_with_grad_enabled_even_inside_no_grad():
    result = []
    with lamina.no_grad():
        t = threading.Thread(target=lambda: result.append(lamina.is_grad_enabled()))
        t.start()
        t.join()
    assert result == [True]


def test_inference_mode_records_nothing_and_restores():
    x = lamina.ones(2, requires_grad=True)
    with lamina.inference_mode():
        assert not (x * 2).requires_grad
        with lamina.inference_mode(False):
            assert not lamina.is_grad_enabled()  # inference_mode(False) changes nothing, as in PyTorch
    assert (x * 2).requires_grad

    @lamina.inference_mode()
    def f(t):
        return t * 3

    assert not f(x).requires_grad and lamina.is_grad_enabled()


def test_set_grad_enabled_as_function_scope_and_decorator():
    x = lamina.ones(1, requires_grad=True)
    with lamina.set_grad_enabled(False):
        assert not (x * 1).requires_grad
        with lamina.set_grad_enabled(True):
            assert (x * 1).requires_grad
    assert lamina.is_grad_enabled()


def test_set_grad_enabled_called_alone_switches_at_once():
    x = lamina.ones(1, requires_grad=True)
    try:
        lamina.set_grad_enabled(False)
        assert not lamina.is_grad_enabled() and not (x * 1).requires_grad
    finally:
        lamina.set_grad_enabled(True)
    assert (x * 1).requires_grad

    @lamina.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert lamina.is_grad_enabled() and not f(x).requires_grad and lamina.is_grad_enabled()


def test_a_function_knows_before_its_forward_whether_it_is_recorded():
    from lamina.autograd.function import Function

    seen = []

    class Spy(Function):
        def forward(self, x):
            seen.append(self.recording)
            return x * 2

        def backward(self, g):
            return g * 2

    x = lamina.tensor([1.0, 2.0], requires_grad=True)
    y = Spy.apply(x)
    with lamina.no_grad():
        z = Spy.apply(x)
    w = Spy.apply(lamina.tensor([1.0, 2.0]))  # no input requires grad
    assert seen == [True, False, False]
    assert y.grad_fn is not None and z.grad_fn is None and w.grad_fn is None
    assert Spy().recording  # a Function called outside apply keeps what backward needs
