"""Removable hook handles, shared by tensor gradient hooks and module hooks (as ``torch.utils.hooks``)."""

from __future__ import annotations

import itertools


class RemovableHandle:
    """Returned by ``register_*_hook``; ``handle.remove()`` unregisters the hook (also as a context manager)."""

    _ids = itertools.count()

    def __init__(self, hooks: dict):
        self.hooks, self.id = hooks, next(RemovableHandle._ids)

    @classmethod
    def add(cls, hooks: dict, hook, prepend: bool = False) -> RemovableHandle:
        """Register ``hook`` in the (insertion-ordered) dict ``hooks``, first when ``prepend``."""
        handle = cls(hooks)
        hooks[handle.id] = hook
        if prepend:
            items = list(hooks.items())
            hooks.clear()
            hooks.update([items[-1]] + items[:-1])
        return handle

    def remove(self) -> None:
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()
