"""Long specs compile, and compute what their equations say.

Chains of intermediates (``optgen.bench.chains``) used to be inlined whole before CSE:
a chain of values each used twice doubled the inlined tree at every equation
(minutes at 20 equations) and a 200-equation chain exceeded Python's recursion limit.
Values too big to inline now stay named values the kernel assigns. Here: small and
long chains of both shapes against the reference oracle (the equations evaluated one
at a time with numpy), and the structure that keeps the generated code small. How
long compiling takes is measured by scripts/compile_scaling.py, not asserted.
"""
from __future__ import annotations

import numpy as np
import pytest

import optgen
from optgen.bench.chains import chain_spec
from optgen.compiler.driver import compile_spec
from optgen.compiler.optimize import MAX_INLINE_DEPTH, MAX_INLINE_SIZE, _measure, optimise
from optgen.compiler.ssa import to_ssa
from optgen.compiler.stage import stage

STEPS = 6
SHAPES = [(7,), (3, 5), ()]
REL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-11}


def run_against_reference(spec, dtype, seed=0):
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ref_params = [p.copy() for p in params]
    opt = optgen.create(spec, params)
    ref = optgen.reference(spec, ref_params)
    for _ in range(STEPS):
        grads = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        opt.step(grads)
        ref.step(grads)
    for got, want in zip(params, ref_params):
        scale = max(float(np.max(np.abs(want), initial=0.0)), 1.0)
        np.testing.assert_allclose(got, want, rtol=0, atol=REL[np.dtype(dtype)] * scale)
    return params


def kept_values(spec) -> set:
    """Element values the kernel assigns under their spec names (not inlined, not CSE temporaries)."""
    b = compile_spec(spec)
    names = {f"c{k}" for k in range(1, 1000)}
    return {s.name for v in b.variants.values() for p in v.passes for s, _ in p.body if s.name in names}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,n", [("linear", 3), ("doubled", 3), ("linear", 30), ("doubled", 30)])
def test_chain_matches_reference(shape, n, dtype, one_thread):
    params = run_against_reference(chain_spec(shape, n), dtype)
    assert all(np.isfinite(p).all() for p in params)


def test_long_chains_keep_named_values_and_short_ones_inline():
    # 3 equations inline into the update (as every spec in the repository does); 30 do not fit
    assert kept_values(chain_spec("linear", 3)) == set()
    assert kept_values(chain_spec("linear", 30))
    assert kept_values(chain_spec("doubled", 30))


def test_no_printed_expression_exceeds_the_inline_bounds():
    """Every value handed to CSE and the printer stays within the bounds (plus one level
    of the equation that uses a kept value), however long the chain."""
    ssa = to_ssa(chain_spec("doubled", 60).resolve())
    memo: dict = {}
    for v in optimise(stage(ssa)).values():
        for p in v.passes:
            for _, e in p.body:
                size, depth = _measure(e, memo)
                assert size <= 3 * MAX_INLINE_SIZE and depth <= MAX_INLINE_DEPTH + 8


@pytest.mark.parametrize("shape,n", [("linear", 200), ("doubled", 60)])
def test_long_chain_compiles_and_matches_reference(shape, n, one_thread):
    """A 200-equation chain raised RecursionError; a doubled chain of 60 took hours."""
    run_against_reference(chain_spec(shape, n), np.float64, seed=n)
