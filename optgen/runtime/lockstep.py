"""Steps whose sums over every tensor are added between their passes: one optimizer, or several.

A compiled optimizer's step is a generator of its passes (``runtime/cpu.py`` ``_passes``).
After a pass that sums over every tensor (``global_sum``: the norm of
``clip_by_global_norm``, Prodigy's dot products) it yields ``(names, local)``, the names of
those sums and the float64 vector of them over its own tensors, and goes on with the vector
of totals it is sent. Everything that runs a step drives such a generator:

* :func:`run_alone`: one optimizer. The totals are its own sums, or, in a sharded run, what
  its ``all_reduce`` makes of them (the sums of every process).
* :func:`run_together`: the optimizers of one spec whose tensors take different kernels
  (a per-tensor option, Adafactor's ``factored``: runtime/per_tensor.py), in lockstep. Each
  runs its passes up to its next sum over every tensor; the local vectors are added in the
  optimizers' order (so the sum is the same every step), and each goes on with the total.
  ``clip_by_global_norm(adafactor)`` so clips by the norm of every gradient, matrices and
  vectors alike, as optax and torch do.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Generator, Iterable, Optional

import numpy as np

from ..axes import per_tensor_options
from ..spec import SpecError
from .threads import kernel_launches

#: A step: yields ``(names of its sums over every tensor, their float64 vector over its own
#: tensors)``, is sent the vector of totals, and returns nothing.
Step = Generator[tuple, np.ndarray, None]


def _resume(step: Step, totals: Optional[np.ndarray]):
    """The step's next request (``(names, local)``), or None once it has finished."""
    try:
        return next(step) if totals is None else step.send(totals)
    except StopIteration:
        return None


def _over_processes(local: np.ndarray, all_reduce: Optional[Callable]) -> np.ndarray:
    """``local``, or, in a sharded run, the sums over every process (``all_reduce``'s result)."""
    return local if all_reduce is None else np.asarray(all_reduce(local), np.float64)


def run_alone(step: Step, all_reduce: Optional[Callable] = None) -> None:
    """Drive one optimizer's step; its sums over every tensor pass through ``all_reduce``."""
    request = _resume(step, None)
    while request is not None:
        request = _resume(step, _over_processes(request[1], all_reduce))


def run_together(steps: Iterable[Step], all_reduce: Optional[Callable], where: str) -> None:
    """Drive several optimizers' steps in lockstep, each sum over every tensor added over all of
    them (in their order) and, in a sharded run, over every process. ``where`` names the
    optimizer in an error. A step that fails closes the others (their guards are let go)."""
    steps = list(steps)
    try:
        requests = [_resume(s, None) for s in steps]
        while any(r is not None for r in requests):
            names = {None if r is None else tuple(r[0]) for r in requests}
            if len(names) != 1:  # runtime/per_tensor.py checks the passes agree before a step
                raise RuntimeError(f"{where}: its parts sum over every tensor at different points "
                                   f"({sorted(map(str, names))}); they cannot be stepped together")
            local = requests[0][1].copy()
            for r in requests[1:]:
                local += r[1]
            totals = _over_processes(local, all_reduce)
            requests = [_resume(s, totals) for s in steps]
    finally:
        for s in steps:
            s.close()


def step_together(optimizers: list, make_steps: Callable[[], list], all_reduce: Optional[Callable], where: str,
                  on_cpu: bool, device_context=None) -> None:
    """:func:`run_together` of the steps ``make_steps()`` makes of ``optimizers``, as their own
    ``step`` would run each: CPU optimizers each held by this thread (``exclusive``) and under
    the launch lock, or inside ``device_context`` (a CUDA device's activation); then, once no
    later step can wait for a compile, returns."""
    with contextlib.ExitStack() as held:
        if on_cpu:
            for opt in optimizers:
                held.enter_context(opt.exclusive("step"))
            held.enter_context(kernel_launches())  # serialised where the threading layer is not thread-safe
        elif device_context is not None:
            held.enter_context(device_context)
        run_together(make_steps(), all_reduce, where)
    for opt in optimizers:
        opt._compiled_for_the_run()


def check_together(modules: list, spec, where: str) -> None:
    """Whether the generated ``modules`` of one spec (one per set of per-tensor option values) can
    step together: each variant of each yields the same sequence of sums over every tensor (the
    pass each comes after may differ). Else a SpecError naming ``where``, the spec and its options."""
    points = {tuple(tuple(p.global_reductions) for p in v.passes if p.global_reductions)
              for m in modules for v in m.VARIANTS.values()}
    if len(points) > 1:
        raise SpecError(f"{where}: {spec.source or spec.name} sums over every tensor (global_sum) and sets an "
                        f"option per tensor ({', '.join(sorted(per_tensor_options(spec)))}), so its tensors take "
                        "different kernels, whose sums over every tensor come in different orders "
                        f"({' / '.join(str(list(x)) for x in sorted(points, key=str))}): not supported")


__all__ = ["Step", "run_alone", "run_together", "step_together", "check_together"]
