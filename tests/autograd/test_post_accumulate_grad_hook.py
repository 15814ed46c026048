"""Tensor.register_post_accumulate_grad_hook, against PyTorch: the hook sees the leaf after .grad has been
accumulated (the sum over backward calls), once per backward; removable; refused on non-leaves."""

import numpy as np
import pytest
import torch

import lamina


def _run(lib, make):
    w = make([1.0, -2.0, 3.0])
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(np.array(t.grad.numpy() if lib is torch
                                                                                   else t.grad.array)))
    (w * w).sum().backward()
    (w * 3).sum().backward()
    handle.remove()
    w.sum().backward()
    return seen


def test_the_hook_sees_the_accumulated_gradient_once_per_backward_as_pytorch():
    ours = _run(lamina, lambda v: lamina.tensor(v, requires_grad=True))
    theirs = _run(torch, lambda v: torch.tensor(v, requires_grad=True))
    assert len(ours) == len(theirs) == 2
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(ours[1], [5.0, -1.0, 9.0])  # 2w, then + 3


def test_non_leaves_and_tensors_without_grad_are_refused():
    w = lamina.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf tensors"):
        (w * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(RuntimeError, match="do not require grad"):
        lamina.tensor([1.0]).register_post_accumulate_grad_hook(print)
