"""Saving a state_dict to disk and resuming from it, as docs/saving.md shows.

The independent source is the uninterrupted run: k steps, a checkpoint written to
a file (pickle, torch.save, np.savez), n more steps; then a fresh optimizer over
the parameters as they were at step k loads the file and takes the same n steps.
Parameters and states must be bit-identical. Every schedule optgen ships must
survive the file too; a lambda cannot (pickle stores functions by name).
"""
from __future__ import annotations

import pickle
import zlib

import numpy as np
import pytest
import sympy

import optgen
from optgen import schedules as S
from optgen.spec import t as T

K, N = 4, 6
SHAPES = [(5, 3), (7,)]


def save_pickle(path, sd):
    with open(path, "wb") as f:
        pickle.dump(sd, f)


def load_pickle(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def save_torch(path, sd):
    torch = pytest.importorskip("torch")
    torch.save(sd, path)


def load_torch(path):
    import torch
    return torch.load(path, weights_only=False)  # schedules are Python objects, not tensors


def save_npz(path, sd):
    np.savez(path, state_dict=np.array(sd, dtype=object))


def load_npz(path):
    with np.load(path, allow_pickle=True) as f:
        return f["state_dict"].item()


FORMATS = {"pickle": (save_pickle, load_pickle), "torch": (save_torch, load_torch), "npz": (save_npz, load_npz)}

SETTINGS = [
    ("adam", lambda: dict(amsgrad=True, lr=S.WarmupCosine(1e-2, warmup_steps=3, decay_steps=20, init=1e-3))),
    ("rmsprop", lambda: dict(centered=True, momentum=0.9, lr=S.ReduceOnPlateau(1e-2, patience=0))),
    ("ranger", lambda: dict(lr=S.Exponential(1e-2, 5.0) * S.LinearWarmup(1.0, 3, init=0.1))),
    ("lamb", lambda: dict(weight_decay=S.Expression(0.01 / T))),
]


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,hypers", SETTINGS, ids=[s[0] for s in SETTINGS])
def test_a_checkpoint_on_disk_resumes_bit_identically(tmp_path, fmt, dtype, name, hypers, one_thread):
    save, load = FORMATS[fmt]
    rng = np.random.default_rng(zlib.crc32(f"{name}{fmt}{dtype}".encode()))
    params = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(K + N)]
    opt = optgen.create(name, params, **hypers())
    for gr in grads[:K]:
        opt.step(gr)
    S.report(opt, 1.0)  # a ReduceOnPlateau has something to remember
    path = tmp_path / f"checkpoint.{fmt}"
    save(path, opt.state_dict())
    at_k = [p.copy() for p in params]
    snapshot = [p.copy() for p in params]
    for gr in grads[K:]:
        opt.step(gr)

    resumed = optgen.create(name, at_k, **hypers())
    resumed.load_state_dict(load(path))
    for gr in grads[K:]:
        resumed.step(gr)
    for a, b in zip(at_k, params):
        np.testing.assert_array_equal(a, b)
    for sa, sb in zip(opt.state_dict()["states"], resumed.state_dict()["states"]):
        for key in sa:
            np.testing.assert_array_equal(sa[key], sb[key])
    assert any(np.any(p != q) for p, q in zip(params, snapshot))  # the run moved after the checkpoint


SCHEDULES = {
    "Constant": lambda: S.Constant(0.1),
    "PiecewiseConstant": lambda: S.PiecewiseConstant.from_scales(0.1, {3: 0.5, 7: 0.1}, steps_per_epoch=2),
    "Exponential": lambda: S.Exponential.from_gamma(0.1, 0.9),
    "Reciprocal": lambda: S.Reciprocal(0.1, 4.0, 1.5),
    "LinearWarmup": lambda: S.LinearWarmup(0.1, 5, init=0.01),
    "PolynomialDecay": lambda: S.PolynomialDecay(0.1, 20, power=2.0, end=0.001),
    "WarmupCosine": lambda: S.WarmupCosine(0.1, 3, 20, end=0.01),
    "ExponentialGrowth": lambda: S.ExponentialGrowth.equivalent_to_weight_decay(0.1, 5e-4, 0.9),
    "Expression": lambda: S.Expression(sympy.Rational(1, 10) * sympy.Min(1, T / 4)),
    "StepExpression": lambda: S.StepExpression(0.1 * sympy.Rational(9, 10) ** S.N, steps_per_epoch=3),
    "product": lambda: S.LinearWarmup(0.1, 5) * S.Exponential(1.0, 10.0),
}


@pytest.mark.parametrize("make", SCHEDULES.values(), ids=SCHEDULES.keys())
def test_every_shipped_schedule_survives_pickle(make):
    sched = make()
    before = sched.values(range(1, 30))  # evaluated first: the cached function is not pickled
    again = pickle.loads(pickle.dumps(sched))
    assert type(again) is type(sched)
    assert again.values(range(1, 30)) == before == make().values(range(1, 30))


def test_a_reduce_on_plateau_survives_pickle_with_its_history():
    sched = S.ReduceOnPlateau(0.1, patience=1)
    for metric in [3.0, 2.0, 2.5, 2.5, 2.5]:
        sched.observe(metric)
    assert sched.reductions == 1 and sched.current == 0.05  # 0.1 * 0.5 after the second epoch without improvement
    again = pickle.loads(pickle.dumps(sched))
    assert again.state_dict() == sched.state_dict()
    assert [again.observe(2.5), again.observe(2.5)] == [sched.observe(2.5), sched.observe(2.5)] == [True, False]


def schedule_by_name(step):  # a module-level function pickles by reference
    return 0.1 / step


def test_a_lambda_schedule_cannot_be_pickled_and_a_named_function_can(one_thread):
    params = [np.ones(3)]
    opt = optgen.create("sgd", params, lr=lambda step: 0.1)
    opt.step([np.ones(3)])
    with pytest.raises((pickle.PicklingError, AttributeError), match="lambda"):
        pickle.dumps(opt.state_dict())
    named = optgen.create("sgd", [np.ones(3)], lr=schedule_by_name)
    named.step([np.ones(3)])
    assert pickle.loads(pickle.dumps(named.state_dict()))["hypers"]["lr"] is schedule_by_name
