"""``optgen bench``: the command line."""
from __future__ import annotations

import argparse
import json
import sys


def parse_size(text: str) -> int:
    """An element count: ``16777216``, ``2**24``, ``1<<24`` or ``4*2**20`` (integers and + - * ** << only)."""
    import ast
    import operator
    ops = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Pow: operator.pow,
           ast.LShift: operator.lshift}

    def ev(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in ops:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, (ast.Pow, ast.LShift)) and not 0 <= right <= 64:
                raise ValueError(text)
            return ops[type(node.op)](left, right)
        raise ValueError(text)
    try:
        n = ev(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, ValueError):
        raise argparse.ArgumentTypeError(f"not an element count: {text!r} (e.g. 16777216 or 2**24)") from None
    if n <= 0 or n > 1 << 40:
        raise argparse.ArgumentTypeError(f"--size must be between 1 and 2**40, not {n}")
    return n


def add_parser(subparsers) -> None:
    from .impls import IMPLS
    from .models import MODELS
    p = subparsers.add_parser(
        "bench", help="time optgen's kernels against the bandwidth floor and the peers",
        description="Each implementation runs in its own process; the processes alternate over "
                    "rounds and the figure is the median. Ratios to the same-traffic streaming "
                    "kernel ('x stream', 1.0 = at the memory-bandwidth floor) matter; absolute "
                    "times on a shared machine are noise.")
    p.add_argument("names", nargs="+", metavar="SPEC",
                   help="optimizer names (see `optgen list`), spec files (path.py, path.py:NAME) or directories")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--size", type=parse_size, default=None,
                       help="elements in one tensor (default 2**24; expressions like 2**24 allowed)")
    where.add_argument("--model", choices=sorted(MODELS), default=None, help="a real model's list of tensors")
    p.add_argument("--dtype", default="float32",
                   help="float32, float64, or float32,float64 (both, interleaved in each round)")
    p.add_argument("--rounds", type=int, default=None,
                   help="alternating rounds: of one process per implementation (default 3), or with --paired "
                        "of one step per implementation (default 100)")
    p.add_argument("--paired", action="store_true",
                   help="run the implementations in one process, alternating step by step, and report the "
                        "median per-round ratio with its 95%% confidence interval: the precise comparison of two "
                        "implementations that both sit at the floor (not optax-jit)")
    p.add_argument("--cold", action="store_true",
                   help="with --paired: clear the CPU caches before each timed step (a read of twice the "
                        "last-level cache), as a forward and backward pass does; for models whose arrays fit "
                        "in the cache, where what ran before decides what is still cached")
    p.add_argument("--min-time", type=float, default=1.0, help="seconds of timed steps per process (default 1)")
    p.add_argument("--impl", default=None,
                   help=f"comma-separated implementations (default all available): {', '.join(IMPLS)}")
    p.add_argument("--option", "-o", action="append", default=[], metavar="NAME=BOOL",
                   help="a build-time option of the spec, e.g. amsgrad=true")
    p.add_argument("--contention", action="store_true",
                   help="time the steps beside another process that keeps every core busy with its own "
                        "multi-threaded loop (BLAS matrix products), as a training loop's cores are")
    p.add_argument("--startup", action="store_true",
                   help="measure compile and start-up time instead: a fresh spec's first step, and a new "
                        "process's first step with the caches warm (both after `import optgen`)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="cuda: one process on the GPU, CUDA-event medians against a same-traffic copy "
                        "kernel and torch.optim.Adam(fused=True) (needs a GPU and optgen[cuda])")
    p.add_argument("--json", default=None, metavar="FILE", help="write the results as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    from ..progress import progress_bar
    from .runner import format_table, run_bench
    impls = [s.strip() for s in args.impl.split(",") if s.strip()] if args.impl else None
    options = {}
    for o in args.option:
        k, _, v = o.partition("=")
        options[k] = v.lower() in ("1", "true", "yes")
    from ..registry import find_specs, spec_target
    args.names = [spec_target(s) for s in find_specs(args.names)]  # names, files, directories
    if args.startup:
        return _startup(args)
    if args.device == "cuda":
        return _cuda(args)
    dtypes = [d.strip() for d in args.dtype.split(",") if d.strip()]
    bad = [d for d in dtypes if d not in ("float32", "float64")]
    if bad or not dtypes:
        print(f"optgen bench: --dtype must be float32, float64 or both, not {args.dtype!r}", file=sys.stderr)
        return 2
    if args.cold and not args.paired:
        print("optgen bench: --cold times steps from a cleared cache in the paired mode only; add --paired",
              file=sys.stderr)
        return 2
    from .contention import contention
    with contention(args.contention) as neighbour:
        if args.paired:
            from .paired import DEFAULT_ROUNDS, format_paired, run_paired
            try:
                res = run_paired(args.names, size=args.size, model=args.model, dtype=dtypes,
                                 rounds=args.rounds or DEFAULT_ROUNDS, impls=impls, options=options,
                                 progress=None if args.quiet else progress_bar, cold=args.cold)
            except ValueError as exc:
                print(f"optgen bench: {exc}", file=sys.stderr)
                return 2
            text = format_paired(res)
        else:
            res = run_bench(args.names, size=args.size, model=args.model, dtype=dtypes, rounds=args.rounds or 3,
                            impls=impls, min_time=args.min_time, options=options,
                            progress=None if args.quiet else progress_bar,
                            log=lambda m: print(m, file=sys.stderr))
            text = format_table(res)
    res["contention"] = neighbour
    if neighbour:
        text = f"under contention: {neighbour}\n{text}"
    res["command"] = "optgen bench " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["bench"] else None
    print(text)
    return _report(res, args.json)


def _report(res: dict, path: str | None) -> int:
    """Write the results as JSON where asked."""
    if path:
        with open(path, "w") as f:
            json.dump(res, f, indent=1)
        print(f"wrote {path}")
    return 0


def _cuda(args) -> int:
    from ..progress import progress_bar
    from .cuda import bench_cuda, format_cuda_table
    if args.dtype != "float32":
        print("optgen bench --device cuda: float32 only", file=sys.stderr)
        return 2
    from ..runtime.cuda_support import CudaUnavailableError
    try:
        res = bench_cuda(args.names, size=args.size if args.size or args.model else 2**26, model=args.model,
                         progress=None if args.quiet else progress_bar)
    except CudaUnavailableError as exc:
        print(f"optgen bench: {exc}", file=sys.stderr)
        return 2
    print(format_cuda_table(res))
    return _report(res, args.json)


def _startup(args) -> int:
    from ..progress import progress_bar
    from .runner import machine
    from .startup import format_startup, measure_startup
    res = [measure_startup(n, args.dtype.split(",")[0], args.rounds or 3, None if args.quiet else progress_bar) for n in args.names]
    print(format_startup(res))
    return _report({"machine": machine(), "startup": res}, args.json)
