"""``lamina.utils.data`` is ``lamina.data`` under PyTorch's path (``torch.utils.data``)."""

from lamina.data import *  # noqa: F403
from lamina.data import __all__  # noqa: F401
