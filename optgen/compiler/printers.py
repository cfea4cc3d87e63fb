"""Pass 4: printing — SymPy printer subclasses, one per kind of code.

* :class:`KernelPrinter` — per-element code inside a Numba kernel. Derives from
  ``PythonCodePrinter`` (``math.*``: ``numpy.*`` is not available in CUDA
  kernels). Every literal is typed to the kernel's dtype, so a float32 kernel
  never promotes to float64 (``0.5 * x`` with a Python float would). Small
  integer powers become products, ``x**0.5`` a square root, ``x**-1`` a division.
  Functions (``exp``, ``tanh``, ``atan2``, ``erf``, ...) are ``math.*``, which Numba
  types by argument: float32 in, float32 out (its single-precision libm function).
  A per-tensor sum's summand is the exception (:meth:`KernelPrinter.summand`): its
  top-level terms, products and squares are formed in float64 from float32 values,
  so that the squares of float32 values neither overflow (3e38**2) nor underflow
  (1e-30**2).
* :class:`HostPrinter` — the once-per-step host stage and the per-tensor stage,
  in float64 numpy (a value of the wrong branch gives nan, never an exception);
  ``erf``, which numpy lacks, is ``math.erf`` vectorised.
"""
from __future__ import annotations

import sympy
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import PythonCodePrinter

from .. import abi
from ..spec import TensorSum

DTYPES = abi.DTYPES


class _BranchesAndFolds:
    """Printing shared by the kernel and host printers, each with its own spelling:
    Max/Min as nested two-argument calls, Piecewise as nested two-way selections."""

    max_function = min_function = ""

    def _nested(self, fn, args):
        out = self._print(args[0])
        for a in args[1:]:
            out = f"{fn}({out}, {self._print(a)})"
        return out

    def _print_Max(self, expr):
        return self._nested(self.max_function, expr.args)

    def _print_Min(self, expr):
        return self._nested(self.min_function, expr.args)

    def _select(self, cond: str, then: str, otherwise: str) -> str:
        raise NotImplementedError

    def _print_Piecewise(self, expr):
        if expr.args[-1].cond != True:  # noqa: E712 - SymPy's true
            raise ValueError(f"Piecewise without an otherwise branch: {expr}")
        out = self._print(expr.args[-1].expr)
        for value, cond in reversed(expr.args[:-1]):
            out = self._select(self._print(cond), self._print(value), out)
        return out


class KernelPrinter(_BranchesAndFolds, PythonCodePrinter):
    """Per-element expressions for a ``numba.njit`` kernel of one dtype."""

    def __init__(self, dtype: str = "float64", settings=None):
        if dtype not in DTYPES:
            raise ValueError(f"unsupported dtype {dtype!r}; supported: {DTYPES}")
        super().__init__({"standard": "python3", **(settings or {})})
        self.dtype = dtype

    # -- literals stay in the kernel's dtype --
    def literal(self, value: float) -> str:
        text = repr(float(value))
        return text if self.dtype == "float64" else f"np.{self.dtype}({text})"

    def _print_Float(self, expr):
        return self.literal(float(expr))

    def _print_Integer(self, expr):
        return self.literal(int(expr))

    def _print_Rational(self, expr):
        return self.literal(expr.p / expr.q)

    def _print_Half(self, expr):
        return self.literal(0.5)

    def _print_One(self, expr):
        return self.literal(1.0)

    def _print_NegativeOne(self, expr):
        return self.literal(-1.0)

    def _print_Zero(self, expr):
        return self.literal(0.0)

    def _print_BooleanTrue(self, expr):
        return "True"

    def _print_BooleanFalse(self, expr):
        return "False"

    # -- arithmetic --
    def _print_Pow(self, expr, rational=False):
        base, e = expr.args
        b = self.parenthesize(base, sympy.printing.precedence.PRECEDENCE["Pow"])
        if e.is_Integer and 2 <= int(e) <= 4:
            return "(" + "*".join([b] * int(e)) + ")"
        if e == -1:
            return f"({self.literal(1.0)}/{b})"
        if e.is_Integer and -4 <= int(e) <= -2:
            return f"({self.literal(1.0)}/(" + "*".join([b] * -int(e)) + "))"
        if e == sympy.S.Half:
            return f"{self.sqrt_function}({self._print(base)})"
        if e == -sympy.S.Half:
            return f"({self.literal(1.0)}/{self.sqrt_function}({self._print(base)}))"
        return f"{b}**{self._print(e)}"

    sqrt_function = "math.sqrt"

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    max_function, min_function = "max", "min"

    def _print_sign(self, expr):
        x = self._print(expr.args[0])
        one, zero = self.literal(1.0), self.literal(0.0)
        return f"({one} if {x} > {zero} else (-{one} if {x} < {zero} else {zero}))"

    def _select(self, cond, then, otherwise):
        return f"({then} if {cond} else {otherwise})"

    def summand(self, expr) -> str:
        """A per-tensor sum's summand, to be added to a float64 accumulator.

        In a float32 kernel the top of the summand (its terms, their factors and small
        integer powers) is formed in float64 from float32 values, each widened with
        ``np.float64(...)``: ``w**2`` is ``np.float64(w)*np.float64(w)``, ``(g + wd*w)**2``
        squares the float32 ``g + wd*w`` in float64. What is squared or multiplied is
        the float32 value the element pass computes too (if it overflowed float32, the
        update would be wrong anyway); its square, which overflows above 1.8e19 and
        underflows below 3.7e-23 in float32, is not. Only the top is double precision:
        each element costs two widenings and a multiply-add in double, not a division
        or a square root.
        """
        if self.dtype == "float64":
            return self.doprint(expr)
        wide = type(self)("float64")

        def widened(e) -> str:
            return wide.literal(float(e)) if e.is_Number else f"np.float64({self.doprint(e)})"

        def top(e) -> str:
            if e.is_Add:
                return "(" + " + ".join(top(a) for a in e.as_ordered_terms()) + ")"
            if e.is_Mul and not any(f.is_Pow and f.exp.is_negative for f in e.args):
                return "(" + "*".join(top(f) for f in e.as_ordered_factors()) + ")"
            if e.is_Pow and e.exp.is_Integer and 2 <= int(e.exp) <= 4:
                return "(" + "*".join([widened(e.base)] * int(e.exp)) + ")"
            if isinstance(e, sympy.Abs):
                return f"abs({widened(e.args[0])})"
            return widened(e)
        return top(expr)

    def narrow_summand(self, expr) -> str | None:
        """The summand in a float32 kernel's own dtype where :meth:`summand` would only widen the
        whole float32 value (a quotient, a square root, a name) or a small power of one (``w**2``):
        None where it widens more, or in float64. Such a sum gains little from float64 per
        element; an axis pass adds it over runs of at most ``ROW_RUN`` elements of a row in
        float32 and each run's sum in float64 (a float64 add per element held Adafactor's pass
        over u^2 on GPT-2 small to 53 ms, 28 ms this way against a 16 ms floor: `optgen bench
        adafactor --model gpt2-small --paired`; the widened w**2 of its pass 0 cost 6.4 against
        5.4 ms on one thread over GPT-2's layer matrices). Vectorised eight lanes wide, a run's
        sum is at most 128 float32 additions deep. A square in float32 overflows only above
        |w| = 1.8e19, where the step's own float32 arithmetic has long failed."""
        if self.dtype == "float64" or expr.is_Number:
            return None
        whole = self.doprint(expr)
        if expr.is_Pow and expr.exp.is_Integer and 2 <= int(expr.exp) <= 4:
            base = self.doprint(expr.base)
            return whole if self.summand(expr.base) == f"np.float64({base})" else None
        return whole if self.summand(expr) == f"np.float64({whole})" else None

    def counted_summand(self, expr) -> str | None:
        """A constant summand's float64 literal: the chunk adds it once, times its element count,
        instead of once per element (``tensor_sum(1)``, a tensor's size, cost Adafactor's pass 0 a
        float64 add per element: 6.7 against 6.4 ms on one thread for GPT-2's layer matrices).
        None where the summand varies."""
        return type(self)("float64").literal(float(expr)) if expr.is_Number else None

    def _print_TensorSum(self, expr):  # pragma: no cover - reductions are lowered before printing
        raise ValueError("tensor_sum must be lowered into a pass before printing")


#: The longest run of a row a float32 axis pass sums in float32 (KernelPrinter.narrow_summand).
ROW_RUN = 1024
#: The most rows a float32 axis pass adds a narrow column sum over in float32 before adding it
#: to the column's float64 sum: as deep as a row run's sum, eight lanes wide. With a float64 load,
#: add and store per element, the loop of Adafactor's pass 0 over GPT-2's embedding (50257 x 768,
#: one thread) took 29 ms, 25 ms this way; on GPT-2 small pass 0 went from 43 to 39 ms.
COL_RUN = ROW_RUN // 8
#: The largest matrix (rows x cols) an axis pass that adds to row and column sums walks as one flat
#: loop, its rows ended by a column count, rather than row by row (a chunk of whole ones). The
#: small CNN's 10k 3x3 kernels spent most of its pass 0 setting up the inner loop for rows of
#: three: flat, the pass took 245 us against 300 in the step, the step 3-5% less
#: (docs/performance.md). Passes that read row and column values only were not faster so.
SMALL_MATRIX = 64


class HostPrinter(_BranchesAndFolds, NumPyPrinter):
    """Host and per-tensor stages: float64 numpy, evaluated once per step or per tensor."""

    def __init__(self, settings=None):
        super().__init__({"allow_unknown_functions": False, **(settings or {})})

    # nested numpy.maximum/minimum: NumPyPrinter's default uses functools, which the
    # generated module does not import
    max_function, min_function = "numpy.maximum", "numpy.minimum"

    def _select(self, cond, then, otherwise):
        return f"numpy.where({cond}, {then}, {otherwise})"

    def _print_Relational(self, expr):
        # infix, as Python prints it: the same values as numpy.equal & co. on float64 scalars and
        # arrays, and the host conditions run every step: numpy.equal(t, 1) on a float64 scalar
        # costs 1.5 µs on the 2-core machine, t == 1 0.04 (a 4-tensor MLP's step is about 80)
        return PythonCodePrinter._print_Relational(self, expr)

    def _print_Mod(self, expr):
        return f"numpy.mod({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_ColMeanOfRows(self, expr):  # the runtime's (runtime/axes.py AxisTable.inputs)
        return f"_col_mean_of_rows({self._print(expr.args[0])})"

    def _print_RowMeanOfCols(self, expr):
        return f"_row_mean_of_cols({self._print(expr.args[0])})"

    def _print_erf(self, expr):
        # numpy has no erf (NumPyPrinter's math.erf takes no array): math.erf elementwise, a
        # float64 scalar for a scalar (the [()]) and an array over tensors for an array
        return f"numpy.vectorize(math.erf, otypes=[numpy.float64])({self._print(expr.args[0])})[()]"


def assignment_lines(printer, pairs, indent: str = "") -> list[str]:
    return [f"{indent}{printer._print(s)} = {printer.doprint(e)}" for s, e in pairs]


__all__ = ["KernelPrinter", "HostPrinter", "DTYPES", "ROW_RUN", "COL_RUN", "assignment_lines", "TensorSum"]
