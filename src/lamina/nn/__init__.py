"""lamina.nn: layers, containers, losses and their functional forms, with PyTorch's names and semantics."""

from lamina.nn import functional, init, utils
from lamina.nn.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from lamina.nn.attention import MultiheadAttention
from lamina.nn.containers import ModuleDict, ModuleList, Sequential
from lamina.nn.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, Fold, Unfold
from lamina.nn.dropout import Dropout, Dropout1d, Dropout2d
from lamina.nn.linear import Flatten, Identity, Linear
from lamina.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss
from lamina.nn.module import LayerInputError, Module
from lamina.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm, LayerNorm
from lamina.nn.parameter import Parameter
from lamina.nn.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
    Upsample,
)
from lamina.nn.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from lamina.nn.sparse import Embedding, EmbeddingBag
from lamina.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    "Module", "Parameter", "LayerInputError", "Sequential", "ModuleList", "ModuleDict",
    "Linear", "Identity", "Flatten", "Dropout", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
    "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "Unfold", "Fold",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "Upsample", "GroupNorm", "Dropout1d", "Dropout2d",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "GELU", "ELU", "SiLU", "Softplus",
    "MSELoss", "L1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
    "Embedding", "EmbeddingBag", "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
    "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
    "TransformerDecoder", "Transformer",
    "functional", "init", "utils",
]

from lamina.nn.activation import (  # noqa: E402
    CELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LogSigmoid,
    Mish,
    PReLU,
    ReLU6,
    Softmin,
    Softshrink,
    Softsign,
    Tanhshrink,
    Threshold,
)

__all__ += ["Hardtanh", "ReLU6", "SELU", "CELU", "Mish", "Hardswish", "Hardsigmoid", "LogSigmoid", "Softsign",
            "Softmin", "GLU", "PReLU", "Threshold", "Tanhshrink", "Softshrink", "Hardshrink"]
from lamina.nn.loss import (  # noqa: E402
    CosineEmbeddingLoss,
    GaussianNLLLoss,
    KLDivLoss,
    MarginRankingLoss,
    MultiLabelSoftMarginLoss,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
)

__all__ += ["SmoothL1Loss", "KLDivLoss", "PoissonNLLLoss", "GaussianNLLLoss", "CosineEmbeddingLoss",
            "MarginRankingLoss", "TripletMarginLoss", "MultiLabelSoftMarginLoss", "SoftMarginLoss"]
from lamina.nn.distance import CosineSimilarity, PairwiseDistance  # noqa: E402

__all__ += ["CosineSimilarity", "PairwiseDistance"]
from lamina.nn.containers import ParameterDict, ParameterList  # noqa: E402
from lamina.nn.linear import Unflatten  # noqa: E402

__all__ += ["ParameterList", "ParameterDict", "Unflatten"]
