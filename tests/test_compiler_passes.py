"""Unit tests of the compiler passes: ssa → stage → optimize, on small specs."""
import numpy as np
import pytest
import sympy

from optgen import abi
from optgen.compiler.optimize import optimise
from optgen.compiler.ssa import ELEMENT, HOST, TENSOR, input_symbol, to_ssa
from optgen.compiler.stage import stage
from optgen.dsl import Abs, Eq, Spec, hyper, norm, option, state, var, when, g, sqrt, t, w

lr = hyper("lr", 0.1, domain="positive")
beta = hyper("beta", 0.9, domain="[0, 1)")


def names(syms):
    return [s.name for s in syms]


def test_ssa_versions_and_levels():
    m = state("m")
    bc = var("bc")
    spec = Spec("toy", [(bc, 1 - beta**t), (m, beta * m + g), (m, m / bc), (w, w - lr * m)])
    ssa = to_ssa(spec)
    assert names(ssa.nodes) == ["bc", "m_1", "m_2", "w_1"]
    assert ssa.level[sympy.Symbol("bc", real=True)] == HOST
    assert ssa.level[sympy.Symbol("m_2", real=True)] == ELEMENT
    assert ssa.finals == {"w": sympy.Symbol("w_1", real=True), "m": sympy.Symbol("m_2", real=True)}
    assert ssa.arrays == ["w", "m", "g"]


def test_state_whose_old_value_is_never_read_is_not_memory():
    m, vmax = state("m"), state("vmax")
    amsgrad = option("amsgrad")
    from optgen.dsl import Max
    spec = Spec("toy", [(m, beta * m + g), (vmax, when(amsgrad, Max(vmax, m), m)), (w, w - lr * vmax)])
    assert to_ssa(spec.resolve(amsgrad=True)).arrays == ["w", "m", "vmax", "g"]
    assert to_ssa(spec.resolve(amsgrad=False)).arrays == ["w", "m", "g"]


def test_first_step_init_becomes_a_host_condition_variant():
    s = state("s", init=Abs(g))
    spec = Spec("toy", [(s, beta * s + (1 - beta) * Abs(g)), (w, w - lr * g / s)])
    staged = stage(to_ssa(spec))
    assert staged.conditions == [Eq(t, 1)]
    first, later = staged.variants[(True,)], staged.variants[(False,)]
    assert "s" not in first.passes[0].loads          # at t == 1 the old s is |g|, not memory
    assert "s" in later.passes[0].loads and "s" in first.passes[0].stores


def test_reduction_splits_into_two_passes_and_stores_early():
    """LAMB-like: m, v written in pass 0 with the norms; w in pass 1 reads m, v back."""
    m, v = state("m"), state("v")
    r, trust = var("r"), var("trust")
    spec = Spec("toy", [
        (m, beta * m + (1 - beta) * g),
        (v, beta * v + (1 - beta) * g**2),
        (r, m / (sqrt(v) + 1e-6)),
        (trust, norm(w) / norm(r)),
        (w, w - lr * trust * r),
    ])
    ssa = to_ssa(spec)
    assert len(ssa.reductions) == 2
    staged = stage(ssa)
    (variant,) = staged.variants.values()
    p0, p1 = variant.passes
    assert set(p0.stores) == {"m", "v"} and len(p0.reductions) == 2
    assert set(p1.stores) == {"w"}
    # pass 1 loads the new m and v (already written) and the old w: 4 arrays, not g
    assert set(p1.loads) == {"w", "m", "v"}
    assert abi.bytes_per_element([p0, p1], 4) == 4 * (4 + 2) + 4 * (3 + 1)
    assert names(s for s, _ in variant.tensor_stages[0]) == ["trust"]


def test_write_waits_when_a_later_pass_needs_the_old_value():
    m = state("m")
    spec = Spec("toy", [(m, beta * m + g), (w, w - lr * m * norm(m))])
    # w_new needs norm(m_new) (ready for pass 1) and m_new: m is written in pass 0, read back
    (variant,) = stage(to_ssa(spec)).variants.values()
    assert [sorted(p.stores) for p in variant.passes] == [["m"], ["w"]]
    assert variant.passes[1].loads == {"w": sympy.Symbol("w", real=True), "m": sympy.Symbol("m_1", real=True)}
    # pass 1 needs the OLD m too: its write waits until pass 1, which recomputes m_new
    old = var("old")
    spec2 = Spec("toy2", [(old, m), (m, beta * m + g), (w, w - lr * old * norm(m))])
    (v2,) = stage(to_ssa(spec2)).variants.values()
    assert [sorted(p.stores) for p in v2.passes] == [[], ["m", "w"]]
    assert set(v2.passes[1].loads) == {"w", "m", "g"}


def test_hoisting_moves_bias_correction_and_reciprocals_to_the_host():
    m = state("m")
    spec = Spec("toy", [(m, beta * m + (1 - beta) * g), (w, w - lr * m / (1 - beta**t))])
    (kv,) = optimise(stage(to_ssa(spec))).values()
    (p,) = kv.passes
    body_symbols = set().union(*[e.free_symbols for _, e in p.body])
    assert t not in body_symbols
    assert all(not e.has(sympy.Pow) or all(a.exp > 0 for a in e.atoms(sympy.Pow)) for _, e in p.body)
    host = dict(kv.host)
    values = {beta: 0.9, lr: 0.1, t: 3}
    hoisted = sorted(float(e.subs(values)) for e in host.values())
    assert np.allclose(hoisted, sorted([1 - 0.9, -0.1 / (1 - 0.9**3)]))
    assert set(p.host_args) >= set(host)


def test_cse_keeps_the_spec_names():
    m, v = state("m"), state("v")
    spec = Spec("toy", [(m, beta * m + g), (v, beta * v + g * g), (w, w - lr * m / sqrt(v))])
    (kv,) = optimise(stage(to_ssa(spec))).values()
    assert names(s for s, _ in kv.passes[0].body) == ["v_1", "m_1", "w_1"] or \
        set(names(s for s, _ in kv.passes[0].body)) == {"v_1", "m_1", "w_1"}
    assert kv.passes[0].stores == {"w": sympy.Symbol("w_1", real=True), "m": sympy.Symbol("m_1", real=True),
                                   "v": sympy.Symbol("v_1", real=True)}


def test_input_symbols_are_plain_real_symbols():
    assert input_symbol("w") == sympy.Symbol("w", real=True)
    assert TENSOR == "tensor"


def test_hoisting_leaves_piecewise_branches_whole():
    """A constant last branch, ``(1, True)``, is a branch, not a host value (Rprop's step-size factor).

    It used to be hoisted as a host value, and rebuilding the Piecewise around it raised
    a TypeError inside SymPy.
    """
    from optgen.dsl import Gt, Lt, Piecewise, sign
    step = state("step", 0)
    s = var("s")
    spec = Spec("toy", [(s, sign(g * w)),
                        (step, step * Piecewise((beta, Gt(s, 0)), (lr, Lt(s, 0)), (1, True))),
                        (w, w - step)])
    (kv,) = optimise(stage(to_ssa(spec))).values()
    (pw,) = [e for _, e in kv.passes[0].body if e.has(sympy.Piecewise)][0].atoms(sympy.Piecewise)
    assert pw.args[-1] == (1, True) and len(pw.args) == 3


def test_later_passes_leave_the_ssa_they_read_as_it_was():
    """The driver keeps every intermediate (``optgen show --stage``): staging and the host
    hoister build their own tables and never write into the SSA (the hoister used to add
    its host values h0, h1, ... to ``ssa.level``). NAdam has a host state, LAMB sums."""
    import dataclasses

    from optgen.registry import load_spec
    for name in ("lamb", "nadam"):
        spec = load_spec(name)
        ssa = to_ssa(spec.resolve(**spec.options))
        before = (dict(ssa.level), list(ssa.arrays), dict(ssa.finals), dict(ssa.host_states), dict(ssa.nodes))
        variants = optimise(stage(ssa))
        assert any(v.host for v in variants.values())  # host values were hoisted...
        assert (dict(ssa.level), list(ssa.arrays), dict(ssa.finals), dict(ssa.host_states),
                dict(ssa.nodes)) == before  # ...beside the SSA, not into it
        with pytest.raises(dataclasses.FrozenInstanceError):
            ssa.level = {}
