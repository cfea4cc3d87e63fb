"""Looking inside compiled kernels: LLVM IR, its loops, and what runs in the innermost ones.

Numba does not let one inspect code loaded from its cache, so :func:`kernel_ir`
compiles the kernel's Python function again, uncached, with the same options and
the signature the runtime calls it with. :func:`innermost_loops` finds the
natural loops of each function of the ``prange`` body (the ``parfor gufunc``) and
keeps those that contain no other loop: the per-element loop, vectorised and
scalar remainder alike. The checks below read those blocks only, so the once-
per-chunk code around them (viewing a tensor through its address in the table, storing a
reduction's partial sum into the float64 partials) does not count.
"""
from __future__ import annotations

import re

_DEFINE = re.compile(r"^define\b.*?@(\"[^\"]+\"|[\w.$]+)\(")
_LABEL = re.compile(r"^(\"[^\"]+\"|[\w.$-]+):")
_TARGET = re.compile(r"label %(\"[^\"]+\"|[\w.$-]+)")


def kernel_ir(kernel, p, dtype: str) -> str:
    """LLVM IR of a generated kernel of pass ``p`` (an :class:`optgen.abi.Pass`), compiled afresh
    (uncached) for the signature the runtime calls it with."""
    from ..runtime.precompile import kernel_signature
    return function_ir(kernel, kernel_signature(p, dtype))


def function_ir(fn, signature) -> str:
    """LLVM IR of the ``numba.njit`` function ``fn`` compiled afresh (uncached: Numba does not
    show code it loaded from its cache) with its own options, for ``signature``."""
    import numba
    opts = {k: v for k, v in fn.targetoptions.items() if k not in ("cache", "nopython")}
    fresh = numba.njit(**opts)(fn.py_func)
    fresh.compile(signature)
    return fresh.inspect_llvm(fresh.signatures[0])


def functions(ir: str) -> dict[str, list[str]]:
    """Function name -> body lines, for every ``define`` in a module's IR."""
    out: dict[str, list[str]] = {}
    name, body = None, []
    for line in ir.splitlines():
        if name is None:
            m = _DEFINE.match(line)
            if m and line.rstrip().endswith("{"):
                name, body = m.group(1).strip('"'), []
        elif line.startswith("}"):
            out[name] = body
            name = None
        else:
            body.append(line)
    return out


def blocks(body: list[str]) -> list[tuple[str, list[str]]]:
    """Basic blocks in textual order: (label, instruction lines)."""
    out: list[tuple[str, list[str]]] = [("<entry>", [])]
    for line in body:
        m = _LABEL.match(line)
        if m:
            out.append((m.group(1).strip('"'), []))
        elif line.strip() and not line.lstrip().startswith(";"):
            out[-1][1].append(line)
    if not out[0][1]:
        out.pop(0)
    return out


def _successors(lines: list[str]) -> list[str]:
    succ: list[str] = []
    for line in lines:
        s = line.strip()
        if s.startswith(("br ", "switch ", "indirectbr ", "]", "i32 ", "i64 ", "i8 ", "i1 ", "callbr ", "invoke ")) \
                or " label %" in s:
            succ += [t.strip('"') for t in _TARGET.findall(s)]
    return succ


def innermost_loops(body: list[str]) -> list[list[tuple[str, list[str]]]]:
    """The natural loops of one function that contain no other loop, as lists of blocks."""
    bl = blocks(body)
    names = [b for b, _ in bl]
    index = {b: i for i, b in enumerate(names)}
    succ = {b: [s for s in _successors(lines) if s in index] for b, lines in bl}
    pred: dict[str, list[str]] = {b: [] for b in names}
    for b, ss in succ.items():
        for s in ss:
            pred[s].append(b)
    # dominators (iterative; functions here have at most a few hundred blocks)
    entry = names[0]
    dom = {b: set(names) for b in names}
    dom[entry] = {entry}
    changed = True
    while changed:
        changed = False
        for b in names[1:]:
            ps = [dom[p] for p in pred[b]]
            new = ({b} | set.intersection(*ps)) if ps else {b}
            if new != dom[b]:
                dom[b], changed = new, True
    loops: dict[str, set] = {}
    for u in names:
        for h in succ[u]:
            if h in dom[u]:  # a back edge u -> h
                body_set = loops.setdefault(h, {h})
                stack = [u]
                while stack:
                    x = stack.pop()
                    if x not in body_set:
                        body_set.add(x)
                        stack += pred[x]
    inner = [h for h, bs in loops.items() if not any(h2 != h and h2 in bs for h2 in loops)]
    lines_of = dict(bl)
    return [[(b, lines_of[b]) for b in names if b in loops[h]] for h in inner]


def parfor_functions(ir: str) -> dict[str, list[str]]:
    """The functions that hold the ``prange`` body (Numba names them ``..._parfor_gufunc_...``)."""
    return {n: b for n, b in functions(ir).items() if "parfor_gufunc" in n}


def inner_loop_lines(ir: str) -> list[str]:
    """Every instruction in an innermost loop of the ``prange`` body."""
    out: list[str] = []
    for body in parfor_functions(ir).values():
        for loop in innermost_loops(body):
            for _, lines in loop:
                out += lines
    return out


_DOUBLE = re.compile(r"\bdouble\b|\.f64\b|\bv\d+f64\b")


def double_ops(lines: list[str]) -> list[str]:
    """Instructions that compute in (or convert to or from) double precision."""
    return [s.strip() for s in lines if _DOUBLE.search(s)]


# what a float32 kernel's per-tensor sum may do in double precision: widen float32 values
# (fpext), add and multiply them, carry the accumulators (phi), and the vector plumbing
# around them; never narrow a double back to float (fptrunc), compare, divide or call in double
_SUM_DOUBLE = re.compile(r"=\s*(?:fpext|fadd|fsub|fmul|fneg|phi|shufflevector|extractelement|insertelement|load"
                         r"|getelementptr)\b"
                         r"|^\s*store\b"
                         r"|=\s*(?:tail |notail )?call\b[^;]*@llvm\.(?:fabs|fma|fmuladd|vector\.reduce\.fadd)\.")


def double_ops_beyond_sums(lines: list[str]) -> list[str]:
    """The double-precision instructions of a reducing float32 loop that a float64 sum does not explain.

    The summand of a per-tensor sum squares and adds in float64 (KernelPrinter.summand), so
    fpext/fadd/fmul/phi on doubles are expected there; a float32 element computation that a
    Python float promoted to double ends in an ``fptrunc`` back to float (every store of an
    element is float32) or in a double ``fcmp``, and those are reported. Loads and stores of
    doubles (and their addresses) are the float64 row and column sums an axis-reducing loop adds
    into: a small matrix's flat loop adds each row's sum at the row's end, inside the loop.
    """
    return [s for s in double_ops(lines) if not _SUM_DOUBLE.search(s)]


_VECTOR_FP = re.compile(r"=\s*(?:fadd|fsub|fmul|fdiv|fneg|(?:tail |notail |musttail )?call)\b[^;]*<(\d+) x (float|double)>")


def vector_fp_ops(lines: list[str], elem: str = "float", min_width: int = 4) -> list[str]:
    """Floating-point arithmetic on vectors of at least ``min_width`` elements of ``elem``."""
    out = []
    for s in lines:
        for m in _VECTOR_FP.finditer(s):
            if m.group(2) == elem and int(m.group(1)) >= min_width:
                out.append(s.strip())
                break
    return out


_POW = re.compile(r"@(?:\"?llvm\.pow\.[\w.]+|pow|powf|__powidf2|__powisf2|llvm\.powi\.[\w.]+)\b")


def pow_calls(ir: str) -> list[str]:
    """Calls to a power function anywhere in the ``prange`` body."""
    return [s.strip() for body in parfor_functions(ir).values() for s in body if _POW.search(s)]
