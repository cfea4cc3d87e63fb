"""What a step does with a NaN or an infinity in its gradients: the ``nonfinite`` policy.

Chosen per optimizer at create time (``optgen.create(..., nonfinite=...)``):

* ``"propagate"`` (the default, as in torch.optim and optax): nothing is checked; a
  NaN enters the states and the parameters like any other number. No cost.
* ``"skip"``: when any gradient element of the step is NaN or ±inf, the step is not
  applied: parameters, states, the step count ``t`` and the schedules are left as
  they were, and ``skipped_steps`` (in the state dict) counts it. This is
  optax.apply_if_finite and torch's GradScaler (which skips ``optimizer.step()``).
* ``"raise"``: the same check; a non-finite gradient raises :class:`NonFiniteGradientError`
  naming the gradient, and nothing is changed.

The check reads every gradient once more before the step's kernels run (the kernels
write states in their first pass, so a flag fused into them would come too late to
leave the states unchanged). It looks at the exponent bits, all ones for NaN and
±inf only: an integer test that vectorises with no fast-math licence (a float test
such as ``g - g != 0`` may be folded away under fast-math). docs/reliability.md has
its measured cost.
"""
from __future__ import annotations

import numba
import numpy as np

from .pointers import as_pointer

POLICIES = ("propagate", "skip", "raise")

# the exponent bits of each float dtype, read through an unsigned integer of its width
_EXPONENT = {np.dtype(np.float32): np.array([0x7F800000], np.uint32),
             np.dtype(np.float64): np.array([0x7FF0000000000000], np.uint64)}


class NonFiniteGradientError(FloatingPointError):
    """A gradient holds NaN or ±inf under ``nonfinite="raise"``; the step was not applied."""


def check_policy(policy, where: str) -> str:
    if not isinstance(policy, str) or policy not in POLICIES:
        raise ValueError(f"{where}: nonfinite={policy!r}; allowed: {', '.join(map(repr, POLICIES))} "
                         "(docs/reliability.md)")
    return policy


@numba.njit(parallel=True, cache=True)
def _chunk_flags(chunk_tensor, chunk_start, chunk_stop, sizes, ptr_g, exponent, out):
    """out[c] = 1 where chunk c of the gradients holds a NaN or an infinity, else 0."""
    for c in numba.prange(chunk_tensor.shape[0]):
        k = chunk_tensor[c]
        bits = numba.carray(as_pointer(ptr_g[k]), sizes[k], exponent.dtype)
        e = exponent[0]
        bad = 0
        for i in range(chunk_start[c], chunk_stop[c]):
            bad |= (bits[i] & e) == e
        out[c] = bad


def nonfinite_tensors(chunk_tensor, chunk_start, chunk_stop, sizes, g_table, dtype, out) -> np.ndarray:
    """Indices (within the group) of the tensors whose gradient holds a NaN or an infinity."""
    _chunk_flags(chunk_tensor, chunk_start, chunk_stop, sizes, g_table, _EXPONENT[np.dtype(dtype)], out)
    if not out.any():
        return chunk_tensor[:0]
    return np.unique(chunk_tensor[out.astype(bool)])


def describe(grad, index: int, where: str) -> str:
    """The error message for a non-finite gradient (read on the error path only)."""
    flat = np.asarray(grad).reshape(-1)
    bad = np.flatnonzero(~np.isfinite(flat))
    return (f"{where}: grads[{index}] has {bad.size} non-finite element(s) (first at flat index "
            f"{int(bad[0])}: {flat[bad[0]]}); with nonfinite='raise' the step is not applied and nothing "
            "changed (nonfinite='skip' skips such steps and counts them)")


def check_skipped_steps(sd: dict, where: str) -> int:
    """The ``skipped_steps`` of a state dict (0 when it has none): a non-negative integer."""
    value = sd.get("skipped_steps", 0)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{where}: state_dict skipped_steps={value!r} must be a non-negative integer")
    return int(value)
