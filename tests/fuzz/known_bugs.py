"""Known bugs the fuzzers step around, in one place, until their fixes merge.

Each entry names a bug of issue 10 that the fuzzers find on today's code; while
an entry is here, the generators in this folder do not draw the inputs that
reach it (``known_bug(name)`` is what they ask). Whoever merges a fix deletes
its entry: the fuzzers then draw those inputs again and keep the fix honest.
Bugs the fuzzers found that were not known are regression tests in
``test_fuzz_found.py`` instead (xfail, strict).

``OPTGEN_FUZZ_IGNORE_KNOWN=1`` draws every input as if the list were empty: run
it (with ``OPTGEN_FUZZ=long``) to see which entries still fail.
"""
from __future__ import annotations

import os

KNOWN_BUGS: dict[str, str] = {
    "generated-names": (
        "issue 10 #1: compiler temporaries (host values h0, h1, CSE temporaries x0, SSA versions "
        "w_1 / m_1 / sum_1 / m_old_1) collide with spec names of the same shape: wrong steps or a "
        "SyntaxError in the generated module"),
    "keyword-names": (
        "issue 10, clear errors: a symbol named after a Python keyword (lambda, if, None) gives a raw "
        "SyntaxError from the generated module instead of a SpecError"),
    "names-w-g-t": (
        "issue 10, clear errors: a hyperparameter, state or intermediate named w, g or t is accepted "
        "(silently wrong steps, or a SyntaxError in lambdify)"),
    "kernel-builtin-names": (
        "NEW, found by this fuzzer (test_fuzz_found.py): a spec value named after a builtin that the "
        "generated code calls (abs, max, min, range, bool) shadows it: a numba TypingError in the kernel, "
        "a TypeError in the oracle's lambdified function"),
    "oracle-mixed-conditions": (
        "NEW, found by this fuzzer (test_fuzz_found.py): optgen.reference raises ValueError "
        "(inhomogeneous shape) on a condition that ORs a host comparison with a per-element or "
        "per-tensor one, e.g. when(Eq(c, 0) | (g > 0), ...); the kernels are right"),
    "huge-int-hyper": (
        "issue 10, clear errors: lr=10**400 raises OverflowError (int too large to convert to float), "
        "not a SpecError naming the hyperparameter"),
    "oracle-constant-tensor-sum": (
        "NEW, found by this fuzzer (test_fuzz_found.py): optgen.reference sums a tensor_sum argument "
        "that does not vary per element (a constant, a hyperparameter, t) once instead of once per "
        "element: tensor_sum(1) is 1, not the tensor's size; the kernels are right"),
    "noncontiguous-grad-cached": (
        "issue 10 #2: a non-contiguous gradient is copied once and the copy reused while the same "
        "array object comes back, so in-place updates of a persistent gradient buffer are not seen"),
    "duplicate-params": (
        "issue 10 #4: the same array twice in params (or overlapping views) is updated twice"),
    "load-state-dict-atomic": (
        "issue 10 #5: load_state_dict changes state before it fails (missing/malformed t) and accepts "
        "hyperparameters outside their domain, t=-4, t=2.7 and states of another dtype"),
    "float32-reductions": (
        "issue 10, numerics: per-tensor sums of float32 tensors accumulate the squares in float32, "
        "which overflow (|w| ~ 1e20) or underflow (|g| ~ 1e-25)"),
}


def known_bug(name: str) -> bool:
    """True while bug ``name`` is unfixed (its entry is still in KNOWN_BUGS)."""
    return name in KNOWN_BUGS and os.environ.get("OPTGEN_FUZZ_IGNORE_KNOWN") != "1"
