"""optgen.verify.symbols: canonical symbols by name, random values inside domains."""
import sympy

from optgen.dsl import hyper, state
from optgen.spec import g, t, w
from optgen.verify import symbols as S


def test_same_name_from_two_specs_is_one_canonical_symbol():
    a = hyper("lr_test_sym", 1e-3, domain="positive")
    b = hyper("lr_test_sym", 0.5, domain="positive", doc="another spec's lr")
    assert a != b  # the spec layer keeps them apart ...
    assert S.canon(a * g) == S.canon(b * g)  # ... the verifier identifies them by name
    assert S.canon(w + t) == S.w + S.t


def test_states_are_canonical_by_name():
    m1, m2 = state("m_test_sym", 0, latex="v"), state("m_test_sym", 0, latex="m")
    assert S.canon(m1) == S.canon(m2) == sympy.Symbol("m_test_sym", real=True)


def test_sampler_respects_declared_domains_and_assumptions():
    beta = S.hyper("beta_test_sym", "[0, 1)")
    lr = S.hyper("lr_test_sym2", "positive")
    n = S.sym("n", integer=True, positive=True)
    c = S.sym("c", positive=True)
    for seed in range(30):
        s = S.Sampler(seed=seed)
        assert 0 <= s.value(beta) < 1
        assert s.value(lr) > 0 and s.value(c) > 0
        assert s.value(n).is_Integer and s.value(n) >= 1
        assert s.value(beta).is_Rational


def test_ranges_may_depend_on_other_symbols():
    a, b = S.sym("a_r"), S.sym("b_r")
    for seed in range(20):
        s = S.Sampler(seed=seed, ranges={b: (a, a + 1)})
        s.assign([b, a])
        assert s.values[a] < s.values[b] < s.values[a] + 1


def test_variables_skip_indexed_base_labels():
    G = sympy.IndexedBase("gg")
    x = S.sym("x")
    assert S.variables(G[1] ** 2 + x) == {G[1], x}


def test_evaluate_is_exact_without_radicals_and_50_digits_with():
    x = S.sym("x", positive=True)
    s = S.Sampler(seed=1, fixed={x: sympy.Rational(1, 3)})
    assert s.evaluate(x**2 + 1) == sympy.Rational(10, 9)
    v = s.evaluate(sympy.sqrt(x))
    assert not v.is_Rational and abs(v - sympy.sqrt(sympy.Rational(1, 3)).evalf(60)) < 1e-45
