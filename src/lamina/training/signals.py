"""Signal handlers replaced for the length of a block and always put back: the one place where lamina swaps
handlers (``fit``'s Ctrl-C handler, and ``lamina train``'s SIGTERM handler and its pause of Ctrl-C and SIGTERM while
the run's files are written).

Why this needs care: CPython runs a Python-level handler in the main thread, between bytecodes, and
``signal.signal`` first runs the handlers of any signals that arrived and are still pending. If one of those raises
(a second Ctrl-C: ``KeyboardInterrupt``), ``signal.signal`` raises *before* it swaps, so a plain
``signal.signal(SIGINT, previous)`` at the end of a block can be skipped, leaving the block's handler installed for
good. ``HandlersReplaced`` notes every handler before replacing any, and on the way out retries each swap until it
took place, then raises the ``KeyboardInterrupt`` it caught.
"""

import signal
import threading


class HandlersReplaced:
    """``with HandlersReplaced({signal.SIGINT: handler}):`` the block runs with these handlers; afterwards each
    signal has again exactly the handler it had at entry, however the block ends and whatever signals arrive while
    the handlers are being swapped. Only the main thread can set handlers: elsewhere this does nothing. A handler
    installed outside Python (``signal.getsignal`` gives None) is left alone, since Python could not put it back."""

    def __init__(self, handlers: dict):
        self.handlers = handlers
        self.saved = {}

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self
        current = {s: signal.getsignal(s) for s in self.handlers}  # all noted before any is replaced
        self.saved = {s: h for s, h in current.items() if h is not None}
        try:
            for s in self.saved:
                signal.signal(s, self.handlers[s])
        except BaseException:  # a pending signal's handler raised half-way: put back what was noted
            put_back(self.saved)
            raise
        return self

    def __exit__(self, *exc):
        put_back(self.saved)
        return False


def put_back(saved: dict) -> None:
    """Install each handler of ``saved`` ({signal: handler}); a KeyboardInterrupt raised by a pending signal's
    handler before a swap is held until every handler is in place, then raised."""
    interrupted = None
    for s, handler in saved.items():
        while True:
            try:
                signal.signal(s, handler)
                break
            except KeyboardInterrupt as err:  # raised before the swap (or just after it): swap (again)
                interrupted = interrupted or err
    if interrupted is not None:
        raise interrupted
