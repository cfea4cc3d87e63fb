"""Printing results: a plain-text table for the terminal, Markdown with LaTeX for docs.

The Markdown report has the summary table (claim, kind, method, result, time),
then one section per claim: the statement, the mathematics in LaTeX (both
formulations' equations for an equivalence, the closed form and its recursion,
the identity ...), the method and what it showed, and for a failed claim the
first failing step, the counterexample and the difference.
"""
from __future__ import annotations

from pathlib import Path

import sympy

from . import claims as C
from .claims import details
from .symbols import latex as _latex
from .unroll import in_symbols_of, symbol_named

__all__ = ["format_results", "table", "summary", "details", "markdown", "write_markdown", "claim_latex"]


def format_results(results, verbose: bool = False) -> str:
    """What ``optgen verify`` prints: the table, the details of every claim whose outcome
    is not the expected one (of every claim with ``verbose``), and the summary line.
    ``print(format_results(optgen.verify.verify(["adam"])))`` from Python."""
    parts = [table(results)]
    parts += [details(r) for r in results if verbose or r.outcome in (C.FAIL, C.XPASS, C.ERROR)]
    parts.append(summary(results))
    return "\n\n".join(parts)


def _time(r) -> str:
    return f"{r.seconds:.2f}s"


def table(results) -> str:
    rows = [("claim", "kind", "method", "result", "time")]
    for r in results:
        rows.append((r.claim.name, r.claim.kind, r.method, r.outcome, _time(r)))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(wd) for c, wd in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * wd for wd in widths))
    return "\n".join(lines)


def summary(results) -> str:
    counts = {k: sum(r.outcome == k for r in results) for k in (C.PASS, C.XFAIL, C.FAIL, C.XPASS, C.ERROR)}
    total = sum(r.seconds for r in results)
    sym = sum(r.method == "symbolic" for r in results if r.outcome == C.PASS)
    return (f"{len(results)} claims: {counts[C.PASS]} proved or verified ({sym} symbolically), "
            f"{counts[C.XFAIL]} failed as expected, {counts[C.FAIL]} failed, "
            f"{counts[C.XPASS]} passed unexpectedly, {counts[C.ERROR]} errors; {total:.1f} s")


# --- LaTeX ---------------------------------------------------------------------------------

_NAMES: dict = {}   # symbol -> LaTeX: the hyperparameters of the claim being printed


def latex(expr) -> str:
    return _latex(expr, _NAMES)


def _load(side):
    """The spec of ``side``, or None if it does not load (the report says so where it shows it)."""
    if side is None:
        return None
    try:
        return side.load()
    except Exception:
        return None


def _hyper_names(claim, sides) -> dict:
    """LaTeX of the hyperparameters of the specs of ``sides`` (the first side wins), then of the
    claim's own file."""
    out: dict = {d.symbol: d.latex for d in claim.declarations.values() if d.kind == "hyper"}
    for spec in reversed([_load(s) for s in sides if s is not None]):
        if spec is not None:
            out.update({d.symbol: d.latex for d in spec.declared("hyper")})
    return out


def _side_latex(side) -> str:
    try:
        spec = side.load()
    except Exception as exc:  # the report shows what could not be loaded
        return r"\text{(cannot load: %s)}" % str(exc).replace("_", r"\_")[:80]
    names = spec.latex_names
    lines = [r"%s &\leftarrow %s" % (sympy.latex(lhs, symbol_names=names), sympy.latex(rhs, symbol_names=names))
             for lhs, rhs in spec.equations]
    extra = []
    if side.hypers:
        extra.append(", ".join(r"%s \mapsto %s" % (latex(symbol_named(spec, k)), latex(v)) for k, v in side.hypers.items()))
    if side.grad_at is not None:
        extra.append(r"g = \nabla F(%s)" % latex(in_symbols_of(spec, side.grad_at)))
    if side.init:
        extra.append(", ".join(r"%s_0 = %s" % (latex(sympy.Symbol(k)), latex(v)) for k, v in side.init.items()))
    body = r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"
    if extra:
        body += r"\quad \text{with } " + r",\ ".join(extra)
    return body


def _assumptions(substitute: dict) -> str:
    """``{beta2**T: 1 - c2, eps: eps_pos}`` as "beta_2^T = 1 - c_2; c_2 > 0, eps > 0"."""
    eqs, positive = [], []
    for a, b in substitute.items():
        a, b = sympy.sympify(a), sympy.sympify(b)
        if isinstance(b, sympy.Symbol) and b.is_positive and latex(a) == latex(b):
            positive.append(latex(a))
            continue
        eqs.append(f"{latex(a)} = {latex(b)}")
        positive += [latex(x) for x in sorted(b.free_symbols, key=str) if x.is_positive]
    text = r",\ ".join(eqs)
    if positive:
        text += (r";\ " if eqs else "") + r"\text{assumed } " + ", ".join(f"{p} > 0" for p in positive)
    return text


def _obs(x, spec=None):
    """An observable in the symbols of ``spec`` (a string parsed to plain symbols if it did not load)."""
    if spec is not None:
        return in_symbols_of(spec, x)
    return sympy.Symbol(x) if isinstance(x, str) and x.isidentifier() else (
        sympy.parse_expr(x) if isinstance(x, str) else x)


def claim_latex(c) -> list[str]:
    """Display equations for a claim (each a LaTeX string), in the notation of its specs."""
    _NAMES.clear()
    _NAMES.update(_hyper_names(c, [getattr(c, "left", None), getattr(c, "right", None), getattr(c, "side", None)]))
    if c.latex:
        return [c.latex]
    if isinstance(c, C.Equivalence):
        ls, rs = _load(c.left), _load(c.right)
        rel = r",\quad ".join(r"%s^{(1)} = %s^{(2)}" % (latex(_obs(a, ls)), latex(_obs(b, rs))) if a == b else
                              r"\left.%s\right|_{(1)} = \left.%s\right|_{(2)}" % (latex(_obs(a, ls)), latex(_obs(b, rs)))
                              for a, b in c.observe)
        out = [r"(1)\ " + _side_latex(c.left), r"(2)\ " + _side_latex(c.right), rel]
        if c.residual is not None:
            out.append(r"w^{(1)} - w^{(2)} = %s" % latex(c.residual))
        if c.state_map:
            out.append(r",\ ".join(r"%s^{(2)}_0 = %s" % (latex(sympy.Symbol(k)), latex(_obs(v, ls)))
                                   for k, v in c.state_map.items()))
        if c.substitute:
            out.append(_assumptions(c.substitute))
        return out
    if isinstance(c, C.ClosedForm):
        target = latex(sympy.Symbol(c.target))
        out = [r"%s_{%s} = %s" % (target, latex(c.t), latex(c.closed))]
        if c.side is not None:
            out.append(_side_latex(c.side))
        else:
            out.append(r"%s_{%s} = %s,\quad %s_0 = %s" % (target, latex(c.t), latex(c.recurrence),
                                                           target, latex(c.initial)))
        return out
    if isinstance(c, C.Identity):
        return [r"%s = %s" % (latex(C.evaluated(c.lhs)), latex(C.evaluated(c.rhs)))]
    if isinstance(c, C.Limit):
        sub = (r"\quad (%s)" % r",\ ".join(f"{latex(a)} = {latex(b)}" for a, b in c.substitute.items())
               if c.substitute else "")
        return [r"\lim_{%s \to %s} %s = %s%s" % (latex(c.var), latex(c.point), latex(c.expr),
                                                 latex(c.value), sub)]
    if isinstance(c, C.Expectation):
        moments = r",\ ".join(r"\mathbb{E}[g_j^{%d}] = %s" % (k, latex(v)) for k, v in c.moments.items())
        return [r"\mathbb{E}\left[%s\right] = %s \quad \text{given } %s" % (latex(c.expr),
                                                                          latex(c.value), moments)]
    if isinstance(c, C.SolutionSet):
        return [r"\left\{%s \in %s : %s\right\} = %s" % (latex(c.var), sympy.latex(c.domain),
                                                         latex(c.condition), sympy.latex(c.expected))]
    if isinstance(c, C.ScaleInvariance):
        return [r"L(c\theta) = L(\theta)\ \forall c > 0 \implies \langle \nabla L(\theta), \theta \rangle = 0,"
                r"\quad \nabla L(c\theta) = \nabla L(\theta) / c"]
    return []


def _cell(text: str) -> str:
    return str(text).replace("|", r"\|").replace("\n", " ")


def markdown(results, title: str = "Derivations checked by `optgen verify`", command: str = "") -> str:
    out = [f"# {title}", ""]
    if command:
        out += [f"Generated by `{command}`; do not edit by hand.", ""]
    out += ["Each claim is data in `optgen/specs/derivations/*.py` (or a spec's `claims`). *Method*: "
            "**symbolic** means a chain of sound rewrites reduced the difference to 0 (the step that did it "
            "is named); **numeric** means evaluation at random points inside the symbols' domains (exact "
            "rationals, or 50 digits), which finds counterexamples but proves nothing. "
            "XFAIL: a claim marked expected-to-fail (an error in a source text) that failed, with its "
            "counterexample.", "", summary(results), "",
            "| claim | kind | method | result | time |", "|---|---|---|---|---|"]
    for r in results:
        out.append(f"| [{r.claim.name}](#{r.claim.name.replace('_', '-').lower()}) | {r.claim.kind} | "
                   f"{r.method} | {r.outcome} | {_time(r)} |")
    origin = None
    for r in results:
        c = r.claim
        if c.origin != origin:
            origin = c.origin
            out += ["", f"## {Path(origin).stem} (`{origin}`)" if origin else "## other claims"]
        out += ["", f"### {c.name}", "", f"**{r.outcome}** — {r.method}: {_cell(r.how)}", ""]
        if c.statement:
            out.append(f"*Claim.* {c.statement}" + (f" (source: {c.source})" if c.source else ""))
            out.append("")
        if c.xfail:
            out += [f"*Expected to fail:* {c.xfail}", ""]
        for eq in claim_latex(c):
            out += ["$$", eq, "$$", ""]
        if r.detail and not r.error:
            out += [f"*Found:* {_cell(r.detail)}", ""]
        if r.error:
            out += [f"*Error:* `{_cell(r.error)}`", ""]
        if r.first_step is not None:
            out += [f"*First failing step:* {r.first_step}", ""]
        if r.counterexample:
            out += [f"*Counterexample:* {r.counterexample_text()}", ""]
        if r.values:
            out += ["*Values there:* " + ", ".join(f"{k} = {C.short_value(v)}" for k, v in r.values.items()), ""]
        if r.difference is not None:
            out += ["*Difference:*", "", "$$", latex(r.difference), "$$", ""]
    return "\n".join(out).rstrip() + "\n"


def write_markdown(results, path, command: str = "") -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(results, command=command), encoding="utf-8")
    return path
