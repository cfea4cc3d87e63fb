"""Matrix steps on the CUDA target (runtime/cuda_matrix.py), under the simulator or on a GPU.

Muon's kernels on the device, its Newton–Schulz step between them: every option of the spec on
2-D (tall, wide, square) and 4-D tensors in float32 and float64, against the float64 oracle and
the CPU runtime; the per-tensor shape values (rows, cols) the runtime writes once; a checkpoint;
what is refused. Under the simulator the step goes through the host; on a GPU with torch it runs
on torch's matmul on the device (tests/test_torch_cuda.py trains with it there).
"""
import numpy as np
import pytest

import optgen
from optgen.declarations import SpecError
from optgen.runtime import hypers as hyper_values
from optgen.runtime.cuda import create_cuda
from optgen.torch.torch_forms import muon_spec
from optgen.compiler.driver import option_combinations

from conftest import RUNS  # noqa: F401  (the directory's skip rule)

try:
    from numba import cuda
except ImportError:  # pragma: no cover
    cuda = None

pytestmark = pytest.mark.skipif(not RUNS, reason="needs NUMBA_ENABLE_CUDASIM=1 or a GPU")

LAUNCH = dict(block=32, chunk=16, max_blocks=3)  # several chunks per tensor
SHAPES = [((9, 4), np.float32), ((4, 11), np.float32), ((6, 6), np.float64), ((6, 3, 2, 2), np.float64),
          ((13, 7), np.float32)]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
STEPS = 4


def _run(spec, options, seed=0):
    rng = np.random.default_rng(seed)
    host = [rng.standard_normal(shape).astype(dt) for shape, dt in SHAPES]
    ref = optgen.reference(spec, [w.astype(np.float64) for w in host], lr=0.05, **options)
    cpu = optgen.create(spec, [w.copy() for w in host], lr=0.05, **options)
    dev = [cuda.to_device(w) for w in host]
    gpu = create_cuda(spec, dev, *hyper_values.resolve(spec, {"lr": 0.05, **options}), **LAUNCH)
    for _ in range(STEPS):
        grads = [rng.standard_normal(shape).astype(dt) for shape, dt in SHAPES]
        ref.step([x.astype(np.float64) for x in grads])
        cpu.step(grads)
        gpu.step([cuda.to_device(x) for x in grads])
    return dev, ref, cpu, gpu


@pytest.mark.parametrize("options", option_combinations(optgen.load_spec("muon")),
                         ids=lambda o: "-".join(sorted(k for k, v in o.items() if v)) or "plain")
def test_muon_on_the_device_matches_the_oracle_and_the_cpu(options):
    dev, ref, cpu, gpu = _run(optgen.load_spec("muon"), options)
    assert len(gpu.groups) == 2  # a float32 and a float64 group, each with its matrix step
    for i, ((shape, dt), d) in enumerate(zip(SHAPES, dev)):
        w = d.copy_to_host()
        assert w.shape == shape and w.dtype == dt
        np.testing.assert_allclose(w, ref.params[i], **TOL[dt], err_msg=f"w[{i}] vs the oracle")
        np.testing.assert_allclose(w, cpu.params[i], **TOL[dt], err_msg=f"w[{i}] vs the CPU runtime")
    for mine, theirs in zip(gpu.state_dict()["states"], cpu.state_dict()["states"]):
        assert set(mine) == set(theirs) == {"momentum_buffer"}  # the step's array is scratch, not a state
        np.testing.assert_allclose(mine["momentum_buffer"], theirs["momentum_buffer"], rtol=1e-5, atol=1e-7)


def test_the_shape_factor_reads_each_tensors_own_rows_and_cols():
    """match_rms_adamw scales by 0.2 sqrt(max(rows, cols)): each tensor's own, from the columns the
    runtime wrote once (a mix-up of two tensors' shapes moves the result far beyond rounding)."""
    dev, ref, _, gpu = _run(optgen.load_spec("muon"), {"match_rms_adamw": True, "nesterov": True}, seed=1)
    for gr in gpu.groups:
        table = gr.values.copy_to_host()
        cols = [np.prod(sh[1:]) for sh in gr.shapes]
        np.testing.assert_array_equal(table[:, 0], cols)
        np.testing.assert_array_equal(table[:, 1], [sh[0] for sh in gr.shapes])
    for i, ((_, dt), d) in enumerate(zip(SHAPES, dev)):
        np.testing.assert_allclose(d.copy_to_host(), ref.params[i], **TOL[dt])


def test_a_bfloat16_iteration_on_the_device_is_the_cpus():
    """optgen.torch.Muon's default spec (torch's bfloat16 iteration): the device runs the same
    iteration as the CPU runtime, so the two agree to the elementwise passes' rounding."""
    spec = muon_spec((3.4445, -4.775, 2.0315), 5, 1e-7, "bfloat16")
    dev, ref, cpu, _ = _run(spec, {"nesterov": True})
    for i, ((_, dt), d) in enumerate(zip(SHAPES, dev)):
        np.testing.assert_allclose(d.copy_to_host(), cpu.params[i], **TOL[dt])
        scale = float(np.abs(ref.params[i]).max())
        assert np.abs(d.copy_to_host() - ref.params[i]).max() < 3e-2 * scale  # bfloat16's rounding, no more


def test_a_checkpoint_resumes_bit_identically():
    spec = optgen.load_spec("muon")
    rng = np.random.default_rng(4)
    host = [rng.standard_normal(s).astype(np.float32) for s in ((5, 8), (8, 5))]
    grads = [[rng.standard_normal(w.shape).astype(np.float32) for w in host] for _ in range(4)]
    a = [cuda.to_device(w) for w in host]
    opt = create_cuda(spec, a, *hyper_values.resolve(spec, {}), **LAUNCH)
    for g in grads[:2]:
        opt.step([cuda.to_device(x) for x in g])
    b = [cuda.to_device(x.copy_to_host()) for x in a]
    other = create_cuda(spec, b, *hyper_values.resolve(spec, {}), **LAUNCH)
    other.load_state_dict(opt.state_dict())
    for g in grads[2:]:
        opt.step([cuda.to_device(x) for x in g])
        other.step([cuda.to_device(x) for x in g])
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.copy_to_host(), y.copy_to_host())


def test_a_one_dimensional_tensor_is_refused_naming_the_equation():
    spec = optgen.load_spec("muon")
    with pytest.raises(SpecError, match=r"equation 3 .*shape \(5,\).*two or more dimensions"):
        create_cuda(spec, [cuda.to_device(np.zeros(5, np.float32))], *hyper_values.resolve(spec, {}))


MIXED = [((9, 4), np.float32), ((7,), np.float32), ((6, 3, 2, 2), np.float64), ((5,), np.float64),
         ((4, 11), np.float32)]


def test_muon_optax_splits_matrices_and_vectors_on_the_device():
    """A per-tensor option on the CUDA target (muon_optax's is_matrix): each tensor's branch is
    chosen from its shape, one CUDA optimizer per value, stepped together: Muon's iteration on the
    matrices, Adam on the vectors, against the oracle and the CPU runtime; its checkpoint (the
    states of each tensor's branch, by position) goes to the CPU runtime and back."""
    spec = optgen.load_spec("muon_optax")
    rng = np.random.default_rng(6)
    host = [rng.standard_normal(shape).astype(dt) for shape, dt in MIXED]
    ref = optgen.reference(spec, [w.astype(np.float64) for w in host], lr=0.05)
    cpu = optgen.create(spec, [w.copy() for w in host], lr=0.05)
    dev = [cuda.to_device(w) for w in host]
    gpu = optgen.create(spec, dev, device="cuda", lr=0.05)
    assert len(gpu.parts) == 2
    for _ in range(STEPS):
        grads = [rng.standard_normal(shape).astype(dt) for shape, dt in MIXED]
        ref.step([x.astype(np.float64) for x in grads])
        cpu.step(grads)
        gpu.step([cuda.to_device(x) for x in grads])
    for i, ((shape, dt), d) in enumerate(zip(MIXED, dev)):
        np.testing.assert_allclose(d.copy_to_host(), ref.params[i], **TOL[dt], err_msg=f"w[{i}] vs the oracle")
        np.testing.assert_allclose(d.copy_to_host(), cpu.params[i], **TOL[dt], err_msg=f"w[{i}] vs the CPU")
    sd = gpu.state_dict()
    assert [sorted(st) for st in sd["states"]] == [sorted(st) for st in cpu.state_dict()["states"]]
    again = optgen.create(spec, [cuda.to_device(d.copy_to_host()) for d in dev], device="cuda", lr=0.05)
    again.load_state_dict(sd)
    grads = [rng.standard_normal(shape).astype(dt) for shape, dt in MIXED]
    gpu.step([cuda.to_device(x) for x in grads])
    again.step([cuda.to_device(x) for x in grads])
    for a, b in zip(gpu.params, again.params):
        np.testing.assert_array_equal(a.copy_to_host(), b.copy_to_host())


def test_a_per_tensor_option_on_the_device_takes_only_propagate():
    spec = optgen.load_spec("muon_optax")
    with pytest.raises(NotImplementedError, match=r"nonfinite='skip' is implemented for device='cpu' only"):
        optgen.create(spec, [cuda.to_device(np.zeros((3, 4), np.float32))], device="cuda", nonfinite="skip")
