"""``lamina.utils``: PyTorch's ``torch.utils`` paths, so ``import lamina as torch; torch.utils.data.DataLoader``
works. ``lamina.utils.data`` is ``lamina.data``."""

from lamina.utils import data
