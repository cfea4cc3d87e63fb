"""The ``optgen`` command line.

    optgen list                       optimizers, their hyperparameters and a line each
    optgen show NAME [--stage S]      equations, hyperparameter table, passes, kernel
    optgen build [SPEC...] [--check] [--target cpu,cuda]
    optgen docs [SPEC...] [--out DIR] [--check]   NAME.md pages from the specs
    optgen new NAME [--dir DIR]       a spec skeleton for your own optimizer, and its test
    optgen check SPEC...              its kernels against its equations (every option, both dtypes)

A SPEC is a name, a spec file (``my/opt.py``, ``my/opt.py:NAME``) or a directory,
everywhere (``optgen.registry.find_specs``).
    optgen verify / optgen bench      (see their own --help)

Subcommands from other packages register through ``SUBCOMMANDS``: a module with
``add_parser(subparsers)`` that sets ``func`` on its parser.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from . import abi
from .progress import progress_bar
from .spec import SpecError

SUBCOMMANDS = ["optgen.verify.cli", "optgen.bench.cli"]
TARGETS_HELP = "optimizer names, spec files (path.py, path.py:NAME) or directories of spec files"


def cmd_list(args) -> int:
    from .registry import all_specs
    specs = all_specs()
    for name in sorted(specs):
        s = specs[name]
        print(f"{name:18} {s.summary}")
        hyp = ", ".join(f"{k}={v}" for k, v in s.hypers.items())
        print(f"{'':18} {hyp}")
    return 0


def hyper_table(spec) -> str:
    rows = [("name", "default", "symbol", "domain", "meaning")]
    for h in spec.declared("hyper"):
        rows.append((h.name, repr(h.default), h.latex, h.domain.text, h.doc))
    for o in spec.declared("option"):
        rows.append((o.name, repr(o.default), "", "True/False (build time)", o.doc))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  " + "  ".join(c.ljust(wd) for c, wd in zip(r[:4], widths)) + "  " + r[4] for r in rows)


def cmd_show(args) -> int:
    import sympy

    from .compiler import compile_spec
    from .registry import load_spec
    spec = load_spec(args.name)
    options = dict(o.split("=", 1) for o in args.option)
    options = {k: v.lower() in ("1", "true", "yes") for k, v in options.items()}
    build = compile_spec(spec, options, args.target)
    stage = args.stage
    if stage in ("all", "equations"):
        print(f"{spec.name}: {spec.summary}  ({spec.source})")
        for ref in spec.references:
            print(f"  reference: {ref}")
        print("\nEquations (each sees the values above it):")
        for lhs, rhs in build.spec.equations:
            print("  " + sympy.pretty(sympy.Eq(lhs, rhs, evaluate=False), use_unicode=True).replace("\n", "\n  "))
        print("\nHyperparameters:\n" + hyper_table(spec))
    if stage in ("all", "ssa"):
        print("\nSingle-assignment form:\n" + build.ssa.pretty())
    if stage in ("all", "host", "passes", "element"):
        from .compiler.lower import matrix_summary
        from .compiler.stage_loops import loops_summary
        conds = build.staged.conditions
        if conds:
            print("\nHost conditions (one kernel variant per combination): " + ", ".join(map(str, conds)))
        for key, v in build.variants.items():
            label = ", ".join(f"{c}={val}" for c, val in zip(conds, key)) or "single variant"
            print(f"\nVariant [{label}]")
            if stage in ("all", "host"):
                print("  host stage (float64, once per step):")
                for s, e in v.host:
                    print(f"    {s} = {e}")
            for p in v.passes:
                if stage in ("all", "passes", "element"):
                    print(f"  pass {p.index}: loads {', '.join(p.loads) or '-'}; stores "
                          f"{', '.join(p.stores) or '-'}; {abi.bytes_per_element([p], 4)} B/element float32, "
                          f"{abi.bytes_per_element([p], 8)} B float64")
                if stage in ("all", "element"):
                    for s, e in p.body:
                        print(f"    {s} = {e}")
                    for s, e in p.reductions:
                        print(f"    {s} += {e}   ({'sum over every tensor' if s in p.global_sums else 'per-tensor sum'})")
                if p.global_sums and stage in ("all", "passes", "element"):
                    print(f"  after pass {p.index}: {', '.join(sorted(s.name for s in p.global_sums))} added over "
                          f"every tensor (every dtype group) before pass {p.index + 1} runs")
                for sym, step in v.matrix_steps[p.index] if p.index < len(v.matrix_steps) else ():
                    if stage in ("all", "passes", "element"):
                        print(f"  after pass {p.index}: {matrix_summary(sym, step)}, before pass {p.index + 1}")
            for q, st in enumerate(v.tensor_stages):
                if st and stage in ("all", "passes", "element"):
                    print(f"  per-tensor stage after pass {q}: " + "; ".join(f"{s} = {e}" for s, e in st))
                    loops = loops_summary(v, q)
                    if loops:
                        print(f"    compiled loops (float64): {loops}")
    if stage in ("all", "code"):
        print(f"\nGenerated kernel module ({build.path}):\n")
        print(build.code)
    return 0


def cmd_build(args) -> int:
    from .compiler import build
    from .compiler.driver import TARGETS
    targets = [t.strip() for t in args.target.split(",") if t.strip()] if args.target else list(TARGETS)
    results = build(args.names or None, targets=targets, check=args.check,
                    progress=None if args.quiet else progress_bar)
    stale = [p for p, s in results if s == "stale"]
    counts: dict = {}
    for _, s in results:
        counts[s] = counts.get(s, 0) + 1
    print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing to build")
    if args.check and stale:
        for p in stale:
            print(f"stale: {p}", file=sys.stderr)
        print("optgen/generated/ is out of date: run `optgen build`", file=sys.stderr)
        return 1
    return 0


def cmd_docs(args) -> int:
    from .docs import DOCS_DIR, write_docs
    out = Path(args.out) if args.out else (Path(".") if args.names else DOCS_DIR)
    results = write_docs(check=args.check, directory=out, names=args.names or None)
    stale = [p for p, s in results if s == "stale"]
    counts: dict = {}
    for _, s in results:
        counts[s] = counts.get(s, 0) + 1
    print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if stale:
        print(f"{out} is out of date: run `optgen docs` without --check", file=sys.stderr)
        return 1
    return 0


def cmd_new(args) -> int:
    from .skeleton import write_new
    spec_path, test_path = write_new(args.name, args.dir)
    print(f"wrote {spec_path}\n  and its test {test_path}\n"
          f"  see it:   optgen show {spec_path}\n  check it: optgen check {spec_path}   (or: pytest {test_path})\n"
          f"  use it:   optgen.create({str(spec_path)!r}, params)")
    return 0


def cmd_check(args) -> int:
    from .checking import check_specs, verdict_lines
    if args.steps < 1:
        print("optgen check: --steps must be at least 1", file=sys.stderr)
        return 2
    verdicts = check_specs(args.specs, steps=args.steps, progress=None if args.quiet else progress_bar)
    for line in verdict_lines(verdicts):
        print(line)
    failed = sum(not v.ok for v in verdicts)
    print(f"{len(verdicts) - failed} of {len(verdicts)} cases agree with the equations")
    return 1 if failed else 0


def make_parser() -> argparse.ArgumentParser:
    from . import __version__
    ap = argparse.ArgumentParser(prog="optgen", description="Optimizers compiled from their equations.")
    ap.add_argument("--version", action="version", version=f"optgen {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="available optimizers")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show", help="equations, hyperparameters, stages and the generated kernel")
    p.add_argument("name", help="optimizer name or spec file (path.py, or path.py:NAME in a family)")
    p.add_argument("--stage", default="all", choices=["all", "equations", "ssa", "host", "passes", "element", "code"])
    p.add_argument("--option", "-o", action="append", default=[], metavar="NAME=BOOL")
    p.add_argument("--target", default="cpu")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("build", help="regenerate optgen/generated/ (or check it is current)")
    p.add_argument("names", nargs="*", metavar="SPEC", help=TARGETS_HELP + " (default: every spec)")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything is stale")
    p.add_argument("--target", default=None, help="cpu, cuda or cpu,cuda (default: every target)")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("docs", help="write docs/optimizers/NAME.md from the specs (or check they are current)")
    p.add_argument("names", nargs="*", metavar="SPEC",
                   help=TARGETS_HELP + " (default: the built-in specs, with an index)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="where the pages go (default: docs/optimizers without SPEC, else the current directory)")
    p.add_argument("--check", action="store_true")
    p.set_defaults(func=cmd_docs)
    p = sub.add_parser("new", help="write a spec skeleton for your own optimizer, and a test of it")
    p.add_argument("name")
    p.add_argument("--dir", default=".", help="directory for NAME.py and test_NAME.py (default: here)")
    p.set_defaults(func=cmd_new)
    p = sub.add_parser("check", help="the kernels of a spec against its equations, every option, both dtypes")
    p.add_argument("specs", nargs="+", metavar="SPEC", help=TARGETS_HELP)
    p.add_argument("--steps", type=int, default=30, help="steps per comparison (default 30)")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_check)
    for modname in SUBCOMMANDS:
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name is None or not modname.startswith(exc.name):
                raise
            continue
        mod.add_parser(sub)
    return ap


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except SpecError as exc:
        print(f"optgen: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
