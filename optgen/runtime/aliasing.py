"""Parameters that share memory: tied weights are updated once, overlapping views refused.

``params`` may name one array at several positions (tied weights, such as an
embedding shared with the output layer). Updating it once per position would
apply the step twice, and on the CPU two threads would race on it. Like
torch.optim (which drops duplicate parameters), the optimizer keeps *one*
state and applies *one* update for it, at its first position:

* ``step(grads)``: the gradient of a tied parameter is the one at its first
  position, and every later position must hold that same gradient (the same
  array, or on the GPU the same device memory): the total gradient of the
  tied weight, as torch's ``.grad`` is. Different gradients at the positions of
  one parameter are ambiguous (the sum of per-use gradients, or one total given
  twice?) and refused, naming both positions.
* ``state_dict()`` still lists states by the user's positions: a later position
  of a tied parameter holds a copy of its first position's states.
  ``load_state_dict`` loads the first position's and refuses a checkpoint whose
  copies disagree.

Two *different* arrays whose memory overlaps (``B[:10]`` and ``B[5:15]``, or a
view of a parameter with another shape) cannot be stepped element by element
once each; they are refused at ``create``, naming both positions. Empty arrays
hold no elements and never overlap. Ranges are byte ranges: ``[address,
address + nbytes)`` of C-contiguous arrays (host addresses on the CPU, device
addresses for CUDA).
"""
from __future__ import annotations

import numpy as np


def first_positions(ranges: list, where: str) -> list[int]:
    """``first[i]``: the first position holding the same array as position ``i``.

    ``ranges[i]`` is ``(start, stop, layout)`` with ``layout`` (shape, dtype): equal ranges
    with equal layouts are one array. Raises ``ValueError`` on any other overlap.
    """
    first = list(range(len(ranges)))
    owner: dict = {}
    for i, (start, stop, layout) in enumerate(ranges):
        if stop > start:
            first[i] = owner.setdefault((start, stop, layout), i)
    distinct = sorted((start, stop, i) for (start, stop, _), i in owner.items())
    reach, holder = None, None   # the furthest end so far, and whose it is
    for start, stop, i in distinct:
        if reach is not None and start < reach:
            a, b = sorted((holder, i))
            raise ValueError(
                f"{where}: params[{a}] and params[{b}] overlap in memory but are not the same array "
                "(views of one buffer with different extents or shapes); every element must be "
                "updated once per step: pass disjoint arrays, or one array once")
        if reach is None or stop > reach:
            reach, holder = stop, i
    return first


def host_ranges(arrays) -> list:
    """Byte ranges of C-contiguous numpy arrays."""
    out = []
    for a in arrays:
        start = a.__array_interface__["data"][0]
        out.append((start, start + a.nbytes, (a.shape, a.dtype.str)))
    return out


def duplicates(first: list[int]) -> list[tuple[int, int]]:
    """``(later, first)`` for every later position of a tied parameter."""
    return [(j, i) for j, i in enumerate(first) if i != j]


def check_tied_grads(grads: list, pairs, same, where: str) -> None:
    """Every later position of a tied parameter has its first position's gradient."""
    for j, i in pairs:
        if not same(grads[i], grads[j]):
            raise ValueError(
                f"{where}: params[{i}] and params[{j}] are the same array (tied weights), updated once "
                f"with its first position's gradient, but grads[{i}] and grads[{j}] differ; pass the "
                f"tied weight's total gradient (the sum over its uses) as the same array at both positions")


def same_host_array(a, b) -> bool:
    return a is b or a.__array_interface__ == b.__array_interface__


def copy_tied_states(states: list, pairs) -> None:
    """``state_dict``: a later position of a tied parameter gets a copy of the first's states."""
    for j, i in pairs:
        states[j] = {name: np.array(value, copy=True) for name, value in states[i].items()}


def check_tied_states(states: list, pairs, names, where: str) -> None:
    """``load_state_dict``: the positions of a tied parameter must carry equal states."""
    for j, i in pairs:
        for s in names:
            if not np.array_equal(np.asarray(states[i][s]), np.asarray(states[j][s]), equal_nan=True):
                raise ValueError(
                    f"{where}: state_dict tensors {i} and {j} are one tied parameter (params[{i}] is "
                    f"params[{j}]) but their state {s!r} differs; it has one state, loaded from tensor {i}")
