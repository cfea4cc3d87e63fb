"""``optgen verify [NAME...] [--steps k] [--report PATH]``.

Prints a table (claim, kind, method, result, time), the details of every claim
whose outcome is not the expected one (all claims with ``-v``), and a summary.
Exits 1 when a claim fails that is not marked expected-to-fail, when an
expected failure passes (XPASS: the verifier no longer sees a known error), or
on an error; 0 otherwise. ``--report`` also writes Markdown with LaTeX.
"""
from __future__ import annotations

import sys

__all__ = ["add_parser", "cmd_verify"]


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "verify", help="prove or refute the derivations (claims) about the specs",
        description="Check the claims in optgen/specs/derivations/*.py and in the specs: symbolic proofs, "
                    "numeric checks with counterexamples. NAMEs select claims by their name, by a spec "
                    "they are about, or by their file's name; paths select the claims of a user's spec file, "
                    "claims file or directory.")
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="claim names, spec names, derivation file names, or paths: a spec file (its claims in "
                        "derivations/ beside it and in the spec), a claims file, a directory (default: all)")
    p.add_argument("--steps", "-k", type=int, default=None,
                   help="unroll k steps (default: each claim's own)")
    p.add_argument("--report", metavar="PATH", help="also write the results as Markdown with LaTeX")
    p.add_argument("--list", action="store_true", help="list the claims and exit")
    p.add_argument("--verbose", "-v", action="store_true", help="details of every claim")
    p.set_defaults(func=cmd_verify)


def cmd_verify(args) -> int:
    from ..registry import search_path
    from .loader import target_dirs
    if args.steps is not None and args.steps < 1:
        print("optgen verify: --steps must be at least 1", file=sys.stderr)
        return 2
    with search_path(*target_dirs(args.names)):  # a claim may name the specs beside it
        return _verify(args)


def _verify(args) -> int:
    from . import verify
    from .loader import claims_for
    from .report import format_results, write_markdown
    chosen = claims_for(args.names)
    if args.list:
        for c in chosen:
            mark = " (expected to fail)" if c.xfail else ""
            print(f"{c.name:40} {c.kind:14} {c.statement}{mark}")
        return 0
    results = verify(claims=chosen, steps=args.steps)
    print(format_results(results, verbose=args.verbose))
    if args.report:
        parts = ["optgen verify", *args.names]
        if args.steps is not None:
            parts.append(f"--steps {args.steps}")
        parts.append(f"--report {args.report}")
        path = write_markdown(results, args.report, command=" ".join(parts))
        print(f"wrote {path}")
    return 0 if all(r.ok for r in results) else 1
