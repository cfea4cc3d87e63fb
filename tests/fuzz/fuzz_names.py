"""The names a fuzzed spec gives its symbols, and what the compiler must do with each.

A spec's names meet the generated code's own: host values ``h0``, CSE
temporaries ``x0``, SSA versions ``w_1``, reduction results ``sum_1``, first-step
values ``m_old_1``, the kernels' locals ``_c``/``_k``, the module's imports and
builtins. Every name is either refused when the spec is loaded (a
:class:`optgen.SpecError` that names it) or compiled into a kernel that agrees
with the oracle; nothing in between. ``REFUSED`` must be refused;
``ALLOWED`` must work; ``EITHER`` may go either way, but nothing else.
"""
from __future__ import annotations

import keyword

from known_bugs import known_bug

PLAIN = ["lr", "beta", "eps", "rho", "mu", "nu", "decay", "scale", "gamma", "m", "v", "u", "d", "r", "s",
         "a", "b", "c", "acc", "z", "q", "k", "ratio", "wn", "gn", "un", "step_size", "momentum", "m_hat"]

# the shapes of the compiler's own names (optgen/compiler: optimize.py, ssa.py)
GENERATED = ["h0", "h1", "h2", "h3", "h4", "x0", "x1", "x2", "w_1", "w_2", "g_1", "m_1", "v_1", "s_1",
             "sum_1", "sum_2", "m_old_1", "a_old_1", "t_1", "lr_1", "u_1"]

# builtins and module-level names of the generated module (templates/cpu_module.py.j2)
MODULE = ["float", "int", "len", "dict", "sum", "pow", "round",
          "select_variant", "host_v0", "tensor_v0_0", "VARIANTS", "VARIANT_v0", "SPEC", "STATES",
          "HYPERS", "ARRAYS", "OPTIONS", "HOST_STATES", "SPEC_HASH"]
# builtins the generated code calls (Abs -> abs, Max -> max, the chunk loop's range, the variant
# selector's bool): a spec value of that name would shadow them, so the spec language refuses them
KERNEL_BUILTINS = ["range", "abs", "max", "min", "bool"]

# names the spec language must refuse
UNDERSCORED = ["_c", "_k", "_i", "_n", "_acc_0", "_ptr_w", "_w_k", "_partials", "_sizes"]
IMPORTS = ["math", "np", "numpy", "numba", "cuda", "prange", "hyper"]
KEYWORDS = ["lambda", "if", "None", "True", "class", "def", "in"]
STEP_SYMBOLS = ["w", "g", "t"]


def allowed_pool() -> list[str]:
    """Names a spec may use (each must compile and agree with the oracle)."""
    pool = list(PLAIN) + list(MODULE)
    if not known_bug("generated-names"):
        pool += GENERATED
    return pool


def refused_pool() -> list[str]:
    """Names a spec may not use (each must be a SpecError at load time)."""
    pool = list(UNDERSCORED) + list(IMPORTS) + list(KERNEL_BUILTINS)
    if not known_bug("keyword-names"):
        pool += KEYWORDS
    if not known_bug("names-w-g-t"):
        pool += STEP_SYMBOLS
    return pool


def must_refuse(name: str) -> bool:
    return (name.startswith("_") or name in IMPORTS or keyword.iskeyword(name)
            or name in STEP_SYMBOLS or name in KERNEL_BUILTINS)
