"""The printers: typed literals, power rewrites, branches; float32 stays float32."""
import math

import numba
import numpy as np
import pytest
import sympy

from optgen.compiler.printers import HostPrinter, KernelPrinter

x, y = sympy.symbols("x y", real=True)


def compile_printed(expr, dtype):
    """Compile the printed expression as a numba function of (x, y)."""
    src = f"def f(x, y):\n    return {KernelPrinter(dtype).doprint(expr)}\n"
    ns = {"math": math, "np": np}
    exec(src, ns)
    fn = numba.njit(ns["f"])
    out = fn(np.dtype(dtype).type(1.7), np.dtype(dtype).type(-0.3))
    (sig,) = fn.signatures
    return out, fn.overloads[sig].signature.return_type


EXPRESSIONS = [
    0.5 * x + 2 * y,
    x**2 + y**3,
    sympy.sqrt(x) / (y**2 + sympy.Rational(1, 3)),
    1 / x + x**-2,
    sympy.Max(x, y, 0) - sympy.Min(x, 1),
    sympy.Abs(y) * sympy.sign(y),
    sympy.exp(-x) + sympy.log(x),
    sympy.Piecewise((x, x > y), (y * 3, True)),
    x**sympy.Rational(3, 2),
]


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_printed_code_computes_the_expression_in_the_dtype(expr, dtype):
    out, rettype = compile_printed(expr, dtype)
    assert str(rettype) == dtype
    exact = float(expr.subs({x: 1.7, y: -0.3}))
    rtol = 1e-6 if dtype == "float32" else 1e-14
    assert out == pytest.approx(exact, rel=rtol)


def test_small_integer_powers_are_products_and_half_is_sqrt():
    p = KernelPrinter("float32")
    assert p.doprint(x**2) == "(x*x)"
    assert p.doprint(sympy.sqrt(x)) == "math.sqrt(x)"
    assert "np.float32(0.5)" in p.doprint(x / 2)


def test_host_printer_gives_nan_not_an_exception_in_an_untaken_branch():
    code = HostPrinter().doprint(sympy.sqrt(x - 4))
    with np.errstate(invalid="ignore"):
        value = eval(code, {"numpy": np, "x": np.float64(1.0)})
    assert math.isnan(value)


def test_unknown_dtype_is_refused():
    with pytest.raises(ValueError, match="unsupported dtype"):
        KernelPrinter("float16")
