"""HandlersReplaced: the handlers noted at entry are exactly the ones in place afterwards, whenever a signal comes.

A signal "pending at a swap" is sent by a stand-in for ``signal.signal`` just before it swaps, with
``signal.raise_signal``: its handler runs at once and, when it raises, the swap does not happen. That is what
CPython does with a signal that arrived and is still pending when ``signal.signal`` is called (it runs the pending
handlers before it swaps, and raises what they raise)."""

import signal
import threading

import pytest

from lamina.training.signals import HandlersReplaced, put_back

SIGNALS = (signal.SIGINT, signal.SIGTERM)


@pytest.fixture(autouse=True)
def python_handlers():
    """Python's own Ctrl-C handler (raising KeyboardInterrupt) and one for SIGTERM that does too, so no signal sent
    here can end pytest; the process's own are put back afterwards."""
    saved = {s: signal.getsignal(s) for s in SIGNALS}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, raising)
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


def raising(signum, frame):
    raise KeyboardInterrupt


def noted(signum, frame):
    noted.seen.append(signum)


noted.seen = []


@pytest.mark.parametrize("k", range(4))  # the two swaps in, the two back
@pytest.mark.parametrize("signum", SIGNALS)
def test_every_handler_is_put_back_whichever_swap_a_signal_interrupts(monkeypatch, signal_pending_at, signum, k):
    before = {s: signal.getsignal(s) for s in SIGNALS}
    noted.seen.clear()
    calls = signal_pending_at(signum, k)
    raised = ran = False
    try:
        with HandlersReplaced({signal.SIGINT: noted, signal.SIGTERM: noted}):
            ran = True
            assert {s: signal.getsignal(s) for s in SIGNALS} == {s: noted for s in SIGNALS}
    except KeyboardInterrupt:
        raised = True
    monkeypatch.undo()
    assert {s: signal.getsignal(s) for s in SIGNALS} == before
    # the signal's own handler at that moment: the process's (raising) before its swap in or after its swap back
    if k == 0 or (k == 1 and signum == signal.SIGTERM) or (k == 3 and signum == signal.SIGINT):
        assert raised and not noted.seen  # the process's own handler ran: its KeyboardInterrupt is not lost
    else:
        assert not raised and noted.seen == [signum]  # the block's handler had it
    assert ran == (k >= 2 or (k == 1 and signum == signal.SIGINT))  # the block runs unless entering it raised
    if raised and k == 3:
        assert calls == [signal.SIGINT, signal.SIGTERM, signal.SIGINT, signal.SIGTERM, signal.SIGTERM]  # retried


def test_a_signal_pending_at_every_swap_back_still_puts_each_back(monkeypatch):
    before = {s: signal.getsignal(s) for s in SIGNALS}
    real = signal.signal
    sent = []

    def swap(s, handler):  # each swap back first finds its signal pending, whose handler (the block's) raises
        if s not in sent:
            sent.append(s)
            signal.raise_signal(s)
        return real(s, handler)

    with pytest.raises(KeyboardInterrupt):
        with HandlersReplaced({signal.SIGINT: raising, signal.SIGTERM: raising}):
            monkeypatch.setattr(signal, "signal", swap)
    monkeypatch.undo()
    assert sent == list(SIGNALS)
    assert {s: signal.getsignal(s) for s in SIGNALS} == before


def test_put_back_raises_the_first_keyboard_interrupt_only_once_all_are_back(monkeypatch):
    real = signal.signal
    real(signal.SIGINT, noted)
    real(signal.SIGTERM, noted)
    failures = [KeyboardInterrupt("first"), KeyboardInterrupt("second")]

    def swap(s, handler):
        if failures:
            raise failures.pop(0)
        return real(s, handler)

    monkeypatch.setattr(signal, "signal", swap)
    with pytest.raises(KeyboardInterrupt, match="first"):
        put_back({signal.SIGINT: signal.default_int_handler, signal.SIGTERM: raising})
    monkeypatch.undo()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler and signal.getsignal(signal.SIGTERM) is raising


def test_outside_the_main_thread_nothing_is_replaced():
    seen = []

    def work():
        with HandlersReplaced({signal.SIGINT: noted}):
            seen.append(signal.getsignal(signal.SIGINT))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [signal.default_int_handler] and signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_handler_installed_outside_python_is_left_alone(monkeypatch):
    real_get = signal.getsignal
    monkeypatch.setattr(signal, "getsignal", lambda s: None if s == signal.SIGTERM else real_get(s))
    with HandlersReplaced({signal.SIGINT: noted, signal.SIGTERM: noted}):
        assert real_get(signal.SIGINT) is noted and real_get(signal.SIGTERM) is raising
    assert real_get(signal.SIGINT) is signal.default_int_handler and real_get(signal.SIGTERM) is raising
