"""Walking expression DAGs without recursion.

Specs of hundreds of chained equations give DAGs hundreds of levels deep; a
recursive walk meets Python's recursion limit there (a 200-equation chain raised
RecursionError in the host hoister). Every pass that needs a node's children
finished first walks with :func:`post_order`.
"""
from __future__ import annotations

from typing import Callable, Hashable, Iterable, Iterator


def post_order(root: Hashable, children: Callable[[Hashable], Iterable], done) -> Iterator:
    """Yield ``root`` and what it depends on, every node after its children, with an explicit stack.

    ``done`` is the caller's memo (a set or dict): nodes in it are neither yielded nor
    entered. The caller records each yielded node in ``done`` before taking the next
    one; a node shared by several parents is then yielded once.
    """
    stack = [root]
    while stack:
        node = stack[-1]
        if node in done:
            stack.pop()
            continue
        todo = [c for c in children(node) if c not in done]
        if todo:
            stack.extend(todo)
            continue
        stack.pop()
        yield node
