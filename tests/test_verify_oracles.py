"""optgen.verify.oracles: what g is when a spec is unrolled."""
import sympy

from optgen.verify.oracles import GRAD, Atoms, Function, ScaleInvariant, Sequence
from optgen.verify.symbols import Sampler, sym

x, y = sym("x"), sym("y")


def test_sequence_is_indexed_by_step():
    assert Sequence().gradient(3, [x]) == [GRAD[3]]
    assert Sequence(2).gradient(1, [x, y]) == [GRAD[1, 0], GRAD[1, 1]]


def test_function_reuses_an_atom_only_at_a_provably_equal_point():
    F = Function()
    a = F.gradient(1, [(x + y) ** 2])
    assert F.gradient(2, [x**2 + 2 * x * y + y**2]) == a      # same point, written differently
    assert F.gradient(3, [(x + y) ** 2 + 1]) != a             # another point
    assert len(F.rows) == 2 and F.numeric_merges == 0


def test_function_numeric_instance_is_a_function_of_the_point():
    F = Function()
    a, = F.gradient(1, [x])
    c, = F.gradient(2, [2 * x])
    s = F.prepare(Sampler(seed=4, fixed={x: 0}))
    assert s.values[a] == s.values[c]  # x = 0: the same point, the same value


def test_scale_invariant_gradient_scales_with_a_positive_factor_only():
    c = sym("c", positive=True)
    L = ScaleInvariant(2)
    g0 = L.gradient(1, [x, y])
    assert L.gradient(2, [c * x, c * y]) == [gi / c for gi in g0]
    assert L.gradient(3, [-x, -y]) != [-gi for gi in g0]  # -1 is not a positive factor: a new point
    assert len(L.rows) == 2


def test_rayleigh_model_is_scale_invariant():
    """The numeric model: grad(c x) = grad(x) / c and <grad(x), x> = 0 (independently computed)."""
    L = ScaleInvariant(3)
    field = L._field(Sampler(seed=7))
    p = [sympy.Rational(1, 3), sympy.Rational(-2, 5), sympy.Rational(7, 4)]
    gp = field(p)
    assert sum(a * b for a, b in zip(gp, p)) == 0
    assert field([5 * v for v in p]) == [v / 5 for v in gp]


def test_atoms_are_shared_when_values_are_equal():
    A = Atoms(positive=["v"])
    v1 = A.atom(x**2 + 1, "v")
    assert v1.is_positive and A.atom(1 + x * x, "s") == v1
    assert A.atom(x**2 + 2, "v") != v1 and A.definitions[v1] == x**2 + 1
