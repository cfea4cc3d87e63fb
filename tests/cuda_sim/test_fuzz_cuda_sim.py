"""Random specs (tests/fuzz/specgen.py) on the CUDA target, under the simulator, against the oracle.

The CUDA twin of tests/fuzz/test_fuzz_specs.py, smaller (the simulator runs every GPU
thread as a Python thread): a few examples, small float32 and float64 tensors in one
list (two dtype groups), a chunk size that splits the larger tensor over several
blocks, three steps. Same profiles (``OPTGEN_FUZZ``), same known bugs.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fuzz"))

import fuzz_profiles  # noqa: E402
from hypothesis import given, note, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from specgen import fuzz_spec  # noqa: E402

import optgen  # noqa: E402
from optgen.runtime import hypers as hyper_values  # noqa: E402

fuzz_profiles.load()
try:
    from numba import cuda
    from optgen.runtime.cuda import create_cuda
except ImportError:  # pragma: no cover - without numba-cuda every test here is skipped
    cuda = None

LAUNCH = dict(block=32, chunk=64, max_blocks=3)
SHAPES = [((0,), np.float32), ((1,), np.float64), ((3, 5), np.float32), ((130,), np.float64), ((), np.float32)]
REL = {np.dtype(np.float32): 2e-4, np.dtype(np.float64): 1e-9}
STEPS = 3


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz-cuda-specs")


@settings(max_examples=max(2, settings.default.max_examples // 3))
@given(spec=fuzz_spec().filter(lambda s: s.refused is None), seed=st.integers(0, 2**32 - 1))
def test_fuzzed_spec_on_cuda_matches_the_oracle(spec, seed, spec_dir):
    path = spec_dir / f"{spec.name}.py"
    if not path.exists():
        path.write_text(spec.text)
    loaded = optgen.load_spec(str(path))
    given_ = {k: v for k, v in spec.given.items() if k in loaded.hypers}
    rng = np.random.default_rng(seed)
    note(f"seed={seed}")
    host = [rng.standard_normal(shape).astype(dt) for shape, dt in SHAPES]
    ref = optgen.reference(loaded, [w.copy() for w in host], **given_)
    dev = [cuda.to_device(w) for w in host]
    options, values = hyper_values.resolve(loaded, given_)
    gpu = create_cuda(loaded, dev, options, values, **LAUNCH)
    for step in range(1, STEPS + 1):
        grads = [rng.standard_normal(shape).astype(dt) for shape, dt in SHAPES]
        ref.step([g.copy() for g in grads])
        gpu.step([cuda.to_device(g) for g in grads])
        for i, ((shape, dt), d) in enumerate(zip(SHAPES, dev)):
            w, want = d.copy_to_host(), ref.params[i]
            scale = max(float(np.max(np.abs(want))) if want.size else 0.0, 1.0)  # as tests/fuzz
            rel = REL[np.dtype(dt)]
            np.testing.assert_allclose(w, want, rtol=rel, atol=rel * scale, err_msg=f"step {step} w[{i}] {shape}")
