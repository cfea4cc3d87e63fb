"""The Rosenbrock runs: every optimizer from one common start, its path recorded.

F(x, y) = (a - x)^2 + b (y - x^2)^2 with a = 1, b = 100: minimum 0 at (1, 1), at
the end of a long, curved, nearly flat valley (the test function of the blog post
"Some Deep Learning Optimizers", its Figure 1). The parameters are one tensor
theta = (x, y), so that per-tensor rules (LAMB's and LARS's trust ratios) see
||theta|| as a layer's norm. One start and float64 throughout: the kernels do
almost no work, so the time per step is the step's fixed cost (host stage and
launch), and the first step's time is the kernels' load or compile.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

import optgen

A, B = 1.0, 100.0
MINIMUM = np.array([A, A * A])
START = np.array([-1.5, 2.0])

# Step sizes chosen by hand for this valley (each is the spec's hyperparameter ``lr``):
# large enough that the optimizer gets somewhere in a couple of thousand steps, small
# enough that it does not diverge. None keeps the spec's default.
# RAdam is given Adam's lr on purpose: its first, un-adapted steps then diverge (the table says why).
LEARNING_RATES = {
    "sgd": 1e-3, "momentum": 1e-3, "nesterov": 1e-3, "adagrad": 0.5, "rmsprop": 1e-2,
    "adadelta": None, "adam": 2e-2, "adamw": 2e-2, "nadam": 2e-2, "radam": 2e-2,
    "lamb": 2e-2, "lars": 10.0, "ranger": 1e-2,
}
OPTIMIZERS = tuple(LEARNING_RATES)


def rosenbrock(x, y):
    """F(x, y); works on scalars and on arrays (a grid for the contour)."""
    return (A - x) ** 2 + B * (y - x * x) ** 2


def rosenbrock_grad(x, y):
    """(dF/dx, dF/dy), derived by hand: dF/dx = -2(a - x) - 4 b x (y - x^2), dF/dy = 2 b (y - x^2)."""
    return -2.0 * (A - x) - 4.0 * B * x * (y - x * x), 2.0 * B * (y - x * x)


def rosenbrock_hessian(x, y):
    """The 2x2 Hessian: its largest eigenvalue is the curvature across the valley."""
    return np.array([[2.0 - 4.0 * B * (y - 3.0 * x * x), -4.0 * B * x], [-4.0 * B * x, 2.0 * B]])


@dataclass
class Run:
    """One optimizer's run: its path (steps + 1 points), and the times of its steps."""

    name: str
    lr: float | None
    path: np.ndarray          # (steps + 1, 2): the start, then theta after each step
    first_step_s: float       # optgen.create + the first step: loading or compiling the kernels
    per_step_s: float         # mean of the steps after the first (steady state)

    @property
    def losses(self) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return rosenbrock(self.path[:, 0], self.path[:, 1])


def hypers_for(name: str) -> dict:
    """The ``lr`` this demo gives ``name`` (empty: the spec's default)."""
    lr = LEARNING_RATES.get(name)
    return {"lr": lr} if lr is not None and "lr" in optgen.load_spec(name).hypers else {}


def run(name: str, steps: int, start=START) -> Run:
    """Train ``name`` for ``steps`` steps from ``start``; stops early once theta is not finite."""
    hypers = hypers_for(name)
    theta = np.array(start, dtype=np.float64)
    grad = np.empty_like(theta)
    path = np.full((steps + 1, 2), np.nan)
    path[0] = theta
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is reported, not warned about
        t0 = time.perf_counter()
        opt = optgen.create(name, [theta], **hypers)
        grad[:] = rosenbrock_grad(*theta)
        opt.step([grad])
        t1 = time.perf_counter()
        path[1] = theta
        done = 1
        for k in range(2, steps + 1):
            if not np.isfinite(theta).all():
                break
            grad[:] = rosenbrock_grad(*theta)
            opt.step([grad])
            path[k] = theta
            done = k
        t2 = time.perf_counter()
    per_step = (t2 - t1) / (done - 1) if done > 1 else float("nan")
    return Run(name, hypers.get("lr"), path, t1 - t0, per_step)
