"""Compile time against spec size: how long ``compile_spec`` takes (spec -> generated
module source: SSA, staging, hoisting, CSE, printing; not Numba's compile) for the
synthetic chains of ``optgen.bench.chains``, at 10, 20, 50, 100 and 200 equations.

    PYTHONPATH=. python scripts/compile_scaling.py [--sizes 10 20 50] [--rounds 3]

Prints one row per shape and size: the median seconds and the seconds per equation
(flat when compile time is linear in the number of equations). A benchmark, not a
test: nothing here asserts a time.
"""
from __future__ import annotations

import argparse
import statistics
import time

from optgen.bench.chains import SHAPES, chain_spec
from optgen.compiler.driver import compile_spec


def time_compile(shape: str, n: int, rounds: int) -> float:
    """Median wall time of compiling a fresh ``n``-equation chain (a new spec each round)."""
    times = []
    for r in range(rounds):
        spec = chain_spec(shape, n, name=f"chain_{shape}_{n}_r{r}")
        t0 = time.perf_counter()
        compile_spec(spec)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 20, 50, 100, 200])
    ap.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=SHAPES)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"{'shape':8} {'equations':>9} {'compile s':>10} {'ms / equation':>14}")
    for shape in args.shapes:
        for n in args.sizes:
            s = time_compile(shape, n, args.rounds)
            print(f"{shape:8} {n:9d} {s:10.3f} {1e3 * s / n:14.2f}", flush=True)


if __name__ == "__main__":
    main()
