"""Every spec's CUDA kernels, run under the CUDA simulator (or on a GPU), against the reference oracle and the CPU kernels.

Small inputs (the simulator runs every GPU thread as a Python thread): tensors of 0, 1,
odd and a few hundred elements, float32 and float64 mixed in one list (two dtype
groups, two launches per pass), a chunk size that splits the larger tensors into
several chunks and fewer blocks than chunks (the grid-stride loop), three steps.
New specs in specs/ are covered automatically through ``optgen.names()``.
"""
from pathlib import Path

import numba
import numpy as np
import pytest

import optgen
from optgen.axes import axis_reductions
from optgen.matrix import uses_matrices
from optgen.compiler.driver import load_module, option_combinations
from optgen.runtime import hypers as hyper_values
from optgen.runtime.cuda import CUDAOptimizer, create_cuda
from optgen.runtime.cuda_support import CudaUnavailableError

SIMULATOR = bool(numba.config.ENABLE_CUDASIM)
SPECS = Path(__file__).resolve().parent / "specs"  # test-only specs: reductions, every function

try:
    from numba import cuda
except ImportError:  # pragma: no cover - without numba-cuda every test here is skipped
    cuda = None

# tolerance per dtype for a few steps: float32 kernels against a float64 oracle (and
# against float32 CPU kernels, which round differently: no FMA contraction on the CPU)
TOL = {np.dtype(np.float32): dict(rtol=2e-5, atol=2e-6), np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12)}
LAUNCH = dict(block=32, chunk=64, max_blocks=3)
SHAPES = [((0,), np.float32), ((1,), np.float64), ((3, 5), np.float32), ((300,), np.float32),
          ((7,), np.float64), ((1,), np.float32), ((130,), np.float64)]
STEPS = 3


def _spec_ids():
    out = []
    for name in optgen.names() + [str(SPECS / "lamb_like.py"), str(SPECS / "mathy.py")]:
        spec = optgen.load_spec(name)
        if axis_reductions(spec):  # rows and columns, not these vectors: test_axis_reductions_cuda.py
            continue
        if uses_matrices(spec):  # matrices only, not these vectors: test_matrix_steps_cuda.py
            continue
        for options in option_combinations(spec):
            label = "-".join([spec.name, *sorted(k for k, v in options.items() if v)])
            out.append(pytest.param(name, options, id=label))
    return out


def _assert_close(actual, expected, dtype, what):
    scale = max(1.0, float(np.max(np.abs(expected)))) if np.size(expected) else 1.0
    t = TOL[np.dtype(dtype)]
    np.testing.assert_allclose(actual, expected, rtol=t["rtol"], atol=t["atol"] * scale, err_msg=what)


@pytest.mark.parametrize("name,options", _spec_ids())
def test_cuda_kernels_match_reference_and_cpu(name, options):
    spec = optgen.load_spec(name)
    rng = np.random.default_rng(sum(map(ord, spec.name)) + 7 * len(options))
    host = [rng.standard_normal(shape).astype(dt) for shape, dt in SHAPES]
    cpu_params = [w.copy() for w in host]
    ref = optgen.reference(spec, [w.copy() for w in host], **options)
    cpu = optgen.create(spec, cpu_params, **options)
    dev = [cuda.to_device(w) for w in host]
    opts, values = hyper_values.resolve(spec, options)
    gpu = create_cuda(spec, dev, opts, values, **LAUNCH)
    assert len(gpu.groups) == 2
    for _ in range(STEPS):
        grads = [rng.standard_normal(shape).astype(dt) for shape, dt in SHAPES]
        ref.step(grads)
        cpu.step(grads)
        gpu.step([cuda.to_device(g) for g in grads])
    sd, cpu_sd = gpu.state_dict(), cpu.state_dict()
    assert sd["t"] == STEPS
    for i, ((shape, dt), d) in enumerate(zip(SHAPES, dev)):
        w = d.copy_to_host()
        assert w.dtype == dt and w.shape == shape
        _assert_close(w, ref.params[i], dt, f"{spec.name} {options} w[{i}] vs reference")
        _assert_close(w, cpu_params[i], dt, f"{spec.name} {options} w[{i}] vs CPU kernel")
        for s in gpu.states:
            _assert_close(sd["states"][i][s], ref.states[i][s], dt, f"{spec.name} state {s}[{i}] vs reference")
            _assert_close(sd["states"][i][s], cpu_sd["states"][i][s], dt, f"{spec.name} state {s}[{i}] vs CPU")


class CudaArrayInterface:
    """Stands for a PyTorch CUDA tensor or a CuPy array: an object with only ``__cuda_array_interface__``.

    On a GPU it exposes a numba device array's memory; under the simulator, where device
    memory is host memory, a numpy array's buffer. Either way an in-place update through
    it shows in the underlying array, and a copy would not.
    """

    def __init__(self, array, readonly=False):
        self.array, self.readonly = array, readonly

    @property
    def __cuda_array_interface__(self):
        ai = (self.array.__array_interface__ if isinstance(self.array, np.ndarray)
              else self.array.__cuda_array_interface__)
        return {"shape": ai["shape"], "typestr": ai["typestr"], "strides": ai["strides"],
                "data": (ai["data"][0], self.readonly), "version": 3, "stream": None}


def foreign(host: np.ndarray):
    """(an object with only __cuda_array_interface__ over a copy of host, a function reading it back)."""
    if SIMULATOR:
        buf = host.copy()
        return CudaArrayInterface(buf), lambda: buf
    dev = cuda.to_device(host)
    return CudaArrayInterface(dev), dev.copy_to_host


def test_cuda_array_interface_inputs_are_updated_in_place_without_copies():
    rng = np.random.default_rng(3)
    host = [rng.standard_normal(n).astype(np.float32) for n in (5, 200, 1)]
    q = [w.copy() for w in host]
    grads = [[rng.standard_normal(w.shape).astype(np.float32) for w in host] for _ in range(STEPS)]
    params = [foreign(w) for w in host]
    opt = optgen.create("adam", [p for p, _ in params], device="cuda", lr=0.01)
    ref = optgen.reference("adam", q, lr=0.01)
    for g in grads:
        opt.step([foreign(x)[0] for x in g])
        ref.step(g)
    for (_, read), r in zip(params, q):  # the caller's own buffers moved
        _assert_close(read(), r, np.float32, "in place through __cuda_array_interface__")


def test_gradient_table_is_uploaded_again_only_when_an_address_changes():
    rng = np.random.default_rng(4)
    dev = [cuda.to_device(rng.standard_normal(n)) for n in (3, 70)]
    grads = [cuda.to_device(rng.standard_normal(n)) for n in (3, 70)]
    opt = optgen.create("adam", dev, device="cuda")
    opt.step(grads)
    table = opt.groups[0].tables["g"]
    assert opt.bytes_per_step() == (3 + 70) * 8 * 7  # Adam: read w, m, v, g; write w, m, v
    opt.step(grads)
    assert opt.groups[0].tables["g"] is table  # same gradient buffers: nothing crossed
    opt.step([cuda.to_device(g.copy_to_host()) for g in grads])
    assert opt.groups[0].tables["g"] is not table


@pytest.mark.parametrize("name", ["adam", "nadam", "lamb"])
def test_state_dict_round_trip_resumes_bit_identically(name):
    """Per-element states on the device, host states (NAdam's product of momentum factors), t."""
    if name not in optgen.names():
        pytest.skip(f"no spec {name!r}")
    spec = optgen.load_spec(name)
    rng = np.random.default_rng(5)
    host = [rng.standard_normal(n).astype(np.float32) for n in (9, 150)]
    grads = [[rng.standard_normal(w.shape).astype(np.float32) for w in host] for _ in range(4)]
    a = [cuda.to_device(w) for w in host]
    opt = create_cuda(spec, a, *hyper_values.resolve(spec, {}), **LAUNCH)
    for g in grads[:2]:
        opt.step([cuda.to_device(x) for x in g])
    sd = opt.state_dict()
    b = [cuda.to_device(x.copy_to_host()) for x in a]
    other = create_cuda(spec, b, *hyper_values.resolve(spec, {}), **LAUNCH)
    other.load_state_dict(sd)
    assert other.t == 2 and other.host_states == opt.host_states
    for g in grads[2:]:
        opt.step([cuda.to_device(x) for x in g])
        other.step([cuda.to_device(x) for x in g])
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.copy_to_host(), y.copy_to_host())


def test_default_launch_configuration_runs():
    """One chunk per tensor, 256 threads: the configuration a GPU gets."""
    rng = np.random.default_rng(6)
    host = [rng.standard_normal(n).astype(np.float32) for n in (1, 33)]
    q = [w.copy() for w in host]
    dev = [cuda.to_device(w) for w in host]
    opt, ref = optgen.create("adam", dev, device="cuda"), optgen.reference("adam", q)
    g = [rng.standard_normal(w.shape).astype(np.float32) for w in host]
    opt.step([cuda.to_device(x) for x in g])
    ref.step(g)
    for d, r in zip(dev, q):
        _assert_close(d.copy_to_host(), r, np.float32, "default launch")


@pytest.mark.parametrize("make,error,message", [
    (lambda: [np.zeros(3, np.float32)], TypeError, r"params\[0\] is a numpy array in host memory"),
    (lambda: [cuda.to_device(np.zeros(3, np.int32))], TypeError, "dtype int32"),
    (lambda: [CudaArrayInterface(cuda.to_device(np.zeros((4, 4), np.float32))[:, 1]
                                 if not SIMULATOR else np.zeros((4, 4), np.float32)[:, 1])],
     ValueError, "not C-contiguous"),
    (lambda: [CudaArrayInterface(foreign(np.zeros(3, np.float32))[0].array, readonly=True)], ValueError, "read-only"),
    (lambda: [object()], TypeError, "no __cuda_array_interface__"),
    (lambda: cuda.to_device(np.zeros(3, np.float32)), TypeError, "not one array"),
])
def test_bad_params_are_refused_clearly(make, error, message):
    with pytest.raises(error, match=message):
        optgen.create("adam", make(), device="cuda")


def test_bad_gradients_are_refused_and_nothing_runs():
    host = np.ones(4, np.float32)
    dev = [cuda.to_device(host)]
    opt = optgen.create("adam", dev, device="cuda")
    with pytest.raises(ValueError, match=r"grads\[0\] has shape \(5,\)"):
        opt.step([cuda.to_device(np.ones(5, np.float32))])
    with pytest.raises(TypeError, match=r"grads\[0\] has dtype float64"):
        opt.step([cuda.to_device(np.ones(4))])
    with pytest.raises(TypeError, match="numpy array in host memory"):
        opt.step([np.ones(4, np.float32)])
    assert opt.t == 0
    np.testing.assert_array_equal(dev[0].copy_to_host(), host)


@pytest.mark.parametrize("launch,error,message", [
    (dict(block=0), ValueError, r"block=0 must be an integer from 1 to 1024"),
    (dict(block=1025), ValueError, r"block=1025 must be an integer from 1 to 1024"),
    (dict(block=64.0), ValueError, r"block=64.0 must be an integer"),
    (dict(block=True), ValueError, r"block=True must be an integer"),
    (dict(chunk=0), ValueError, r"chunk=0 must be a positive integer"),
    (dict(max_blocks=0), ValueError, r"max_blocks=0 must be an integer from 1 to 65535, or None"),
    (dict(max_blocks=70000), ValueError, r"max_blocks=70000"),
    (dict(threads=64), TypeError, "unknown launch option"),
])
def test_launch_options_are_checked(launch, error, message):
    spec = optgen.load_spec("adam")
    with pytest.raises(error, match=message):
        create_cuda(spec, [cuda.to_device(np.ones(2))], *hyper_values.resolve(spec, {}), **launch)


def test_launch_shapes_that_are_not_powers_of_two_are_accepted():
    spec = optgen.load_spec("adam")
    opt = create_cuda(spec, [cuda.to_device(np.ones(2))], *hyper_values.resolve(spec, {}),
                      block=np.int64(48), chunk=7, max_blocks=3)
    assert opt.launch == {"block": 48, "chunk": 7, "max_blocks": 3}


def test_module_knows_whether_it_runs_on_the_simulator():
    module = load_module("adam", {}, "cuda")
    assert module.SIMULATOR == SIMULATOR and module.TARGET == "cuda"
    assert isinstance(optgen.create("adam", [cuda.to_device(np.ones(2))], device="cuda"), CUDAOptimizer)
    assert CudaUnavailableError  # importable without a GPU


def test_spec_names_cannot_clash_with_the_kernels_own_variables():
    """Hyperparameters named like loop variables (k, c, i, stop, tid) keep their values."""
    from optgen.dsl import Spec, hyper, state, w, g
    k, c, i, stop, tid = (hyper(n, v, domain="positive") for n, v in
                          [("k", 0.5), ("c", 0.25), ("i", 2.0), ("stop", 0.125), ("tid", 3.0)])
    m = state("m", 0)
    spec = Spec("clash", [(m, k * m + c * g + i * stop), (w, w - tid * 1e-2 * m)], doc="names")
    rng = np.random.default_rng(8)
    host = [rng.standard_normal(n) for n in (1, 100)]
    q = [w.copy() for w in host]
    dev = [cuda.to_device(w) for w in host]
    gpu = create_cuda(spec, dev, *hyper_values.resolve(spec, {}), **LAUNCH)
    ref = optgen.reference(spec, q)
    for _ in range(2):
        grads = [rng.standard_normal(w.shape) for w in host]
        gpu.step([cuda.to_device(x) for x in grads])
        ref.step(grads)
    for d, r in zip(dev, q):
        _assert_close(d.copy_to_host(), r, np.float64, "names")
