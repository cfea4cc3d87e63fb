"""Names in generated code: the compiler's own never meet a spec's.

A generated module is Python in which a spec's symbols are local variables of
the host functions and of the kernels. Three kinds of names live there:

* the spec's: ``w``, ``g``, ``t``, hyperparameters, options, states, intermediates;
* the templates' and printers': the modules (``math``, ``np``, ``numpy``, ``numba``,
  ``cuda``), the builtins the printed code calls (``abs``, ``max``, ``min``,
  ``range``, ``bool``), the CUDA address helpers, and the host functions'
  parameters (``t``, ``hyper``); every other name a template writes starts with
  an underscore (``_c``, ``_k``, ``_ptr_w``, ``_acc_0``, ``_values``);
* the compiler's: SSA versions (``m_1``), first-step values (``m_old_1``),
  reduction sums (``sum_1``), host values (``h0``), CSE temporaries (``x0``).

A spec may use neither a leading underscore nor a name of :data:`TEMPLATE_NAMES`
(``optgen.validate`` refuses both, naming the file). The compiler's names are
drawn by :func:`fresh_names` from outside every name already in use, the spec's
included: a state called ``h1`` makes the host values ``h0, h2, h3, ...``. So no
spec name is forbidden for the compiler's sake, and a spec that uses none of
these shapes gets the same readable code as before.
"""
from __future__ import annotations

from typing import Iterator

from .symbols import DECLARED, Grad, Param, Step

#: Names the generated code refers to inside the functions where spec symbols are locals.
TEMPLATE_NAMES = frozenset({
    "math", "np", "numpy", "numba", "cuda", "prange",        # modules
    "abs", "max", "min", "range", "bool",                     # builtins the printers and templates call
    "pointer_float32", "pointer_float64",                     # CUDA kernels' address helpers
    "hyper", "t",                                             # the host functions' parameters
})


def spec_names(spec) -> set[str]:
    """Every name a spec's equations and state inits use (``w``, ``g`` and ``t`` always)."""
    out = {"w", "g", "t"}
    for lhs, rhs in spec.equations:
        out |= {s.name for s in [lhs, *rhs.free_symbols]}
    for s in spec.states:
        out.add(s.name)
        if s.init is not None:
            out |= {x.name for x in s.init.free_symbols}
    return out


def fresh_names(prefix: str, taken: set, start: int = 0, sep: str = "") -> Iterator[str]:
    """``prefix{sep}{n}`` for n = start, start + 1, ..., skipping (and then adding to) ``taken``."""
    n = start
    while True:
        name = f"{prefix}{sep}{n}"
        n += 1
        if name not in taken:
            taken.add(name)
            yield name


def intermediate_clash(spec):
    """``(intermediate, declared symbol)`` for the first intermediate named like a declared hyperparameter,
    option or state (they would print as one variable), else ``None``. A name of w, g or t is refused
    for every kind of symbol by ``validate._check_names``."""
    for index, (lhs, _) in enumerate(spec.equations):
        if not isinstance(lhs, (Param, Grad, Step, *DECLARED)) and getattr(lhs, "name", None) in spec.declarations:
            return index, spec.declarations[lhs.name].what
    return None
