"""``lamina.backends``: the backend switches PyTorch scripts set or query, for a library that runs on the CPU.

``backends.mps.is_available()`` and ``backends.cuda.is_built()`` are False. ``backends.cudnn.deterministic`` and
``.benchmark`` may be set, as scripts do for reproducibility; lamina's seeded runs are bit-identical anyway, so they
change nothing.
"""

from types import SimpleNamespace

mps = SimpleNamespace(is_available=lambda: False, is_built=lambda: False)
cuda = SimpleNamespace(is_built=lambda: False)
cudnn = SimpleNamespace(enabled=False, deterministic=False, benchmark=False, is_available=lambda: False)
