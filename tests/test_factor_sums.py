"""compiler/factor_sums.py: a per-tensor factor out of a sum or a mean (Pass 1b).

The rewrite itself on the SSA, by hand; the passes it saves; where it must not act. The
numbers of a step it changes are checked elsewhere against independent sources:
clip_by_global_norm(adafactor) against clip_grad_norm_ then torch.optim.Adafactor
(tests/test_torch_adafactor.py) and against the oracle on the device
(tests/cuda_sim/test_axis_reductions_cuda.py).
"""
from __future__ import annotations

import sympy

import optgen
from optgen.compiler import driver
from optgen.compiler.factor_sums import factor_sums
from optgen.compiler.ssa import ROW, input_symbol, to_ssa
from optgen.compiler.stage import stage
from optgen.dsl import Spec, g, global_sum, hyper, state, tensor_sum, var, w
from optgen.registry import all_specs, is_builtin
from optgen.transforms import clip_by_global_norm

G = input_symbol("g")


def _by_name(d: dict) -> dict:
    return {s.name: e for s, e in d.items()}


def test_the_clip_factor_leaves_adafactors_row_and_column_means():
    """row_mean((c g)^2) = c^2 row_mean(g^2): the means sum g^2 alone, and the old symbols are
    values of the per-tensor stage, c^2 times them."""
    spec = clip_by_global_norm("adafactor").resolve(factored=True)
    ssa = factor_sums(to_ssa(spec))
    reductions, nodes = _by_name(ssa.reductions), _by_name(ssa.nodes)
    assert reductions["row_mean_1_unscaled"] == G ** 2 and reductions["col_mean_1_unscaled"] == G ** 2
    c = sympy.Symbol("clip_factor", real=True)
    assert nodes["row_mean_1"] == c ** 2 * sympy.Symbol("row_mean_1_unscaled", real=True)
    assert {s.name: k for s, k in ssa.axis_reductions.items()} == {"row_mean_1_unscaled": "row",
                                                                 "col_mean_1_unscaled": "col"}
    assert ssa.level[next(s for s in ssa.nodes if s.name == "row_mean_1")] == ROW
    # the clip's norm and the means read only g: one pass for both, then the RMS of u, then the update
    assert len(stage(to_ssa(spec)).variants[()].passes) == 4
    assert len(stage(ssa).variants[()].passes) == 3
    build = driver.compile_spec(clip_by_global_norm("adafactor"), {"factored": True})
    assert [len(v.passes) for v in build.variants.values()] == [3]


def test_a_summand_that_is_not_a_product_keeps_its_sum():
    """optax's factored RMS adds eps to g^2 before the means: (c g)^2 + eps has no factor c^2."""
    spec = clip_by_global_norm("adafactor_optax").resolve(factored=True, clipping=True)
    ssa = to_ssa(spec)
    assert factor_sums(ssa) is ssa


def test_a_sum_over_every_tensor_keeps_a_per_tensor_factor():
    """A tensor's factor differs between tensors: it cannot leave a sum over all of them."""
    lr = hyper("lr", 0.1)
    n, s = var("n"), var("s")
    spec = Spec("scaled_global", [(n, tensor_sum(g ** 2)), (s, global_sum(n * g ** 2)), (w, w - lr * g / (1 + s))])
    ssa = to_ssa(spec)
    assert factor_sums(ssa) is ssa


def test_a_factor_out_of_a_tensor_sum_by_hand():
    """u = (n g)^2 with n a tensor's own sum: sum(u) = n^2 sum(g^2), one pass instead of two."""
    lr = hyper("lr", 0.1)
    n, u, s = var("n"), var("u"), var("s")
    m = state("m", 0)
    spec = Spec("scaled_sum", [(n, tensor_sum(g ** 2)), (u, (n * g) ** 2), (s, tensor_sum(u)),
                               (m, 0.5 * m + g), (w, w - lr * m / (1 + s))])
    ssa = factor_sums(to_ssa(spec))
    assert _by_name(ssa.reductions)["sum_2_unscaled"] == G ** 2
    assert _by_name(ssa.nodes)["sum_2"] == sympy.Symbol("n", real=True) ** 2 * sympy.Symbol("sum_2_unscaled", real=True)
    assert len(stage(ssa).variants[()].passes) == 2  # the sums, then the update (was three)


def test_no_built_in_spec_is_changed():
    """The module docstring's claim: every built-in spec's step stays as it was (their generated
    modules are current: `optgen build --check`, tests/test_cli.py)."""
    for name, spec in sorted(all_specs().items()):
        if not is_builtin(spec):
            continue
        for options in driver.option_combinations(spec):
            ssa = to_ssa(spec.resolve(**options))
            assert factor_sums(ssa) is ssa, (name, options)


def test_the_rewritten_step_is_the_oracles():
    """A spec the rewrite changes, on the CPU, against the oracle (which sums (n g)^2 as written)."""
    import numpy as np
    lr = hyper("lr", 0.1)
    n, u, s = var("n"), var("u"), var("s")
    spec = Spec("scaled_sum2", [(n, tensor_sum(g ** 2)), (u, (n * g) ** 2), (s, tensor_sum(u)),
                                (w, w - lr * g / (1 + s))])
    rng = np.random.default_rng(3)
    params = [rng.standard_normal((4, 5)), rng.standard_normal(7)]
    opt, ref = optgen.create(spec, params), optgen.reference(spec, [p.copy() for p in params])
    for _ in range(3):
        grads = [rng.standard_normal(p.shape) for p in params]
        opt.step(grads)
        ref.step(grads)
    for a, b in zip(params, ref.params):
        np.testing.assert_allclose(a, b, rtol=1e-13)
