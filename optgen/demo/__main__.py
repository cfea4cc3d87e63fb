"""``make demo``: every optimizer on the Rosenbrock valley (a table and a picture of the paths),
then a small MLP's loss landscape around the end points of two of them.

``python -m optgen.demo [--steps N] [--out DIR] [--no-plots]``; the pictures need
matplotlib (``pip install "optgen[plot]"``), the table does not.
"""
from __future__ import annotations

import argparse
import os
import sys

from . import landscape, plots, rosenbrock, table


def parse(argv):
    ap = argparse.ArgumentParser(prog="python -m optgen.demo", description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help=f"optimizers (default: {' '.join(rosenbrock.OPTIMIZERS)})")
    ap.add_argument("--steps", type=int, default=1000, help="Rosenbrock steps per optimizer (default 1000)")
    ap.add_argument("--landscape-steps", type=int, default=1000,
                    help="training steps of the MLP before its landscape is drawn (default 1000)")
    ap.add_argument("--out", default=os.path.join("docs", "demo"), help="folder of the PNGs (default docs/demo)")
    ap.add_argument("--no-plots", action="store_true", help="print the table only")
    args = ap.parse_args(argv)
    if args.steps < 2 or args.landscape_steps < 1:
        ap.error(f"--steps must be >= 2 (got {args.steps}) and --landscape-steps >= 1 (got {args.landscape_steps})")
    return args


def main(argv=None) -> int:
    args = parse(argv)
    runs = []
    table.print_header(args.steps, rosenbrock.START)
    for name in args.names or rosenbrock.OPTIMIZERS:
        runs.append(rosenbrock.run(name, args.steps))
        table.print_run(runs[-1])
    if args.no_plots:
        return 0
    if plots.matplotlib_or_none() is None:
        print('\nThe pictures need matplotlib: pip install "optgen[plot]" (or pass --no-plots).')
        return 0
    print(f"\nwrote {plots.rosenbrock_figure(runs, os.path.join(args.out, 'rosenbrock.png'))}")
    names = " and ".join(name for name, _ in landscape.COMPARED)
    print(f"training the sine MLP with {names} ({args.landscape_steps} steps each) for its landscape ...", flush=True)
    results = landscape.landscapes(args.landscape_steps)
    for name, _lr, _params, curve, *_ in results:
        print(f"    {name}: loss {curve[0]:.3g} -> {curve[-1]:.2e}")
    print(f"wrote {plots.landscape_figure(results, os.path.join(args.out, 'landscape.png'))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
