"""Adafactor's factored second moment is exact for a rank-one g^2 (Shazeer & Stern 2018, section 4).

For a matrix V = g^2 (elementwise) with row means r_i = mean_j V_ij, column means
c_j = mean_i V_ij and overall mean mean(V) = mean_i r_i, the factored estimate is
r_i c_j / mean(V). If g = a b^T (so V = (a^2)(b^2)^T, rank one) then
r_i = a_i^2 mean(b^2), c_j = b_j^2 mean(a^2), mean(V) = mean(a^2) mean(b^2), and the
estimate is a_i^2 b_j^2 = V_ij: exact.

The claim reads the adafactor spec's own equations (factored branch): at t = 1 from zero
states, beta2_t' = 1^beta2_decay = 1, so row_var = row_mean(g^2), col_var = col_mean(g^2),
and vhat = row_var col_var / max(col_mean(row_var), eps1); eps1 = 0 (the floor is below
the mean). ``row_mean`` and ``col_mean`` are expanded by their definition on a 3 x 4 matrix
of symbols a_i b_j, and the identity is proved symbolically, for every a and b, at the
element (1, 2) (every element is alike: the expansion is symmetric in the indices). For a
rank-two g (a b^T + c d^T) the estimate is not g^2: the second claim is expected to fail.
"""
import sympy

from optgen.spec import ColMean, Grad, RowMean
from optgen.verify import Identity
from optgen.verify.symbols import sym

ROWS, COLS = 3, 4
A = [sym(f"a{i}", f"a_{i}", real=True) for i in range(ROWS)]
B = [sym(f"b{j}", f"b_{j}", real=True) for j in range(COLS)]
C = [sym(f"c{i}", f"c_{i}", real=True) for i in range(ROWS)]
D = [sym(f"d{j}", f"d_{j}", real=True) for j in range(COLS)]


def _at(expr, i, j, grad):
    """``expr`` (an element expression of the spec) at element (i, j), the means expanded."""
    if isinstance(expr, Grad):
        return grad(i, j)
    if isinstance(expr, RowMean):
        return sympy.Add(*[_at(expr.args[0], i, l, grad) for l in range(COLS)]) / COLS
    if isinstance(expr, ColMean):
        return sympy.Add(*[_at(expr.args[0], k, j, grad) for k in range(ROWS)]) / ROWS
    if not expr.args or isinstance(expr, sympy.Symbol):
        return expr
    return expr.func(*[_at(a, i, j, grad) for a in expr.args])


def _vhat(grad, i=1, j=2):
    """The adafactor spec's vhat at t = 1 (from zero states, eps1 = 0), at element (i, j)."""
    from optgen.registry import load_spec
    spec = load_spec("adafactor").resolve(factored=True, maximize=False)
    env: dict = {}
    for lhs, rhs in spec.equations:
        rhs = rhs.xreplace(env)
        if lhs.name in ("gs", "b2", "row_var", "col_var", "vhat"):
            env[lhs] = rhs
    vhat = env[next(s for s in env if s.name == "vhat")].xreplace({s.symbol: 0 for s in spec.states})
    # t = 1 (so beta2_t' = 1) and eps1 = 0
    vhat = vhat.xreplace({s: int(s.name == "t") for s in vhat.free_symbols if s.name in ("t", "eps1")})
    return sympy.simplify(_at(vhat, i, j, grad))


claims = [
    Identity(
        name="adafactor_factored_exact_for_rank_one", about=("adafactor",),
        source="Shazeer & Stern 2018, arXiv:1804.04235, section 4; specs/adafactor.py",
        statement="for g = a b^T (g^2 of rank one), the spec's factored estimate row_var[i] col_var[j] / "
                  "mean(row_var) at t = 1 is g_ij^2 exactly (a 3 x 4 matrix of symbols, element (1, 2))",
        lhs=lambda: _vhat(lambda i, j: A[i] * B[j]), rhs=(A[1] * B[2])**2),
    Identity(
        name="adafactor_factored_not_exact_for_rank_two", about=("adafactor",),
        source="Shazeer & Stern 2018, arXiv:1804.04235, section 4",
        statement="for g = a b^T + c d^T the factored estimate is not g^2 (it is exact only for rank one)",
        lhs=lambda: _vhat(lambda i, j: A[i] * B[j] + C[i] * D[j]), rhs=(A[1] * B[2] + C[1] * D[2])**2,
        xfail="the factorisation is exact for rank one only"),
]
