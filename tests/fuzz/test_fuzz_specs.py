"""Random specs compile to kernels that agree with the oracle, or are refused clearly.

Each example is a random spec file (``specgen.fuzz_spec``), compiled for the CPU
and stepped a few times over random odd-shaped float32 and float64 tensors (one
optimizer may hold both), side by side with the reference oracle
(``optgen.reference``: the equations one at a time in float64 numpy, none of the
compiler's stages). Gradients come in every layout a user may hand over: fresh
contiguous arrays, Fortran order, strided views, and persistent buffers updated
in place between steps. Some runs resume halfway from a checkpoint
(``state_dict`` into a fresh optimizer over copies of the parameters).

A spec that uses a name the language refuses must fail to load with a
:class:`optgen.SpecError` naming it, before any parameter is touched.

Tolerance: the float64 kernel differs from the oracle only in the order of
operations, a few roundings per step; the float32 kernel keeps its states in
float32, ~1 float32 rounding per operation and step, amplified by the
Lipschitz constants of the tame expressions (bounded by a few tens). Both are
relative to the tensor's largest element or to 1, whichever is larger.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import optgen
from known_bugs import known_bug
from specgen import fuzz_spec

REL = {np.dtype(np.float32): 2e-4, np.dtype(np.float64): 1e-9}
SHAPES = [(), (1,), (0,), (7,), (3, 5), (2, 3, 3), (65,), (5, 1, 4)]
LAYOUTS = ["fresh", "fortran", "strided", "persistent"] + (
    [] if known_bug("noncontiguous-grad-cached") else ["persistent-strided"])


@st.composite
def runs(draw):
    """(shapes, dtypes, steps, seed, gradient layout, the step after which to resume from a checkpoint or 0)."""
    n = draw(st.integers(1, 3))
    shapes = draw(st.lists(st.sampled_from(SHAPES), min_size=n, max_size=n))
    dtypes = draw(st.lists(st.sampled_from([np.float32, np.float64]), min_size=n, max_size=n))
    steps = draw(st.integers(2, 5))
    return (shapes, dtypes, steps, draw(st.integers(0, 2**32 - 1)), draw(st.sampled_from(LAYOUTS)),
            draw(st.integers(0, steps - 1)))


class Gradients:
    """Each step's gradients in one layout; the oracle gets contiguous copies of the same numbers."""

    def __init__(self, shapes, dtypes, layout, rng):
        self.shapes, self.dtypes, self.layout, self.rng = shapes, dtypes, layout, rng
        # persistent buffers: the same objects every step, their contents rewritten in place
        self.buffers = [np.zeros(tuple(2 * d for d in s) or (), dt) for s, dt in zip(shapes, dtypes)]

    def _view(self, i):
        buf = self.buffers[i]
        return buf[tuple(slice(None, None, 2) for _ in buf.shape) or ...]

    def next(self) -> list:
        values = [self.rng.standard_normal(s).astype(dt) for s, dt in zip(self.shapes, self.dtypes)]
        if self.layout == "fresh":
            return values
        if self.layout == "fortran":
            return [np.asfortranarray(v) if v.ndim else v for v in values]  # (asfortranarray makes 0-d 1-d)
        if self.layout == "strided":
            out = []
            for v in values:
                big = np.zeros(tuple(2 * d for d in v.shape), v.dtype)
                view = big[tuple(slice(None, None, 2) for _ in v.shape) or ...]
                view[...] = v
                out.append(view)
            return out
        out = []
        for i, v in enumerate(values):
            if self.layout == "persistent":
                self.buffers[i] = self.buffers[i] if self.buffers[i].shape == v.shape else np.zeros_like(v)
                self.buffers[i][...] = v
                out.append(self.buffers[i])
            else:  # persistent-strided
                view = self._view(i)
                view[...] = v
                out.append(view)
        return out


def assert_close(ours, theirs, dtype, where: str) -> None:
    """Within REL of the tensor's largest element, or of 1: the tame values are O(1) by construction,
    so a state that is zero in one and a rounding residue (1e-16) in the other is not a mismatch."""
    rel = REL[np.dtype(dtype)]
    assert ours.dtype == np.dtype(dtype), where
    scale = max(float(np.max(np.abs(theirs))) if np.size(theirs) else 0.0, 1.0)
    np.testing.assert_allclose(ours, theirs, rtol=rel, atol=rel * scale, err_msg=where)


def write_spec(folder, spec) -> str:
    path = folder / f"{spec.name}.py"
    if not path.exists():
        path.write_text(spec.text)
    return str(path)


@given(spec=fuzz_spec(), run=runs())
def test_fuzzed_spec_matches_the_oracle(spec, run, fuzz_dirs, one_thread_module):
    shapes, dtypes, steps, seed, layout, resume = run
    note(f"shapes={shapes} dtypes={[np.dtype(d).name for d in dtypes]} steps={steps} seed={seed} "
         f"layout={layout} resume_after={resume}")
    rng = np.random.default_rng(seed)
    params = [rng.standard_normal(s).astype(dt) for s, dt in zip(shapes, dtypes)]
    before = [p.copy() for p in params]
    path = write_spec(fuzz_dirs[0], spec)
    if spec.refused is not None:
        with pytest.raises(optgen.SpecError) as err:
            optgen.create(path, params, **spec.given)
        assert spec.refused in str(err.value) and spec.name in path
        for p, b in zip(params, before):
            np.testing.assert_array_equal(p, b)
        return
    hypers = optgen.load_spec(path).hypers  # SymPy may have cancelled a hyperparameter away
    given = {k: v for k, v in spec.given.items() if k in hypers}
    opt = optgen.create(path, params, **given)
    mirror = [p.copy() for p in before]
    ref = optgen.reference(path, mirror, **given)
    grads = Gradients(shapes, dtypes, layout, rng)
    for step in range(1, steps + 1):
        gr = grads.next()
        copies = [np.array(x) for x in gr]
        opt.step(gr)
        ref.step(copies)
        for i, (a, b) in enumerate(zip(params, mirror)):
            assert_close(a, b, dtypes[i], f"step {step} tensor {i} {shapes[i]}")
        if step == resume:  # a fresh optimizer over copies, from the checkpoint, takes over
            checkpoint = copy.deepcopy(opt.state_dict())
            params = [p.copy() for p in params]
            opt = optgen.create(path, params, **given)
            opt.load_state_dict(checkpoint)
    ours, theirs = opt.state_dict()["states"], ref.state_dict()["states"]
    for i, (mine, oracle) in enumerate(zip(ours, theirs)):
        for name, value in mine.items():
            assert_close(value, np.broadcast_to(oracle[name], shapes[i]), dtypes[i], f"state {name!r} tensor {i}")
