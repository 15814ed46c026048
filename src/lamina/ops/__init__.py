"""Differentiable operations, grouped by kind. Each is a Function with forward and backward side by side."""

from lamina.ops import (  # noqa: F401
    arithmetic,
    contract,
    elementwise,
    index,
    linalg,
    movement,
    reduce,
    sampling,
    scan,
    shape,
    sort,
    unary,
)
