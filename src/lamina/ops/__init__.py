"""Differentiable operations, grouped by kind. Each is a Function with forward and backward side by side."""

from lamina.ops import arithmetic, linalg, reduce, sampling, shape, sort, unary  # noqa: F401
