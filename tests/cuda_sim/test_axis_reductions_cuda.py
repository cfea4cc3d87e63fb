"""Axis reductions on the CUDA target (runtime/cuda_axes.py), under the simulator or on a GPU.

Adafactor in both forms (torch.optim's and optax's, every option), on 1-D (the unfactored branch),
2-D, 3-D and 4-D tensors in float32 and float64, against the float64 oracle (which evaluates the
row and column means from the equations alone) and the CPU runtime. The chunks are made small,
so that matrices are split over several blocks (each later chunk's column sums its own), several
small matrices share one, and blocks take several chunks; a checkpoint resumes bit-identically.
"""
import functools

import numpy as np
import pytest

import optgen
from optgen.compiler.driver import option_combinations
from optgen.runtime import axes as axis_layout
from optgen.runtime import hypers as hyper_values
from optgen.runtime.cuda import create_cuda
from optgen.runtime.per_tensor import PerTensorOptions

from conftest import RUNS  # noqa: F401  (the directory's skip rule)

try:
    from numba import cuda
except ImportError:  # pragma: no cover
    cuda = None

pytestmark = pytest.mark.skipif(not RUNS, reason="needs NUMBA_ENABLE_CUDASIM=1 or a GPU")

LAUNCH = dict(block=8, chunk=16, max_blocks=3)  # fewer threads than a row's columns, and than its rows
SHAPES = [((7,), np.float32), ((40, 3), np.float32), ((4, 11), np.float64), ((3, 5, 6), np.float32),
          ((2, 2, 7, 5), np.float64), ((33, 9), np.float64)]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}
STEPS = 3


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    """Chunks of about 64 elements, runs of at least 4 rows: the (40, 3) and (33, 9) matrices are
    split over several chunks, the (3, 5, 6) batch is one chunk per matrix."""
    monkeypatch.setattr(axis_layout, "CHUNK_ELEMENTS", 64)
    monkeypatch.setattr(axis_layout, "MIN_CHUNK_ROWS", 4)


def _create(spec, dev, lr, **given):
    options, values = hyper_values.resolve(spec, {"lr": lr, **given})
    return PerTensorOptions(spec, dev, options, values, "propagate", functools.partial(create_cuda, **LAUNCH),
                            "cuda")


def _run(name, options, seed=0, steps=STEPS):
    spec = optgen.load_spec(name)
    rng = np.random.default_rng(seed)
    host = [rng.standard_normal(shape).astype(dt) for shape, dt in SHAPES]
    ref = optgen.reference(spec, [w.astype(np.float64) for w in host], lr=0.05, **options)
    cpu = optgen.create(spec, [w.copy() for w in host], lr=0.05, **options)
    dev = [cuda.to_device(w) for w in host]
    gpu = _create(spec, dev, 0.05, **options)
    for _ in range(steps):
        grads = [rng.standard_normal(shape).astype(dt) for shape, dt in SHAPES]
        ref.step([x.astype(np.float64) for x in grads])
        cpu.step(grads)
        gpu.step([cuda.to_device(x) for x in grads])
    return dev, ref, cpu, gpu


def test_the_layout_splits_and_shares_matrices():
    """The fixture's chunks reach every case of the kernel: a matrix over several chunks, and
    one chunk over several matrices (else the tests below would not check those)."""
    table = axis_layout.AxisTable([s for s, _ in SHAPES[1:]], np.float64, 1, 2, {})
    assert table.n_part_sums  # a later chunk of a split matrix, with column sums of its own
    rows_per_chunk = (table.chunk_stop - table.chunk_start) // table.table[table.chunk_tensor, 1]
    assert (rows_per_chunk > table.table[table.chunk_tensor, 0]).any()  # a chunk of whole matrices


def _combinations(name):  # every option but factored, which each tensor's shape sets
    return [{k: v for k, v in o.items() if k != "factored"}
            for o in option_combinations(optgen.load_spec(name)) if o["factored"]]


@pytest.mark.parametrize("name, options", [(n, o) for n in ("adafactor", "adafactor_optax") for o in _combinations(n)],
                         ids=lambda x: x if isinstance(x, str) else "-".join(sorted(k for k, v in x.items() if v))
                         or "plain")
def test_adafactor_on_the_device_matches_the_oracle_and_the_cpu(name, options):
    dev, ref, cpu, gpu = _run(name, options)
    for i, ((shape, dt), d) in enumerate(zip(SHAPES, dev)):
        w = d.copy_to_host()
        assert w.shape == shape and w.dtype == dt
        np.testing.assert_allclose(w, ref.params[i], **TOL[dt], err_msg=f"w[{i}] vs the oracle")
        np.testing.assert_allclose(w, cpu.params[i], **TOL[dt], err_msg=f"w[{i}] vs the CPU runtime")
    mine, theirs = gpu.state_dict()["states"], cpu.state_dict()["states"]
    for i, (a, b) in enumerate(zip(mine, theirs)):
        assert set(a) == set(b) and all(a[s].shape == b[s].shape for s in a)  # rows (.., R, 1), columns (.., 1, C)
        for s in a:
            np.testing.assert_allclose(a[s], b[s], rtol=1e-5, atol=1e-7, err_msg=f"states[{i}][{s!r}]")


def test_a_checkpoint_resumes_bit_identically():
    spec = optgen.load_spec("adafactor_optax")
    rng = np.random.default_rng(3)
    host = [rng.standard_normal(shape).astype(dt) for shape, dt in SHAPES]
    grads = [[rng.standard_normal(shape).astype(dt) for shape, dt in SHAPES] for _ in range(4)]
    straight = [cuda.to_device(w) for w in host]
    a = _create(spec, straight, 0.05, use_momentum=True)
    for gs in grads:
        a.step([cuda.to_device(x) for x in gs])
    first = [cuda.to_device(w) for w in host]
    b = _create(spec, first, 0.05, use_momentum=True)
    for gs in grads[:2]:
        b.step([cuda.to_device(x) for x in gs])
    resumed_params = [cuda.to_device(d.copy_to_host()) for d in first]
    c = _create(spec, resumed_params, 0.05, use_momentum=True)
    c.load_state_dict(b.state_dict())
    for gs in grads[2:]:
        c.step([cuda.to_device(x) for x in gs])
    for x, y in zip(straight, resumed_params):
        np.testing.assert_array_equal(x.copy_to_host(), y.copy_to_host())


WITH_AXIS_REDUCTIONS = {
    # the sum in a pass that adds to row sums (over runs of rows: partials of their own)
    "rows_and_all": "r = state('r', 0, shape='row')\ns = var('s')\n"
                    "spec = Spec('rows_and_all', [(s, global_sum(g**2)), (r, 0.5 * r + row_mean(g**2)),\n"
                    "                             (w, w - r * g / (1 + s))])\n",
    # a matrix step between the passes of a step over rows
    "rows_and_ns": "r = state('r', 0, shape='row')\nu, o = var('u'), var('o')\n"
                   "spec = Spec('rows_and_ns', [(r, 0.5 * r + row_mean(g**2)), (u, g / (1 + r)),\n"
                   "                            (o, newton_schulz(u, steps=3)), (w, w - 0.01 * o)])\n",
    # the matrices' sum after their pass 1, the vectors' after their pass 0, stepped together
    "late_sum": "f = factored('f')\nr = state('r', 0, shape='row')\nu, s = var('u'), var('s')\n"
                "spec = Spec('late_sum', [(r, when(f, 0.5 * r + row_mean(g**2), r)), (u, when(f, r * g, g)),\n"
                "                         (s, global_sum(u**2)), (w, w - 0.1 * u / (1 + s))])\n",
}


@pytest.mark.parametrize("name", ["clip_by_global_norm(adafactor)", "clip_by_global_norm(adafactor_optax)",
                                  *WITH_AXIS_REDUCTIONS])
def test_axis_reductions_with_a_sum_over_every_tensor_or_a_matrix_step_match_the_oracle(name, tmp_path,
                                                                                         monkeypatch):
    """Axis reductions and a sum over every tensor or a matrix step in one step (both were refused
    on CUDA): the sum is added on the device and read back with the rest, the matrix step runs
    between the passes; a spec whose tensors take two sets of kernels (factored and not) steps
    them together (runtime/lockstep.py). Against the oracle."""
    from optgen.transforms import clip_by_global_norm
    monkeypatch.setenv("OPTGEN_CACHE_DIR", str(tmp_path / "cache"))
    if name in WITH_AXIS_REDUCTIONS:
        path = tmp_path / f"{name}.py"
        path.write_text("from optgen.dsl import Spec, state, var, w, g, row_mean, factored, when, global_sum, "
                        "newton_schulz\n"
                        + WITH_AXIS_REDUCTIONS[name])
        spec, given = optgen.load_spec(str(path)), {}
    else:
        spec, given = clip_by_global_norm(name[len("clip_by_global_norm("):-1], max_norm=1.0), {"lr": 0.05}
    shapes = SHAPES if name.startswith("clip") or name == "late_sum" else SHAPES[1:]  # unbranched: matrices
    rng = np.random.default_rng(11)
    host = [rng.standard_normal(shape).astype(dt) for shape, dt in shapes]
    ref = optgen.reference(spec, [w.astype(np.float64) for w in host], **given)
    dev = [cuda.to_device(w) for w in host]
    options, values = hyper_values.resolve(spec, given)
    gpu = PerTensorOptions(spec, dev, options, values, "propagate", functools.partial(create_cuda, **LAUNCH), "cuda")
    for _ in range(STEPS):
        grads = [(3 * rng.standard_normal(shape)).astype(dt) for shape, dt in shapes]
        ref.step([x.astype(np.float64) for x in grads])
        gpu.step([cuda.to_device(x) for x in grads])
    for i, ((shape, dt), d) in enumerate(zip(shapes, dev)):  # float32's: the sum has float32 tensors' g^2
        np.testing.assert_allclose(d.copy_to_host(), ref.params[i], **TOL[np.float32], err_msg=f"{name}: w[{i}]")


def test_the_host_stages_loops_compile_before_the_first_step():
    """The per-tensor stage runs on the host here too: its loops over rows and columns are
    compiled in the background when the optimizer is made (runtime/precompile.py), with the
    argument types the step passes, so the step compiles none of them."""
    spec = optgen.load_spec("adafactor")
    rng = np.random.default_rng(2)
    shapes = [(6, 4), (3, 2, 5)]
    gpu = _create(spec, [cuda.to_device(rng.standard_normal(s).astype(np.float32)) for s in shapes], 0.05)
    (_, part), = gpu.parts
    part._precompiler.wait()
    loops = [fn for v in part.module.VARIANTS.values() for stage in v.stage_loops for fn, _ in stage]
    before = [list(fn.signatures) for fn in loops]
    assert loops and all(len(sigs) == 1 for sigs in before), before
    gpu.step([cuda.to_device(rng.standard_normal(s).astype(np.float32)) for s in shapes])
    assert [list(fn.signatures) for fn in loops] == before
