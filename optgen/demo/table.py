"""The printed table: one row of numbers per optimizer, and under it the line that says why."""
from __future__ import annotations

import numpy as np

from .explain import why
from .rosenbrock import MINIMUM, Run

HEADER = (f"{'optimizer':10} {'lr':>8} {'first step s':>12} {'us/step':>8} {'final loss':>11} "
          f"{'|theta-(1,1)|':>13}")


def row(run: Run) -> str:
    """The numbers of one run; 'diverged' in place of a loss that is not finite."""
    lr = f"{run.lr:8.0e}" if run.lr is not None else f"{'default':>8}"
    finite = np.isfinite(run.path).all(axis=1)
    end = run.path[finite][-1]
    loss = run.losses[finite][-1]
    dist = float(np.linalg.norm(end - MINIMUM))
    loss_text = f"{loss:11.2e}" if finite.all() and dist < 1e3 else f"{'diverged':>11}"
    dist_text = f"{dist:13.3g}" if dist < 1e3 else f"{'-':>13}"
    return (f"{run.name:10} {lr} {run.first_step_s:12.2f} {run.per_step_s * 1e6:8.0f} {loss_text} {dist_text}")


def print_header(steps: int, start) -> None:
    print(f"Rosenbrock F(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from ({start[0]:g}, {start[1]:g}), {steps} steps,"
          " minimum 0 at (1, 1).")
    print("first step s: optgen.create + step 1 (loads the kernels, or compiles them on a cold cache; the first"
          " row also pays the process's one-time imports); us/step: the mean of steps 2..N.\n")
    print(HEADER)
    print("-" * len(HEADER))


def print_run(run: Run) -> None:
    print(row(run))
    print(f"    {why(run)}", flush=True)
