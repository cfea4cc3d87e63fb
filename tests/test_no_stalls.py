"""No compile after the first step: every kernel variant a run reaches is compiled (or loaded
from Numba's cache) by the time the first step returns (optgen/runtime/precompile.py).

Checked without timing: a Numba dispatcher lists the signatures it has compiled, so a
compile after the first step shows as a signature that appears later."""
import numpy as np
import pytest

import optgen
from optgen.runtime.precompile import reachable_variants


def compiled(opt) -> dict:
    """Every kernel of the optimizer's module -> the signatures compiled so far."""
    out = {}
    for key, v in opt.module.VARIANTS.items():
        for p in v.passes:
            for dtype, k in p.kernels.items():
                out[(key, k.__name__)] = list(k.signatures)
    return out


@pytest.mark.parametrize("name, shapes", [
    ("momentum", [(7,), (3, 5)]),        # t == 1: a variant for the first step, one for the rest
    ("radam", [(11,)]),                  # rho_t > 5: the rectified variant from step 6 on
    ("ranger", [(4, 3), (5,)]),          # lookahead's t mod k == 0 on top of RAdam's condition
    ("lamb", [(9,)]),                    # per-tensor arguments, one tensor
])
def test_no_kernel_compiles_after_the_first_step(name, shapes, one_thread):
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        params = [rng.standard_normal(s).astype(dtype) for s in shapes]
        opt = optgen.create(name, params)
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        opt.step(grads)
        after_first = compiled(opt)
        # compiled ahead with the exact argument types the steps pass: one signature each, never two
        assert all(len(sigs) <= 1 for sigs in after_first.values()), after_first
        for _ in range(13):
            opt.step(grads)
        assert compiled(opt) == after_first, f"{name} {np.dtype(dtype).name}: a kernel compiled after step 1"


def test_the_variants_a_run_reaches_are_found_in_the_order_reached():
    """SGD with momentum: t == 1 at the first step only (by hand), so (True,) then (False,)."""
    spec = optgen.load_spec("momentum")
    from optgen.compiler.driver import load_module
    module = load_module(spec, {}, "cpu")
    values = {h.name: h.default for h in spec.declared("hyper")}
    assert len(module.VARIANTS) == 2
    assert reachable_variants(module, spec, values, {}) == [(True,), (False,)]
    assert reachable_variants(module, spec, values, {}, start=2) == [(False,)]


def stage_loops(opt) -> dict:
    """The per-tensor stages' compiled loops (compiler/stage_loops.py) -> their signatures so far."""
    return {fn.__name__: list(fn.signatures) for v in opt.module.VARIANTS.values()
            for loops in v.stage_loops for fn, _ in loops}


@pytest.mark.parametrize("name, shapes", [
    ("adafactor", [(6, 4), (3, 2, 5), (7,)]),       # torch's form factors every matrix
    ("adafactor_optax", [(130, 128), (2, 128, 129), (7,)]),  # optax's: both axes at least 128
])
def test_the_stage_loops_compile_before_the_first_step(name, shapes, one_thread):
    """Adafactor's per-tensor stage runs three loops over the rows and columns: compiled in the
    background with the kernels (they took 0.7 s of a fresh cache's first step), with the
    argument types the step passes, so the step compiles none of them again."""
    rng = np.random.default_rng(5)
    for dtype in (np.float32, np.float64):
        params = [rng.standard_normal(s).astype(dtype) for s in shapes]
        opt = optgen.create(name, params)  # factored per tensor: the 2-D and 3-D ones, one optimizer
        (factored,) = [part for idx, part in opt.parts if idx == [0, 1]]
        asked = {fn.__name__ for fn, _ in factored._precompiler.jobs}
        assert asked >= set(stage_loops(factored)), asked  # whatever compiled them before
        factored._precompiler.wait()  # what the background thread compiled, before any step
        before = stage_loops(factored)
        assert before and all(len(sigs) == 1 for sigs in before.values()), before
        opt.step([rng.standard_normal(s).astype(dtype) for s in shapes])
        assert stage_loops(factored) == before, f"{name}: a stage loop compiled at the step"


def test_the_runtimes_own_loops_over_rows_compile_before_the_first_step(one_thread):
    """The mean over each matrix and the column sums of a split matrix (runtime/axes.py) are
    compiled loops too: in the background, with the types the step passes (a fresh cache's first
    step waited 0.29 s for the first)."""
    from optgen.runtime.axes import AxisTable
    rng = np.random.default_rng(6)
    shapes = [(9000, 20), (4, 3)]  # the first split over chunks of rows: its own column sums
    opt = optgen.create("adafactor", [rng.standard_normal(s).astype(np.float32) for s in shapes])
    (part,) = [p for _, p in opt.parts]
    loops = [fn for fn, _ in AxisTable.compiled_loops()]
    assert {fn for fn, _ in part._precompiler.jobs} >= set(loops)  # asked for, whatever ran before
    part._precompiler.wait()
    before = [list(fn.signatures) for fn in loops]
    assert all(len(sigs) == 1 for sigs in before), before
    assert part.groups[0].axes.n_part_sums > 0  # so the step calls both
    opt.step([rng.standard_normal(s).astype(np.float32) for s in shapes])
    assert [list(fn.signatures) for fn in loops] == before
