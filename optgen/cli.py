"""The ``optgen`` command line.

    optgen list                       optimizers, their hyperparameters and a line each
    optgen show NAME [--stage S]      equations, hyperparameter table, passes, kernel
    optgen build [NAME...] [--check] [--target cpu,cuda]
    optgen docs [--check]             docs/optimizers/NAME.md from the specs
    optgen new NAME [--dir DIR]       a spec skeleton for your own optimizer
    optgen verify / optgen bench      (see their own --help)

Subcommands from other packages register through ``SUBCOMMANDS``: a module with
``add_parser(subparsers)`` that sets ``func`` on its parser.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from .spec import SpecError

SUBCOMMANDS = ["optgen.verify.cli", "optgen.bench.cli"]


def progress_bar(i: int, n: int, label: str, stream=sys.stderr) -> None:
    """A one-line progress bar on a terminal (and a line per item elsewhere)."""
    width = 30
    done = int(width * (i + 1) / max(n, 1))
    text = f"[{'#' * done}{'.' * (width - done)}] {i + 1}/{n} {label}"
    if stream.isatty():
        stream.write("\r" + text[:100].ljust(100) + ("\n" if i + 1 == n else ""))
    else:
        stream.write(text + "\n")
    stream.flush()


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
    for h in spec.hyper_symbols:
        rows.append((h.name, repr(h.default), h.latex_name, h.domain.text, h.doc))
    for o in spec.option_symbols:
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
                          f"{', '.join(p.stores) or '-'}; {p.bytes_per_element(4)} B/element float32, "
                          f"{p.bytes_per_element(8)} B float64")
                if stage in ("all", "element"):
                    for s, e in p.body:
                        print(f"    {s} = {e}")
                    for s, e in p.reductions:
                        print(f"    {s} += {e}   (per-tensor sum)")
            for q, st in enumerate(v.tensor_stages):
                if st and stage in ("all", "passes", "element"):
                    print(f"  per-tensor stage after pass {q}: " + "; ".join(f"{s} = {e}" for s, e in st))
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
    from .docs import write_docs
    results = write_docs(check=args.check)
    stale = [p for p, s in results if s == "stale"]
    counts: dict = {}
    for _, s in results:
        counts[s] = counts.get(s, 0) + 1
    print(", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if stale:
        print("docs/optimizers is out of date: run `optgen docs`", file=sys.stderr)
        return 1
    return 0


SKELETON = '''"""{title}: one line that says what it is (and the paper: Author, year, arXiv id)."""
from optgen.dsl import Spec, hyper, option, state, var, when, w, g, t, sqrt

lr = hyper("lr", 1e-3, latex=r"\\eta", domain="positive", doc="step size")
beta = hyper("beta", 0.9, latex=r"\\beta", domain="[0, 1)", doc="decay of the moving average")
eps = hyper("eps", 1e-8, latex=r"\\epsilon", domain="positive", doc="added to the denominator")
maximize = option("maximize", False, doc="ascend instead of descend")

m = state("m", init=0, doc="moving average of the gradient")
v = state("v", init=0, doc="moving average of the squared gradient")
d = var("d")  # the direction: a named intermediate

spec = Spec("{name}", [
    (d, when(maximize, -g, g)),
    (m, beta * m + (1 - beta) * d),
    (v, beta * v + (1 - beta) * d**2),
    (w, w - lr * m / (sqrt(v) + eps)),
], doc="{title}: edit the equations above.", references=[])
'''


def cmd_new(args) -> int:
    name = args.name
    if not name.isidentifier():
        print(f"optgen new: {name!r} is not a valid name (letters, digits, underscores)", file=sys.stderr)
        return 2
    directory = Path(args.dir)
    path = directory / f"{name}.py"
    if path.exists():
        print(f"optgen new: {path} exists; not overwritten", file=sys.stderr)
        return 2
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(SKELETON.format(name=name, title=name.replace("_", " ").title()))
    print(f"wrote {path}\n  build and run it:  optgen show {path}   |  optgen.create({str(path)!r}, params)")
    return 0


def make_parser() -> argparse.ArgumentParser:
    from . import __version__
    ap = argparse.ArgumentParser(prog="optgen", description="Optimizers compiled from their equations.")
    ap.add_argument("--version", action="version", version=f"optgen {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", help="available optimizers")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("show", help="equations, hyperparameters, stages and the generated kernel")
    p.add_argument("name", help="optimizer name or path to a spec file")
    p.add_argument("--stage", default="all", choices=["all", "equations", "ssa", "host", "passes", "element", "code"])
    p.add_argument("--option", "-o", action="append", default=[], metavar="NAME=BOOL")
    p.add_argument("--target", default="cpu")
    p.set_defaults(func=cmd_show)
    p = sub.add_parser("build", help="regenerate optgen/generated/ (or check it is current)")
    p.add_argument("names", nargs="*")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything is stale")
    p.add_argument("--target", default=None, help="cpu, cuda or cpu,cuda (default: every target)")
    p.add_argument("--quiet", "-q", action="store_true")
    p.set_defaults(func=cmd_build)
    p = sub.add_parser("docs", help="write docs/optimizers/NAME.md from the specs (or check they are current)")
    p.add_argument("--check", action="store_true")
    p.set_defaults(func=cmd_docs)
    p = sub.add_parser("new", help="write a spec skeleton for your own optimizer")
    p.add_argument("name")
    p.add_argument("--dir", default=".", help="directory for NAME.py (default: here)")
    p.set_defaults(func=cmd_new)
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
