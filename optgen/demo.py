"""``make demo``: train with several optimizers on the Rosenbrock function.

F(x, y) = (a - x)^2 + b (y - x^2)^2 with a = 1, b = 100 (minimum 0 at (1, 1)),
the test function of ../shared/seeds/001 ("Some Deep Learning Optimizers").
Each optimizer runs a batch of starting points at once (one tensor of x's and
one of y's), so the kernels do real work; the table shows the median final loss.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import optgen

A, B = 1.0, 100.0

# Step sizes that suit the Rosenbrock valley; optimizers not listed use their default.
LEARNING_RATES = {
    "sgd": 1e-4, "momentum": 1e-4, "nesterov": 1e-4, "adagrad": 0.5, "rmsprop": 1e-3,
    "rmsprop_seed": 3e-3, "adadelta": 1.0, "adam": 2e-2, "adamw": 2e-2, "objax_adam": 2e-2,
    "adamax": 2e-2, "nadam": 2e-2, "adabound": 3e-3, "radam": 3e-3, "radamw": 3e-3,
    "ranger": 3e-3, "lamb": 2e-2, "lars": 1e-2, "lars_ema": 1e-2, "ranger_lars": 2e-2,
    "paratrooper": 1e-3,
}


def rosenbrock(x, y):
    return (A - x) ** 2 + B * (y - x * x) ** 2


def rosenbrock_grad(x, y):
    gx = -2.0 * (A - x) - 4.0 * B * x * (y - x * x)
    gy = 2.0 * B * (y - x * x)
    return gx, gy


def train(name: str, steps: int, starts: int, seed: int = 0) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 0.0, starts)
    y = rng.uniform(-0.5, 2.5, starts)
    hypers = {"lr": LEARNING_RATES[name]} if name in LEARNING_RATES and "lr" in optgen.load_spec(name).hypers else {}
    opt = optgen.create(name, [x, y], **hypers)
    gx, gy = np.empty_like(x), np.empty_like(y)
    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging start is reported, not warned about
        for _ in range(steps):
            gx[...], gy[...] = rosenbrock_grad(x, y)
            opt.step([gx, gy])
        elapsed = time.perf_counter() - start
        loss = rosenbrock(x, y)
    loss = loss[np.isfinite(loss)]
    return (float(np.median(loss)) if loss.size else float("nan")), hypers.get("lr", float("nan")), elapsed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="optimizers (default: a selection of those available)")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--starts", type=int, default=4096, help="starting points trained at once")
    args = ap.parse_args(argv)
    names = args.names or [n for n in LEARNING_RATES if n in optgen.names()]
    start_loss = float(np.median(rosenbrock(*np.random.default_rng(0).uniform([-2, -0.5], [0, 2.5], (args.starts, 2)).T)))
    print(f"Rosenbrock F(x,y) = (1-x)^2 + 100 (y-x^2)^2, {args.starts} starting points, {args.steps} steps;"
          f" median loss at the start {start_loss:.3g}\n")
    print(f"{'optimizer':14} {'lr':>8} {'median final loss':>18} {'time (s)':>9}")
    print("-" * 52)
    for i, name in enumerate(names):
        loss, lr, elapsed = train(name, args.steps, args.starts)
        print(f"{name:14} {lr:8.0e} {loss:18.3e} {elapsed:9.2f}", flush=True)
    print("\n(time includes the first step, which loads or compiles the kernels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
