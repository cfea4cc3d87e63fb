"""Race hunting for the CUDA kernels with reductions (LARS, LAMB, Paratrooper, Ranger-LARS, ...).

The simulator runs every thread of a block as a Python thread; ``conftest.py`` sets a
1 us GIL switch interval so that thread interleavings change at almost every bytecode.
Here the reduction kernels run at launch shapes that reach every edge of the block
tree and the chunk loop: block sizes that are and are not powers of two (1, 3, 48,
100), chunks smaller than a block and larger, several chunks per tensor, fewer
blocks than chunks (the grid-stride loop) and more blocks than chunks (idle blocks).
Each is checked against the float64 reference oracle, which knows nothing of
launches. A missing or misplaced barrier makes these fail; so did the simulator's own
shared-array race (optgen/runtime/cudasim.py), caught deterministically below.
"""
import time
from pathlib import Path

import numba
import numpy as np
import pytest

import optgen
from optgen.runtime import hypers as hyper_values
from optgen.runtime.cuda import create_cuda

SIMULATOR = bool(numba.config.ENABLE_CUDASIM)
SPECS = Path(__file__).resolve().parent / "specs"

try:
    from numba import cuda
except ImportError:  # pragma: no cover - without numba-cuda every test here is skipped
    cuda = None

TOL = {np.dtype(np.float32): dict(rtol=2e-5, atol=2e-6), np.dtype(np.float64): dict(rtol=1e-10, atol=1e-12)}
SHAPES = [((0,), np.float32), ((1,), np.float64), ((3, 5), np.float32), ((130,), np.float32), ((61,), np.float64)]

# (block, chunk, max_blocks, extra idle blocks beyond one per chunk)
LAUNCH_SHAPES = [
    (1, 7, None, 0),     # one thread: the tree has no level
    (3, 16, 2, 0),       # odd block: levels of width 3 -> 2 -> 1; fewer blocks than chunks
    (48, 20, None, 0),   # not a power of two, chunk smaller than the block (idle threads)
    (32, 64, 3, 0),      # a warp; several chunks per tensor, grid-stride over them
    (100, 1000, 1, 0),   # one block walks every chunk of every tensor
    (64, 50, None, 5),   # more blocks than chunks: blocks with no chunk reach no barrier
]


def _specs():
    return ["lars", "lamb", "paratrooper", str(SPECS / "lamb_like.py")]


def _close(actual, expected, dtype, what):
    scale = max(1.0, float(np.max(np.abs(expected)))) if np.size(expected) else 1.0
    t = TOL[np.dtype(dtype)]
    np.testing.assert_allclose(actual, expected, rtol=t["rtol"], atol=t["atol"] * scale, err_msg=what)


@pytest.mark.parametrize("block,chunk,max_blocks,idle", LAUNCH_SHAPES,
                         ids=[f"block{b}-chunk{c}-max{m}-idle{i}" for b, c, m, i in LAUNCH_SHAPES])
@pytest.mark.parametrize("name", _specs(), ids=lambda n: Path(n).stem)
def test_reductions_match_the_oracle_at_every_launch_shape(name, block, chunk, max_blocks, idle):
    spec = optgen.load_spec(name)
    rng = np.random.default_rng(block * 7 + chunk)
    host = [rng.standard_normal(shape).astype(dt) for shape, dt in SHAPES]
    ref = optgen.reference(spec, [w.copy() for w in host])
    dev = [cuda.to_device(w) for w in host]
    gpu = create_cuda(spec, dev, *hyper_values.resolve(spec, {}), block=block, chunk=chunk, max_blocks=max_blocks)
    for gr in gpu.groups:
        gr.grid += idle  # blocks past the last chunk: the grid-stride loop gives them nothing
    for _ in range(2):
        grads = [rng.standard_normal(shape).astype(dt) for shape, dt in SHAPES]
        ref.step(grads)
        gpu.step([cuda.to_device(g) for g in grads])
    for i, ((shape, dt), d) in enumerate(zip(SHAPES, dev)):
        _close(d.copy_to_host(), ref.params[i], dt, f"{spec.name} block={block} chunk={chunk} w[{i}]")


class _SlowEmpty:
    """The simulator's numpy, with ``empty`` slowed down: widens any window around an allocation."""

    def __init__(self, numpy):
        self._numpy = numpy

    def __getattr__(self, name):
        return getattr(self._numpy, name)

    def empty(self, *args, **kwargs):
        time.sleep(0.02)  # releases the GIL: every other thread of the block runs meanwhile
        return self._numpy.empty(*args, **kwargs)


@pytest.mark.skipif(not SIMULATOR, reason="a test of the CUDA simulator's shared memory (a GPU has real shared memory)")
def test_simulator_shared_array_is_one_array_per_block_however_slow_its_allocation(monkeypatch):
    """The cause of the nondeterministic reduction failures, made deterministic.

    Without optgen's atomic allocation (optgen.runtime.cudasim), threads that ask for
    the block's shared array while the first one is still allocating it each get a
    private array, and the block sum below comes out short on every launch.
    """
    from numba.cuda.simulator import kernelapi

    from optgen.runtime.cuda_support import cuda_support
    cuda_support()  # what every optimizer's creation does under the simulator
    monkeypatch.setattr(kernelapi, "np", _SlowEmpty(np))

    @cuda.jit
    def block_sum(out):
        ones = cuda.shared.array(16, numba.float64)
        ones[cuda.threadIdx.x] = 1.0
        cuda.syncthreads()
        if cuda.threadIdx.x == 0:
            acc = 0.0
            for i in range(16):
                acc += ones[i]
            out[cuda.blockIdx.x] = acc

    out = cuda.to_device(np.zeros(2))
    block_sum[2, 16](out)
    np.testing.assert_array_equal(out.copy_to_host(), [16.0, 16.0])


def test_the_race_hunt_is_on():
    """The simulator suite runs with a switch interval short enough to interleave threads at almost every bytecode."""
    import sys
    if SIMULATOR:
        assert sys.getswitchinterval() <= 1e-6
