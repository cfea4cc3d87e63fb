"""tanh, sinh, cosh, atan, atan2, erf, sin, cos in specs: CPU kernels, host and per-tensor stages, printers.

Each function's spec (tests/_elementwise.py) uses it per element, in the host stage and in
the per-tensor stage; its CPU kernels run 20 steps beside the reference oracle and a
hand-written numpy step, float32 and float64. A float32 kernel that uses only the
per-element form computes in float32: no double in its CPU inner loop, no ``.f64`` in its
PTX (libdevice's single-precision function, inlined). The CUDA kernels run under the
simulator in tests/cuda_sim/test_elementwise_functions_cuda.py.
"""
import math
import re
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sympy

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optgen  # noqa: E402
from optgen.bench import ir as IR  # noqa: E402
from optgen.compiler import compile_spec  # noqa: E402
from optgen.compiler.cuda import CudaPrinter  # noqa: E402
from optgen.compiler.driver import load_module  # noqa: E402
from optgen.compiler.printers import HostPrinter, KernelPrinter  # noqa: E402
from optgen.spec import SpecError  # noqa: E402

from _elementwise import FUNCTIONS, hand_step, hypers_of, spec_using  # noqa: E402
from _sidebyside import Numpy, seed_of, trajectory  # noqa: E402

DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
x, y = sympy.symbols("x y", real=True)


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_thread_module):
    """Tiny tensors: one Numba thread for the whole module (see conftest)."""


def _call(name, *args):
    return sympy.atan2(*args) if name == "atan2" else getattr(sympy, name)(args[0])


@DTYPES
@pytest.mark.parametrize("name", FUNCTIONS)
def test_cpu_kernels_match_the_oracle_and_numpy_by_hand(name, dtype):
    hypers = hypers_of(name)

    def by_hand(params, grads, state, t):
        return hand_step(name, params, grads, state, t, hypers)
    trajectory(spec_using(name), hypers, dtype, lambda p: Numpy(by_hand, p), steps=20,
               seed=seed_of(f"{name}-{np.dtype(dtype)}"), label=f"fn_{name}")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_kernels_print_math_and_the_host_and_tensor_stages_numpy(name):
    args = "x, y" if name == "atan2" else "x"
    expr = _call(name, x, y)
    assert KernelPrinter("float32").doprint(expr) == f"math.{name}({args})"  # numba: float32 in, float32 out
    assert CudaPrinter("float32").doprint(expr) == f"np.float32(math.{name}({args}))"
    assert CudaPrinter("float64").doprint(expr) == f"np.float64(math.{name}({args}))"
    code = compile_spec(spec_using(name), {}, "cpu").code
    assert f"math.{name}(" in code  # per element
    host = {"atan": "numpy.arctan(", "atan2": "numpy.arctan2(", "erf": "numpy.vectorize(math.erf"}
    assert code.count(host.get(name, f"numpy.{name}(")) == 2  # the host stage and the per-tensor stage


@pytest.mark.parametrize("name", FUNCTIONS)
def test_host_printer_evaluates_scalars_and_arrays_over_tensors(name):
    code = HostPrinter().doprint(_call(name, x, y))
    ns = {"numpy": np, "math": math}
    scalar = eval(code, {**ns, "x": np.float64(0.3), "y": np.float64(-0.7)})
    assert isinstance(scalar, np.float64)
    exact = float(_call(name, sympy.Float(0.3), sympy.Float(-0.7)))
    assert scalar == pytest.approx(exact, rel=1e-14)
    xs, ys = np.array([0.3, -1.5, 2.0]), np.array([-0.7, 0.25, 1.0])
    arrays = eval(code, {**ns, "x": xs, "y": ys})
    expected = [float(_call(name, sympy.Float(a), sympy.Float(b))) for a, b in zip(xs, ys)]
    np.testing.assert_allclose(arrays, expected, rtol=1e-14)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_float32_cpu_kernel_calls_the_float32_function(name):
    module = load_module(spec_using(name, per_element_only=True), {}, "cpu")
    for variant in module.VARIANTS.values():
        for p in variant.passes:
            lines = IR.inner_loop_lines(IR.kernel_ir(p.kernels["float32"], p, "float32"))
            assert lines, f"{name}: no innermost loop found"
            assert not IR.double_ops(lines), f"{name}: double in the float32 loop: {IR.double_ops(lines)[:5]}"


# libdevice's __nv_sinf/__nv_cosf reduce a huge argument (Payne-Hanek) with one float64 multiply
SINCOS_REDUCTION = re.compile(r"^(?:\.reg \.f64|cvt\.rn\.f64\.s64|mul\.f64|cvt\.rn\.f32\.f64)\b")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_float32_cuda_kernel_is_single_precision_in_ptx(name):
    import numba
    if numba.config.ENABLE_CUDASIM:
        pytest.skip("compile_ptx needs the real numba-cuda, not the simulator")
    cuda = pytest.importorskip("numba.cuda")
    module = load_module(spec_using(name, per_element_only=True), {}, "cuda")
    for variant in module.VARIANTS.values():
        for p in variant.passes:
            ptx, _ = cuda.compile_ptx(p.kernels["float32"].py_func, p.signatures["float32"], cc=(9, 0))
            f64 = [s.strip() for s in ptx.splitlines() if re.search(r"\.f64\b", s)]
            if name in ("sin", "cos"):
                f64 = [s for s in f64 if not SINCOS_REDUCTION.search(s)]
            assert not f64, f"{name}: float64 in the float32 kernel: {f64[:5]}"
            assert "call" not in re.sub(r"//.*", "", ptx).split(), f"{name}: libdevice not inlined"


def test_an_unsupported_function_names_the_file_the_equation_and_the_supported_ones(tmp_path):
    path = tmp_path / "uses_gamma.py"
    path.write_text(textwrap.dedent("""\
        import sympy
        from optgen.dsl import Spec, hyper, w, g, tanh
        lr = hyper("lr", 0.1)
        spec = Spec("uses_gamma", [(w, w - lr * tanh(g)), (w, w - lr * sympy.gamma(g))])
    """))
    with pytest.raises(SpecError) as err:
        optgen.load_spec(str(path))
    text = str(err.value)
    assert "uses_gamma.py" in text and "equation 2" in text and "unsupported function gamma" in text
    for name in ("tanh", "sinh", "cosh", "atan", "atan2", "erf", "sin", "cos", "exp", "log"):
        assert re.search(rf"\b{name}\b", text.split("supported:")[1]), name


def test_a_spec_file_imports_the_functions_from_the_dsl():
    import optgen.dsl as dsl
    for name in FUNCTIONS:
        assert name in dsl.__all__ and getattr(dsl, name) is getattr(sympy, name)
