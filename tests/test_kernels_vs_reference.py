"""Every generated kernel computes what its spec's equations say.

For every spec that ``optgen.names()`` lists (new specs are covered without
touching this file) and every build-time option combination, float32 and
float64: the compiled optimizer and the reference oracle (``optgen.reference``:
the equations evaluated one at a time in float64 with numpy, no staging, CSE,
templates or Numba) run the same random gradients from the same parameters, and
the parameters are compared after every step.

Shapes include an empty tensor, a 0-d scalar, a size-1 tensor and odd sizes; one
test per dtype adds a tensor of more than a million elements (several chunks of
the multi-threaded kernel, the last one partial) for two specs.

Hyperparameters: each spec runs twice. First with its defaults (``lr`` raised to
at least 1e-2 so that the updates are visible), then "perturbed": every real
hyperparameter whose default is 0 (weight decay, momentum, lr_decay, ...) set to
0.1 where its domain allows, which reaches the kernel variants that host
conditions such as ``momentum == 0`` select.

Tolerance. The float64 kernel differs from the oracle only in the order of
operations (hoisting, CSE): a few roundings per step, ~1e-15 relative after 30
steps; we allow 1e-11. The float32 kernel keeps its states in float32 while the
oracle keeps them in float64 (it rounds only the parameter to float32 after each
step), so they separate by ~1 float32 rounding (6e-8) per step: ~2e-6 after 30
steps; we allow 2e-5. Both are relative to the tensor's largest element, so an
element that passes through zero is not judged relative to itself.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import optgen
from optgen.checking import hyper_settings  # the settings `optgen check` uses for a user's spec
from optgen.compiler import option_combinations
from optgen.matrix import uses_matrices

STEPS = 30
SHAPES = [(0,), (), (1,), (7,), (3, 5), (17, 3, 2)]
#: a spec with a matrix step (Muon) takes tensors of two or more dimensions: rows < cols, rows > cols,
#: a 3-D tensor viewed as 17 x 6, a single row, and an empty matrix
MATRIX_SHAPES = [(3, 5), (5, 3), (17, 3, 2), (1, 4), (0, 3)]
BIG = 1_100_003        # > 1M elements and odd: 17 chunks of 65536, the last one partial
BIG_SPECS = ["adam", "rmsprop_warmstart"]   # a plain spec, and one whose state starts from g
REL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-11}


def combos():
    out = []
    for name in optgen.names():
        for options in option_combinations(optgen.load_spec(name), settable=True):
            out.append((name, options))
    return out


def combo_id(combo) -> str:
    name, options = combo
    on = [k for k, v in options.items() if v]
    return "+".join([name, *on])


def assert_close(ours, theirs, dtype, where: str) -> None:
    rel = REL[np.dtype(dtype)]
    assert ours.dtype == np.dtype(dtype), where
    scale = float(np.max(np.abs(theirs))) if theirs.size else 0.0
    np.testing.assert_allclose(ours, theirs, rtol=rel, atol=rel * scale, err_msg=where)


def run_both(name, options, hypers, shapes, dtypes, steps, seed):
    """Step the kernel and the oracle side by side; compare after every step."""
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dt) for s, dt in zip(shapes, dtypes)]
    mirror = [p.copy() for p in params]
    opt = optgen.create(name, params, **options, **hypers)
    ref = optgen.reference(name, mirror, **options, **hypers)
    for step in range(1, steps + 1):
        grads = [rng.standard_normal(s).astype(dt) for s, dt in zip(shapes, dtypes)]
        opt.step(grads)
        ref.step([gr.copy() for gr in grads])
        for i, (a, b) in enumerate(zip(params, mirror)):
            assert_close(a, b, dtypes[i], f"{name} {options} {hypers} step {step} tensor {i} {shapes[i]}")
    return params


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("combo", combos(), ids=combo_id)
def test_kernel_matches_reference(combo, dtype, one_thread):
    name, options = combo
    spec = optgen.load_spec(name)
    shapes = MATRIX_SHAPES if uses_matrices(spec) else SHAPES
    for k, hypers in enumerate(hyper_settings(spec)):
        seed = zlib.crc32(f"{combo_id(combo)}-{np.dtype(dtype).name}-{k}".encode())
        run_both(name, options, hypers, shapes, [dtype] * len(shapes), STEPS, seed)


@pytest.mark.parametrize("name", BIG_SPECS)
def test_kernel_matches_reference_on_a_large_tensor_with_all_threads(name):
    """Both dtypes in one optimizer (two groups), one tensor > 1M elements, default threads."""
    shapes = [(BIG,), (5, 3), (BIG // 7,), (1,)]
    dtypes = [np.float32, np.float32, np.float64, np.float64]
    spec = optgen.load_spec(name)
    run_both(name, {}, hyper_settings(spec)[0], shapes, dtypes, 4, zlib.crc32(name.encode()))


def test_every_spec_is_covered():
    names = {name for name, _ in combos()}
    assert names == set(optgen.names()) and len(names) >= 14


def test_a_state_held_after_its_first_value_is_a_state_of_both(tmp_path, monkeypatch):
    """A state with a first value other than zero whose update simplifies to itself
    (``0.9 m + 0.1 m``) holds |g| of the first step: the compiled step keeps it, and so does the
    oracle (found by `make fuzz`: the oracle dropped it as an identity, and its state_dict had no
    such state). Zero-valued ones are no memory in either."""
    monkeypatch.setenv("OPTGEN_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "held.py"
    path.write_text("from optgen.dsl import Spec, state, w, g, sign, Abs, Rational\n"
                    "m = state('m', Abs(g))\nz = state('z', 0)\n"
                    "spec = Spec('held', [(m, Rational(9, 10) * m + Rational(1, 10) * m), (z, z),\n"
                    "                     (w, w - sign(g) / 10)])\n")
    rng = np.random.default_rng(4)
    first = rng.standard_normal(6)
    ours, oracle = optgen.create(str(path), [np.zeros(6)]), optgen.reference(str(path), [np.zeros(6)])
    for grad in (first, rng.standard_normal(6)):
        ours.step([grad.copy()])
        oracle.step([grad.copy()])
    for sd in (ours.state_dict(), oracle.state_dict()):
        assert set(sd["states"][0]) == {"m"}
        np.testing.assert_array_equal(sd["states"][0]["m"], np.abs(first))
