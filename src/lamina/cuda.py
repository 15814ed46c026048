"""``lamina.cuda``: what PyTorch scripts ask about CUDA, answered for a library that runs on the CPU only.

``is_available()`` is False and ``device_count()`` 0, so ``device = 'cuda' if lamina.cuda.is_available() else
'cpu'`` picks the CPU; seeding CUDA does nothing, as in a PyTorch build without CUDA.
"""


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """Nothing to seed: there is no CUDA device (lamina.manual_seed seeds everything lamina draws)."""


manual_seed_all = manual_seed
