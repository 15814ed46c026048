"""Shared by the convolution and pooling tests: run a lamina layer and its torch twin on the same input and
weights, and compare the output and every gradient (input and parameters)."""

import numpy as np

import lamina

RTOL = 1e-5


def close(ours, theirs, rtol=RTOL):
    """float32 within rtol relative, with an absolute floor scaled to the magnitude of the values."""
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    ours = np.asarray(ours)
    assert ours.shape == theirs.shape, (ours.shape, theirs.shape)
    scale = float(np.abs(theirs).max()) if theirs.size else 1.0
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol * max(scale, 1.0))


def copy_params(ours, theirs, torch):
    theirs.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v.numpy())) for k, v in ours.state_dict().items()})


def check_layer(ours, theirs, x, torch, seed=0):
    """Same weights, same input: output, input gradient and every parameter gradient agree with torch's."""
    copy_params(ours, theirs, torch)
    xl, xt = lamina.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yl, yt = ours(xl), theirs(xt)
    if isinstance(yt, tuple):  # return_indices
        np.testing.assert_array_equal(yl[1].numpy(), yt[1].numpy())
        yl, yt = yl[0], yt[0]
    close(yl.detach().numpy(), yt)
    assert yl.dtype == np.float32
    g = np.random.default_rng(seed).standard_normal(tuple(yt.shape)).astype(np.float32)
    yl.backward(g)
    yt.backward(torch.from_numpy(g))
    close(xl.grad.numpy(), xt.grad)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert p.grad is not None, name
        close(p.grad.numpy(), q.grad)
    return yl
