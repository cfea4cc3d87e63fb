"""Every optimizer that torch.optim ships reproduces torch.optim's trajectory.

The independent source is torch.optim itself (single-tensor code path,
``foreach=False``), run on copies of the same parameters with the same random
gradients. Each case runs 200 steps on three tensors of different shapes whose
gradients differ in scale by three orders of magnitude, and compares the
parameters after every step.

Tolerance. Both sides round once or a few times per operation, in different
orders (torch fuses ``a + alpha * b`` into an FMA in its vectorised kernels, we
hoist host scalars and reorder with CSE), so the trajectories drift apart by
about one rounding per step. Measured per tensor relative to its largest
element, so that elements that pass through zero are not judged relative to
themselves: over 200 steps the bound is ~200 u (u = 6e-8 for float32,
1.1e-16 for float64), i.e. 1.2e-5 and 2.2e-14. We allow 2e-5 for float32 and
1e-11 for float64; observed maxima are ~1.5e-6 and ~3e-15. A float64 kernel that
computed anything in float32 would miss by ~1e-8, a wrong formula by far more.

torch keeps NAdam's mu_product in the default dtype, so the float64 cases run
with ``torch.set_default_dtype(torch.float64)``. The tensors are tiny, so the
kernels run on one Numba thread (a parallel launch on a busy machine costs
milliseconds of waiting for the other threads); test_kernels_vs_reference.py runs
the multi-threaded path on a tensor of more than a million elements.
"""
from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest
import torch

import optgen

STEPS = 200
SHAPES = [(3, 4), (7,), (2, 3, 5)]
GRAD_SCALES = [1.0, 1e-2, 3.0]
REL = {np.dtype(np.float32): 2e-5, np.dtype(np.float64): 1e-11}

TORCH = {
    "sgd": torch.optim.SGD, "momentum": torch.optim.SGD, "nesterov": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad, "rmsprop": torch.optim.RMSprop, "adadelta": torch.optim.Adadelta,
    "adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adamax": torch.optim.Adamax,
    "nadam": torch.optim.NAdam,
}


def torch_kwargs(name: str, hypers: dict) -> dict:
    """torch.optim's arguments for the same configuration (betas joined again)."""
    kw = dict(hypers)
    if "beta1" in kw:
        kw["betas"] = (kw.pop("beta1"), kw.pop("beta2"))
    if name == "nesterov":  # the blog post's reparametrised form == SGD(nesterov=True, dampening=0)
        kw["nesterov"] = True
    return kw


def _grid(**axes):
    keys = list(axes)
    return [dict(zip(keys, vals)) for vals in itertools.product(*axes.values())]


def cases():
    """(spec, hypers): every build-time option combination with weight decay on,
    and the default options with weight decay off."""
    out = []

    def add(name, base, grid):
        for extra in grid:
            out.append((name, {**base, **extra}))

    tf = (False, True)
    add("sgd", dict(lr=0.05, weight_decay=0.1), _grid(maximize=tf))
    add("sgd", dict(lr=0.05, weight_decay=0.0), [{}])
    add("momentum", dict(lr=0.01, momentum=0.9, weight_decay=0.1), _grid(maximize=tf, nesterov=[True]))
    add("momentum", dict(lr=0.01, momentum=0.9, weight_decay=0.1, dampening=0.3),
        _grid(maximize=tf, nesterov=[False]))  # torch refuses dampening with nesterov
    add("momentum", dict(lr=0.01, momentum=0.8, weight_decay=0.0), [{}])
    add("nesterov", dict(lr=0.01, momentum=0.9), [{}])
    add("adagrad", dict(lr=0.1, weight_decay=0.1, lr_decay=0.01, initial_accumulator_value=0.5),
        _grid(maximize=tf))
    add("adagrad", dict(lr=0.1, weight_decay=0.0), [{}])
    add("rmsprop", dict(lr=0.01, weight_decay=0.1),
        _grid(centered=tf, maximize=tf, momentum=[0.0, 0.9]))
    add("rmsprop", dict(lr=0.01, weight_decay=0.0), [{}])
    add("adadelta", dict(lr=1.0, weight_decay=0.1), _grid(maximize=tf))
    add("adadelta", dict(lr=1.0, weight_decay=0.0), [{}])
    for name in ("adam", "adamw"):
        add(name, dict(lr=0.01, weight_decay=0.1), _grid(amsgrad=tf, maximize=tf))
        add(name, dict(lr=0.01, weight_decay=0.0), [{}])
    add("adamax", dict(lr=0.01, weight_decay=0.1), _grid(maximize=tf))
    add("adamax", dict(lr=0.01, weight_decay=0.0), [{}])
    add("nadam", dict(lr=0.01, weight_decay=0.1), _grid(decoupled_weight_decay=tf, maximize=tf))
    add("nadam", dict(lr=0.01, weight_decay=0.0), [{}])
    return out


CASES = cases()


def case_id(case) -> str:
    name, hypers = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in sorted(hypers.items()))


@pytest.fixture
def default_dtype():
    before = torch.get_default_dtype()
    yield torch.set_default_dtype
    torch.set_default_dtype(before)


def assert_close(ours: np.ndarray, theirs: np.ndarray, dtype, where: str) -> None:
    rel = REL[np.dtype(dtype)]
    scale = float(np.max(np.abs(theirs))) if theirs.size else 0.0
    np.testing.assert_allclose(ours, theirs, rtol=rel, atol=rel * scale, err_msg=where)


def test_every_torch_optimizer_and_option_is_covered():
    """Each torch-backed spec's every option combination appears in CASES."""
    from optgen.compiler import option_combinations
    for name in TORCH:
        spec = optgen.load_spec(name)
        wanted = {tuple(sorted(o.items())) for o in option_combinations(spec)}
        seen = {tuple(sorted({k: h.get(k, spec.options[k]) for k in spec.options}.items()))
                for n, h in CASES if n == name}
        assert wanted <= seen, f"{name}: option combinations without a torch case: {wanted - seen}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_trajectory_matches_torch(case, dtype, default_dtype, one_thread):
    name, hypers = case
    default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
    rng = np.random.default_rng(zlib.crc32(case_id(case).encode()))
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    theirs = [torch.tensor(p.copy()) for p in params]
    start = [p.copy() for p in params]
    opt = optgen.create(name, params, **hypers)
    ref = TORCH[name](theirs, foreach=False, **torch_kwargs(name, hypers))
    for step in range(1, STEPS + 1):
        grads = [(rng.standard_normal(s) * sc).astype(dtype) for s, sc in zip(SHAPES, GRAD_SCALES)]
        for p, gr in zip(theirs, grads):
            p.grad = torch.from_numpy(gr.copy())
        ref.step()
        opt.step(grads)
        for i, (ours, p) in enumerate(zip(params, theirs)):
            assert_close(ours, p.detach().numpy(), dtype, f"{name} {hypers} step {step} tensor {i}")
    # the parameters moved far beyond the tolerance: the comparison is not of unmoved tensors
    for p, p0 in zip(params, start):
        assert np.max(np.abs(p - p0)) > 100 * REL[np.dtype(dtype)] * np.max(np.abs(p0))
