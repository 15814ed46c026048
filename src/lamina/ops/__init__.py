"""Differentiable operations, grouped by kind. Each is a Function with forward and backward side by side."""

from lamina.ops import arithmetic, elementwise, linalg, reduce, shape, unary  # noqa: F401
