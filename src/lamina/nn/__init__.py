"""lamina.nn: layers, containers, losses and their functional forms, with PyTorch's names and semantics."""

from lamina.nn import functional, init, utils
from lamina.nn.activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh
from lamina.nn.attention import MultiheadAttention
from lamina.nn.containers import ModuleDict, ModuleList, Sequential
from lamina.nn.dropout import Dropout
from lamina.nn.linear import Flatten, Identity, Linear
from lamina.nn.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss
from lamina.nn.module import LayerInputError, Module
from lamina.nn.normalization import BatchNorm1d, BatchNorm2d, LayerNorm
from lamina.nn.parameter import Parameter
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
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "GELU", "ELU", "SiLU", "Softplus",
    "MSELoss", "L1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss",
    "Embedding", "EmbeddingBag", "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
    "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
    "TransformerDecoder", "Transformer",
    "functional", "init", "utils",
]
