"""The backward sweep: reverse-mode differentiation over a recorded graph. It computes gradients and returns
them; ``Tensor.backward`` accumulates them into ``.grad`` and ``autograd.grad`` hands them back.

Functions are visited newest first (a max-heap on their creation number): every consumer of a tensor was
created after it, so a Function's output gradient is complete, summed over all its uses, before its own
backward runs. No recursion, one visit per Function.
"""

from __future__ import annotations

import heapq
import weakref

import numpy as np

FREED = ("Trying to backward through the graph a second time: its saved buffers were freed after the first "
         "backward. Call backward(retain_graph=True) the first time if you need to backward twice.")

# id(leaf tensor) -> its gradient hooks (Tensor.register_hook; a non-leaf's hooks live on its grad_fn). Keyed
# by id, not by the tensor: Tensor's == is element-wise. An entry goes when its tensor does (add_leaf_hooks).
leaf_hooks: dict = {}


# id(leaf tensor) -> hooks run after backward has accumulated its .grad (Tensor.register_post_accumulate_grad_hook)
post_accumulate_hooks: dict = {}


def add_leaf_hooks(t, table: dict | None = None) -> dict:
    """The hook dict of leaf tensor ``t`` in ``table`` (default ``leaf_hooks``), made on first use."""
    table = leaf_hooks if table is None else table
    if id(t) not in table:
        table[id(t)] = {}
        weakref.finalize(t, table.pop, id(t), None)
    return table[id(t)]


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a broadcast gradient back to ``shape`` (the chain rule of NumPy broadcasting)."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and grad.shape[i + lead] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def run_backward(roots, root_grads, retain_graph: bool = False, inputs=None) -> dict:
    """The gradients of ``roots`` (weighted by ``root_grads``) with respect to tensors of the graph.

    ``inputs=None``: returns {tensor: gradient} for every leaf that requires grad and every non-leaf whose
    ``retain_grad()`` was called. ``inputs`` given (leaves or not): for those tensors only, and only the part
    of the graph that leads to them is run. Gradient hooks run on the way. A returned array may share memory
    with another and have another dtype than its tensor (``owned`` makes it the tensor's own).
    """
    grads: dict = {}  # Function -> gradient w.r.t. its output, summed over its uses so far
    leaf_grads: dict = {}  # leaf Tensor -> summed gradient
    heap = []
    for root, g in zip(roots, root_grads):
        fn = root.grad_fn
        if fn is None:
            prev = leaf_grads.get(root)
            leaf_grads[root] = g if prev is None else prev + g
        elif fn in grads:
            grads[fn] = grads[fn] + g
        else:
            grads[fn] = g
            heap.append((-fn.seq, fn))
    heapq.heapify(heap)
    wanted = None if inputs is None else {t.grad_fn: t for t in inputs if t.grad_fn is not None}
    run = None if inputs is None else _leading_to(grads, inputs)
    captured: dict = {}  # non-leaf Tensor -> gradient
    while heap:
        fn = heapq.heappop(heap)[1]
        g = grads.pop(fn)
        if fn.hooks is not None or wanted is not None:  # the rare paths, kept off the common one
            if fn.hooks is not None:
                g = _run_hooks(fn.hooks, g)
            if wanted is None:
                kept = fn.retains() if fn.retains is not None else None
                if kept is not None:
                    captured[kept] = g
            else:
                if fn in wanted:
                    captured[wanted[fn]] = g
                if fn not in run:
                    continue  # nothing below this node was asked for
        if fn.saved is None:
            raise RuntimeError(FREED)
        in_grads = fn.backward(g)
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        for p, need, pg in zip(fn.parents, fn.needs, in_grads):
            if not need or pg is None:
                continue
            if pg.shape != p.array.shape:
                pg = unbroadcast(pg, p.array.shape)
            producer = p.grad_fn
            if producer is None:
                prev = leaf_grads.get(p)
                leaf_grads[p] = pg if prev is None else prev + pg
            else:
                while producer.seq > fn.seq:  # p was changed in place after fn used it: fn saw an older value
                    producer = producer.replaced
                prev = grads.get(producer)
                if prev is None:
                    if run is None or producer in run or producer in wanted:
                        grads[producer] = pg
                        heapq.heappush(heap, (-producer.seq, producer))
                else:
                    grads[producer] = prev + pg
        if not retain_graph:
            fn.saved = None  # release the buffers (a second backward through fn then raises)
    if leaf_hooks:
        for leaf, g in leaf_grads.items():
            hooks = leaf_hooks.get(id(leaf))
            if hooks:
                leaf_grads[leaf] = _run_hooks(hooks, g)
    if inputs is not None:
        leaf_grads = {t: leaf_grads[t] for t in inputs if t.grad_fn is None and t in leaf_grads}
    leaf_grads.update(captured)
    return leaf_grads


def _leading_to(grads: dict, inputs) -> set:
    """The Functions below the roots from which a path leads down to one of ``inputs``."""
    targets = {id(t) for t in inputs}
    seen, stack = set(grads), list(grads)
    while stack:  # every node below the roots, without recursion
        consumer = stack.pop()
        for p in consumer.parents:
            fn = producer_of(p, consumer)
            if fn is not None and fn not in seen:
                seen.add(fn)
                stack.append(fn)
    run: set = set()
    for fn in sorted(seen, key=lambda f: f.seq):  # parents before consumers
        if any(id(p) in targets or producer_of(p, fn) in run for p, need in zip(fn.parents, fn.needs) if need):
            run.add(fn)
    return run


def producer_of(p, consumer):
    """The Function whose output ``consumer`` took as its argument ``p`` (None for leaves and non-tensors).

    That is ``p.grad_fn`` unless p was changed in place after ``consumer`` used it (``h += x``): the in-place
    operation's node is then newer than ``consumer``, and ``replaced`` leads back to the node of the value
    ``consumer`` saw.
    """
    fn = getattr(p, "grad_fn", None)
    while fn is not None and fn.seq > consumer.seq:
        fn = fn.replaced
    return fn


def _run_hooks(hooks: dict, g: np.ndarray) -> np.ndarray:
    """Each hook sees the gradient as a Tensor and may return a replacement."""
    from lamina.tensor import Tensor  # cycle: tensor.py imports this module

    for hook in list(hooks.values()):
        out = hook(Tensor._make(g, False, None))
        if out is not None:
            g = np.asarray(out.array if isinstance(out, Tensor) else out, dtype=g.dtype)
    return g


def owned(g: np.ndarray, dtype, owners: set) -> np.ndarray:
    """``g`` in ``dtype`` and in memory of its own, for a new ``.grad`` (later added into in place): copied when it
    is a view or was already handed out (``owners``: ids of the arrays handed out so far)."""
    if g.dtype is not dtype:
        g = g.astype(dtype)
    elif g.base is not None or id(g) in owners:
        g = g.copy(order="K")  # in its memory order (Linear's weight gradients are Fortran-ordered)
    owners.add(id(g))
    return g
