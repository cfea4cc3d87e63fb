"""Side-by-side trajectories for the tests of reductions, transforms and schedules.

``trajectory`` steps optgen's compiled kernel, the reference oracle (the spec's
equations evaluated directly) and an independent implementation (optax, torch,
pytorch-optimizer, or a hand-written numpy transcription of a source formula) on
copies of the same parameters with the same random gradients, and compares the
parameters after every step.

Tolerance, per dtype, relative to each tensor's largest element (an element
passing through zero is not judged relative to itself): every side rounds a few
times per step in its own order (optax and torch fuse differently, we hoist host
scalars and reorder with CSE; reductions sum in different orders), so the
trajectories separate by about one rounding per step: ~200 u after 200 steps
(u = 6e-8 float32, 1.1e-16 float64). We allow 3e-5 and 1e-11. A float64 path
that rounded anything to float32 would miss by ~1e-8. These mutations were run
through this harness against optax and caught in both dtypes: a lookahead sync
one step late, LAMB's trust ratio off by 0.1%, a schedule shifted by one step.
"""
from __future__ import annotations

import zlib
from typing import Callable, Sequence

import numpy as np

import optgen

STEPS = 200
SHAPES = [(3, 4), (7,), (2, 3, 5)]
GRAD_SCALES = [1.0, 1e-2, 3.0]
REL = {np.dtype(np.float32): 3e-5, np.dtype(np.float64): 1e-11}


def seed_of(text: str) -> int:
    return zlib.crc32(text.encode())


def assert_close(ours, theirs, dtype, where: str, rel: float | None = None) -> None:
    rel = REL[np.dtype(dtype)] if rel is None else rel
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.shape == theirs.shape, where
    scale = float(np.max(np.abs(theirs))) if theirs.size else 0.0
    np.testing.assert_allclose(ours, theirs, rtol=rel, atol=rel * scale, err_msg=where)


# --- independent implementations, one interface: step(grads), params() ----------------

class Optax:
    """An optax GradientTransformation on jax arrays (jitted update + apply)."""

    def __init__(self, tx, params: Sequence[np.ndarray], lookahead: bool = False):
        import jax
        import jax.numpy as jnp
        import optax
        self.jnp, self.optax, self.lookahead = jnp, optax, lookahead
        p = [jnp.asarray(x) for x in params]
        self.p = optax.LookaheadParams.init_synced(p) if lookahead else p
        self.state = tx.init(self.p)

        def update(grads, state, params):
            u, state = tx.update(grads, state, params)
            return optax.apply_updates(params, u), state
        self.update = jax.jit(update)

    def step(self, grads):
        g = [self.jnp.asarray(x) for x in grads]
        self.p, self.state = self.update(g, self.state, self.p)

    def params(self):
        p = self.p.fast if self.lookahead else self.p
        return [np.asarray(x) for x in p]


class Torch:
    """A torch.optim-style optimizer (torch.optim, pytorch-optimizer), optionally with an lr scheduler."""

    def __init__(self, make: Callable, params: Sequence[np.ndarray], scheduler: Callable | None = None):
        import torch
        self.torch = torch
        self.p = [torch.tensor(x.copy()) for x in params]
        self.opt = make(self.p)
        self.sched = scheduler(self.opt) if scheduler is not None else None

    def step(self, grads):
        for p, gr in zip(self.p, grads):
            p.grad = self.torch.from_numpy(np.array(gr, copy=True))
        self.opt.step()
        if self.sched is not None:
            self.sched.step()

    def params(self):
        return [p.detach().numpy() for p in self.p]


class Numpy:
    """A hand-written transcription of a source formula: ``fn(params, grads, state, t)``
    updates ``params`` (numpy arrays, in the parameters' dtype) in place."""

    def __init__(self, fn: Callable, params: Sequence[np.ndarray], state=None):
        self.fn, self.p, self.state, self.t = fn, [x.copy() for x in params], state, 0

    def step(self, grads):
        self.t += 1
        self.state = self.fn(self.p, grads, self.state, self.t)

    def params(self):
        return self.p


# --- the side-by-side run ---------------------------------------------------------

def random_params(rng, dtype, shapes=SHAPES):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def trajectory(spec, hypers: dict, dtype, external: Callable | None, *, steps: int = STEPS,
               shapes=SHAPES, scales=GRAD_SCALES, seed: int = 0, oracle: bool = True,
               params: list | None = None, edit_grads: Callable | None = None,
               rel: float | None = None, label: str = "") -> list[np.ndarray]:
    """Run ``spec`` (a name or a Spec) with ``hypers`` beside the oracle and
    ``external(params) -> runner``; compare after every step; return our params."""
    rng = np.random.default_rng(seed)
    params = random_params(rng, dtype, shapes) if params is None else [p.astype(dtype) for p in params]
    start = [p.copy() for p in params]
    ext = external([p.copy() for p in params]) if external is not None else None
    mirror = [p.copy() for p in params]
    opt = optgen.create(spec, params, **hypers)
    ref = optgen.reference(spec, mirror, **hypers) if oracle else None
    name = spec if isinstance(spec, str) else spec.name
    for step in range(1, steps + 1):
        grads = [(rng.standard_normal(s) * sc).astype(dtype) for s, sc in zip(shapes, scales)]
        if edit_grads is not None:
            edit_grads(step, grads)
        opt.step(grads)
        if ref is not None:
            ref.step([g.copy() for g in grads])
        if ext is not None:
            ext.step([g.copy() for g in grads])
        for i, ours in enumerate(params):
            where = f"{label or name} {hypers} step {step} tensor {i}"
            assert ours.dtype == np.dtype(dtype), where
            if ext is not None:
                assert_close(ours, ext.params()[i], dtype, where + " vs the independent implementation", rel)
            if ref is not None:
                assert_close(ours, mirror[i], dtype, where + " vs the oracle", rel)
    # some tensor moved by far more than the tolerance: the comparison is not of unmoved tensors
    moved = [float(np.max(np.abs(p - p0))) / max(float(np.max(np.abs(p))), float(np.max(np.abs(p0))))
             for p, p0 in zip(params, start) if p.size]
    assert max(moved) > 100 * REL[np.dtype(dtype)], \
        f"{label or name}: the parameters hardly moved ({moved}); the comparison would be vacuous"
    return params
