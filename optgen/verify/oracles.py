"""Gradient oracles: what ``g`` is when a spec is unrolled symbolically.

:class:`Sequence`
    an arbitrary gradient sequence ``g_1, g_2, ...`` (``IndexedBase("g")``),
    independent of the parameter. Two optimizers that evaluate the gradient at
    the parameter and agree for *every* sequence agree for every loss.
:class:`Function`
    ``g = grad F(p)`` for an uninterpreted function ``F``, evaluated at a point
    ``p`` (the parameter, or a shifted point such as Nesterov's ``w + alpha v``).
    Each distinct point gets its own atom ``dF_n``; a new point that is *provably*
    equal to an earlier one reuses that atom (the function is single-valued), so
    two formulations that evaluate the gradient at equal points get equal atoms.
:class:`ScaleInvariant`
    the gradient of a loss with ``L(c theta) = L(theta)`` for ``c > 0`` (a vector
    parameter): a new point proportional to an earlier one, ``p = c q`` with
    ``c`` provably positive, gets ``grad L(p) = grad L(q) / c`` (the lemma of the note
    on exponential learning rates, itself a claim in optgen/specs/derivations/scale_invariance.py).

For the numeric checks each oracle gives its atoms concrete values through
:meth:`Oracle.prepare`: a sequence gets random values; an uninterpreted gradient
becomes a random smooth vector field ``a + B x + c x**3`` (evaluated at the
numeric points, in the order the atoms were created); a scale-invariant one
becomes the Rayleigh quotient ``L(x) = x'Ax / x'x`` with a random symmetric ``A``,
whose gradient ``2 (A x - L x) / x'x`` is scale-invariant of degree -1.
"""
from __future__ import annotations

import sympy

from .prove import numeric_zero, samplers_for, symbolic_zero
from .symbols import LATEX, Sampler

__all__ = ["Oracle", "Sequence", "Function", "ScaleInvariant", "GRAD"]

# The label is not the gradient symbol `g` (which unrolling replaces by these atoms).
# No assumptions on the base: SymPy rebuilds an IndexedBase without them in
# xreplace, and g[1] built before and after would then differ.
GRAD = sympy.IndexedBase("g")


class Oracle:
    kind = "oracle"
    text = ""

    def __init__(self, dim: int = 1):
        self.dim = dim
        self.numeric_merges = 0   # points identified only numerically (weakens a proof)

    def gradient(self, step, point: list) -> list:
        raise NotImplementedError

    def prepare(self, sampler: Sampler) -> Sampler:
        """Give this oracle's atoms concrete values in ``sampler`` (before evaluating)."""
        return sampler


class Sequence(Oracle):
    kind = "sequence"
    text = "an arbitrary gradient sequence g_1, g_2, ..."

    def gradient(self, step, point):
        if self.dim == 1:
            return [GRAD[step]]
        return [GRAD[step, i] for i in range(self.dim)]


class _Row:
    def __init__(self, point, atoms):
        self.point, self.atoms = point, atoms


class Function(Oracle):
    kind = "function"
    text = "g = grad F(p) for an uninterpreted F"
    prefix = "dF"

    def __init__(self, dim: int = 1, timeout: float = 2.0):
        super().__init__(dim)
        self.rows: list[_Row] = []
        self.timeout = timeout
        self._screen = samplers_for(2, seed=424242)

    def _equal(self, a, b) -> bool:
        diff = a - b
        if diff == 0:
            return True
        zero, *_ = numeric_zero(diff, self._screen)
        if not zero:
            return False
        if symbolic_zero(diff, timeout=self.timeout, allow_simplify=False) is None:
            self.numeric_merges += 1
        return True

    def _match(self, point, row):
        """None if ``point`` is not ``row``'s point, else the gradient there."""
        if all(self._equal(p, q) for p, q in zip(point, row.point)):
            return list(row.atoms)
        return None

    def gradient(self, step, point):
        point = [sympy.sympify(p) for p in point]
        for row in self.rows:
            found = self._match(point, row)
            if found is not None:
                return found
        n = len(self.rows) + 1
        names = [f"{self.prefix}_{n}" if self.dim == 1 else f"{self.prefix}_{n}{i}" for i in range(self.dim)]
        atoms = [sympy.Symbol(s, real=True) for s in names]
        for s, i in zip(names, range(self.dim)):
            sub = f"{n}" if self.dim == 1 else f"{n},{i}"
            LATEX.setdefault(s, r"\nabla F_{%s}" % sub)
        self.rows.append(_Row(point, atoms))
        return list(atoms)

    # -- numeric instance --
    def _field(self, sampler: Sampler):
        r = sampler.rng
        q = lambda: sympy.Rational(r.randint(-9, 9), 7)  # noqa: E731
        a = [q() for _ in range(self.dim)]
        B = [[q() for _ in range(self.dim)] for _ in range(self.dim)]
        c = [q() / 3 for _ in range(self.dim)]
        return lambda x: [a[i] + sum(B[i][j] * x[j] for j in range(self.dim)) + c[i] * x[i] ** 3
                          for i in range(self.dim)]

    def prepare(self, sampler):
        field = self._field(sampler)
        for row in self.rows:
            x = [sampler.evaluate(p) for p in row.point]
            for atom, value in zip(row.atoms, field(x)):
                sampler.values[atom] = value
        return sampler


class ScaleInvariant(Function):
    kind = "scale_invariant"
    text = "g = grad L(p) for a loss with L(c p) = L(p), c > 0"
    prefix = "dL"

    def _match(self, point, row):
        q = row.point
        k = next((i for i, x in enumerate(q) if x != 0), None)
        if k is None:
            return None
        try:
            c = sympy.cancel(point[k] / q[k])
        except Exception:
            return None
        if not c.is_positive:
            return None
        if all(self._equal(p, c * x) for p, x in zip(point, q)):
            return [a / c for a in row.atoms]
        return None

    def _field(self, sampler):
        r = sampler.rng
        n = self.dim
        A = [[None] * n for _ in range(n)]
        for i in range(n):
            for j in range(i, n):
                A[i][j] = A[j][i] = sympy.Rational(r.randint(-9, 9), 5)

        def grad(x):
            xx = sum(v * v for v in x)
            Ax = [sum(A[i][j] * x[j] for j in range(n)) for i in range(n)]
            L = sum(x[i] * Ax[i] for i in range(n)) / xx
            return [2 * (Ax[i] - L * x[i]) / xx for i in range(n)]
        return grad

    @staticmethod
    def loss(x, A):
        """The Rayleigh quotient (for tests): scale-invariant for every c != 0."""
        n = len(x)
        return sum(x[i] * A[i][j] * x[j] for i in range(n) for j in range(n)) / sum(v * v for v in x)


class Atoms(Function):
    """Values replaced by atoms: after each step, a state's new value becomes a
    symbol (``v_1``, ``v_2``, ...), shared by every formulation whose value there is
    provably the same (whatever the state is called there). For the names in
    ``positive`` the atoms are positive symbols: the claim then holds for every
    positive value of those states (e.g. a second moment ``v > 0``, which lets
    ``sqrt(v / c) = sqrt(v) / sqrt(c)``). ``definitions`` maps each atom to the
    value it stands for (for the report)."""

    kind = "atoms"

    def __init__(self, positive=()):
        super().__init__(1)
        self.positive = set(positive)   # names whose atoms are positive
        self.definitions: dict = {}
        self._count: dict = {}

    def atom(self, value, name: str, latex: str | None = None):
        value = sympy.sympify(value)
        for row in self.rows:
            if self._equal(value, row.point[0]):
                return row.atoms[0]
        n = self._count[name] = self._count.get(name, 0) + 1
        s = sympy.Symbol(f"{name}_{n}", **({"positive": True} if name in self.positive else {"real": True}))
        LATEX.setdefault(s.name, "%s_{%d}" % (latex or name, n))
        self.rows.append(_Row([value], [s]))
        self.definitions[s] = value
        return s

    def prepare(self, sampler):
        return sampler
