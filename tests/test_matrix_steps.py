"""Matrix steps (optgen/matrix.py): how the stager places them, what `optgen show` says, what is refused.

The numbers come from the float64 oracle (optgen/reference.py evaluates the equations one at a
time, the matrix step on the whole tensor, without the compiler's passes) and from a hand
derivation; Muon against torch.optim.Muon is tests/test_muon.py.
"""
from __future__ import annotations

import numpy as np
import pytest

import optgen
from optgen.cli import main
from optgen.compiler.driver import build, compile_spec
from optgen.declarations import SpecError
from optgen.dsl import Spec, cols, g, hyper, newton_schulz, norm, rows, sqrt, state, var, w
from optgen.registry import load_spec

lr = hyper("lr", 0.1, domain="positive", doc="step size")
m = state("m", 0)
o, d = var("o"), var("d")

#: a sum of the step's result: the pass after the step sums it, one more pass writes w
NORMALISED = Spec("ns_normalised", [
    (m, 0.5 * m + g),
    (o, newton_schulz(m + g, steps=3)),
    (d, o * sqrt(rows * cols) / norm(o)),
    (w, w - lr * d),
])


def _passes(spec):
    (variant,) = compile_spec(spec).variants.values()
    return variant


def test_the_step_sits_between_fused_passes():
    v = _passes(NORMALISED)
    assert [tuple(p.stores) for p in v.passes] == [("m", "ns_1"), (), ("w",)]
    assert [[s.name for s, _ in after] for after in v.matrix_steps] == [["ns_1"]]
    assert "ns_1" in v.passes[1].loads and [s.name for s, _ in v.passes[1].reductions] == ["sum_1"]
    assert "ns_1" in v.passes[2].loads


def test_a_spec_that_sums_the_result_matches_the_oracle():
    rng = np.random.default_rng(0)
    shapes = [(4, 7), (6, 2, 3)]
    params = [rng.standard_normal(s) for s in shapes]
    mirror = [p.copy() for p in params]
    opt, ref = optgen.create(NORMALISED, params), optgen.reference(NORMALISED, mirror)
    for _ in range(20):
        grads = [rng.standard_normal(s) for s in shapes]
        opt.step(grads)
        ref.step([gr.copy() for gr in grads])
        for a, b in zip(params, mirror):
            np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


def test_show_passes_puts_the_matrix_step_between_the_passes(capsys):
    assert main(["show", "muon", "--stage", "passes"]) == 0
    lines = [ln.strip() for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    where = [i for i, ln in enumerate(lines) if ln.startswith(("pass 0", "after pass 0: matrix step", "pass 1"))]
    assert [lines[i].split(":")[0] for i in where] == ["pass 0", "after pass 0", "pass 1"]
    assert "newton_schulz(ns_1, steps=5" in lines[where[1]]


def test_cuda_builds_muon_and_muon_optax():
    """The CUDA target runs matrix steps (runtime/cuda_matrix.py) and per-tensor options (muon_optax's
    is_matrix: one module per value, as on the CPU); tests/cuda_sim/test_matrix_steps_cuda.py runs them."""
    assert [s for _, s in build(["muon", "muon_optax"], targets=("cuda",), check=True)] == ["current"] * 20
    spec = load_spec("muon_optax")
    assert "MatrixStep(array=" in compile_spec(spec, {"is_matrix": True}, target="cuda").code
    assert "MatrixStep(" not in compile_spec(spec, {"is_matrix": False}, target="cuda").code  # the vectors' Adam


def test_rows_and_cols_are_the_first_columns_of_every_cuda_variant():
    """The runtime writes each tensor's rows and cols once, at the columns the compiler reserves
    for them in every variant (no kernel writes those)."""
    spec = Spec("shape_scaled", [(w, w - lr * sqrt(rows / cols) * g)])
    b = compile_spec(spec, target="cuda")
    assert "columns=('cols', 'rows'" in b.code


@pytest.mark.parametrize("kwargs, allowed", [({"steps": 0}, "an integer from 1 to 99"),
                                             ({"coefficients": (1.0, 2.0)}, "three finite numbers"),
                                             ({"eps": 0.0}, "a positive number")])
def test_bad_constants_are_refused(kwargs, allowed):
    with pytest.raises(SpecError, match=allowed):
        newton_schulz(g, **kwargs)


def test_a_step_inside_another_is_refused():
    spec = Spec("nested", [(w, w - lr * newton_schulz(newton_schulz(g)))])
    with pytest.raises(SpecError, match="newton_schulz inside another"):
        compile_spec(spec)


def test_the_cuda_matrix_step_knows_torchs_stream_in_either_binding():
    """On a GPU the step runs on torch's current stream; kernels on that stream (optgen.torch's
    numba view of it, whose handle is a ctypes pointer or a cuda-python CUstream) or on the
    default stream need no synchronisation, any other stream does (runtime/cuda_matrix.py)."""
    import ctypes
    import types
    from optgen.runtime.cuda_matrix import _is_torchs_stream

    class CUstream:  # cuda-python's handle: an int() of the address
        def __init__(self, address):
            self.address = address

        def __int__(self):
            return self.address

    fake_torch = types.SimpleNamespace(cuda=types.SimpleNamespace(
        current_stream=lambda: types.SimpleNamespace(cuda_stream=4096)))
    stream = types.SimpleNamespace
    assert _is_torchs_stream(0, fake_torch)
    assert _is_torchs_stream(stream(handle=ctypes.c_void_p(4096)), fake_torch)
    assert _is_torchs_stream(stream(handle=CUstream(4096)), fake_torch)
    assert not _is_torchs_stream(stream(handle=ctypes.c_void_p(8192)), fake_torch)
    assert not _is_torchs_stream(stream(handle=None), fake_torch)
