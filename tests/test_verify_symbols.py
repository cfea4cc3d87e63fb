"""optgen.verify.symbols: the specs' symbols are the claims', random values inside declared domains."""
import sympy

from optgen.dsl import Spec, hyper, state
from optgen.spec import g, t, w
from optgen.verify import symbols as S


def test_a_name_declared_by_two_specs_is_one_symbol_and_each_spec_keeps_its_declaration():
    a = hyper("lr_test_sym", 1e-3, domain="positive")
    spec_a = Spec("sym_a", [(w, w - a * g)])
    b = hyper("lr_test_sym", 0.5, domain="[0, 1]", doc="another spec's lr")
    spec_b = Spec("sym_b", [(w, w - b * g)])
    assert a is b  # one symbol: a claim comparing the specs compares the same lr, untranslated
    assert spec_a.hypers == {"lr_test_sym": 1e-3} and spec_b.hypers == {"lr_test_sym": 0.5}
    assert (a * g - b * g) == 0 and (w + t).free_symbols == {w, t}


def test_states_are_one_symbol_by_name_whatever_their_latex():
    assert state("m_test_sym", 0, latex="v") is state("m_test_sym", 0, latex="m")


def test_sampler_respects_declared_domains_and_assumptions():
    beta = hyper("beta_test_sym", 0.5, domain="[0, 1)")
    lr = hyper("lr_test_sym2", 0.1, domain="positive")
    spec = Spec("sym_domains", [(w, w - lr * beta * g)])
    domains = S.domains_of(spec.declarations)
    n = S.sym("n", integer=True, positive=True)
    c = S.sym("c", positive=True)
    for seed in range(30):
        s = S.Sampler(seed=seed, domains=domains)
        assert 0 <= s.value(beta) < 1
        assert s.value(lr) > 0 and s.value(c) > 0
        assert s.value(n).is_Integer and s.value(n) >= 1
        assert s.value(beta).is_Rational


def test_two_specs_domains_of_one_name_are_intersected():
    h = hyper("eps_test_sym", 0.5, domain="nonnegative")
    one = Spec("sym_one", [(w, w - h * g)])
    hyper("eps_test_sym", 0.5, domain="(0, 1)")
    two = Spec("sym_two", [(w, w - h * g)])
    d = S.domains_of(one.declarations, two.declarations)[h]
    assert d.contains(0.5) and not d.contains(0.0) and not d.contains(1.0)


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
