"""Sums over every tensor (``global_sum``, ``global_norm``) and the clipping transforms.

Independent sources: ``optax.chain(optax.clip_by_global_norm(c), optax.adamw(...))``;
``torch.nn.utils.clip_grad_norm_`` followed by ``torch.optim.AdamW``; the reference
oracle (which evaluates each equation for every tensor before the next, so a global
sum is a plain numpy sum over all of them); and numpy transcriptions written here.
Tensors of 1-D, 2-D, 4-D and odd shapes; max_norm both below the gradients' norm (the
clip acts) and far above it (it does not), so both branches run. The CUDA side is in
tests/cuda_sim/test_global_sums_cuda.py.
"""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optgen  # noqa: E402
from optgen.dsl import Spec, SpecError, g, global_norm, global_sum, hyper, var, w, when  # noqa: E402
from optgen.transforms import clip_by_global_norm, clip_by_tensor_norm  # noqa: E402

from _sidebyside import Numpy, Optax, Torch, assert_close, trajectory  # noqa: E402
from _torch_training import torch_one_thread  # noqa: E402,F401 (a fixture)

DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
SHAPES = [(5, 7), (13,), (2, 3, 4, 5), (1,)]
SCALES = [1.0, 1e-2, 3.0, 0.5]
STEPS = 150
ADAMW = {"lr": 1e-2, "beta1": 0.9, "beta2": 0.99, "eps": 1e-8, "weight_decay": 1e-2}


@pytest.fixture(autouse=True, scope="module")
def one_thread(one_thread_module):
    """Tiny tensors: one Numba thread for the whole module (see conftest)."""



@DTYPES
@pytest.mark.parametrize("max_norm", [1.0, 1e3], ids=["clips", "passes"])
def test_clip_by_global_norm_adamw_matches_optax(dtype, max_norm, x64):
    import optax
    x64(dtype)
    spec = clip_by_global_norm("adamw", max_norm=max_norm)

    def external(params):
        tx = optax.chain(optax.clip_by_global_norm(max_norm),
                         optax.adamw(ADAMW["lr"], b1=ADAMW["beta1"], b2=ADAMW["beta2"], eps=ADAMW["eps"],
                                     weight_decay=ADAMW["weight_decay"]))
        return Optax(tx, params)
    trajectory(spec, ADAMW, dtype, external, steps=STEPS, shapes=SHAPES, scales=SCALES, seed=11)


@DTYPES
@pytest.mark.parametrize("max_norm", [1.0, 1e3], ids=["clips", "passes"])
def test_clip_by_global_norm_adamw_matches_torch_clip_grad_norm(dtype, max_norm):
    import torch

    class ClipThenAdamW(Torch):
        def step(self, grads):
            for p, gr in zip(self.p, grads):
                p.grad = torch.from_numpy(np.array(gr, copy=True))
            torch.nn.utils.clip_grad_norm_(self.p, max_norm)
            self.opt.step()

    def external(params):
        return ClipThenAdamW(lambda p: torch.optim.AdamW(
            p, lr=ADAMW["lr"], betas=(ADAMW["beta1"], ADAMW["beta2"]), eps=ADAMW["eps"],
            weight_decay=ADAMW["weight_decay"]), params)
    # torch divides by the norm plus 1e-6: the transform's clip_eps
    trajectory(clip_by_global_norm("adamw", max_norm=max_norm), {**ADAMW, "clip_eps": 1e-6}, dtype,
               external, steps=STEPS, shapes=SHAPES, scales=SCALES, seed=12)


def _clip_then_sgd(lr, max_norm, per_tensor: bool):
    """SGD on the clipped gradient, transcribed from optax.clip_by_global_norm (and its per-tensor form)."""
    def fn(params, grads, state, t):
        if per_tensor:
            norms = [np.sqrt(np.sum(gr.astype(np.float64) ** 2)) for gr in grads]
        else:
            norms = [np.sqrt(sum(np.sum(gr.astype(np.float64) ** 2) for gr in grads))] * len(grads)
        for p, gr, n in zip(params, grads, norms):
            clipped = gr if n < max_norm else gr / n * max_norm
            p -= (lr * clipped).astype(p.dtype)
    return fn


@DTYPES
@pytest.mark.parametrize("per_tensor", [False, True], ids=["global", "per-tensor"])
def test_clipped_sgd_matches_numpy(dtype, per_tensor):
    transform = clip_by_tensor_norm if per_tensor else clip_by_global_norm
    spec = transform("sgd", max_norm=1.5)
    trajectory(spec, {"lr": 0.1}, dtype, lambda p: Numpy(_clip_then_sgd(0.1, 1.5, per_tensor), p),
               steps=40, shapes=SHAPES, scales=SCALES, seed=13)


def test_global_sum_spans_both_dtype_groups():
    """float32 and float64 parameters are two launches; the global norm still covers both."""
    rng = np.random.default_rng(5)
    params = [rng.standard_normal((4, 6)).astype(np.float32), rng.standard_normal(9)]
    grads = [rng.standard_normal((4, 6)).astype(np.float32) * 2, rng.standard_normal(9) * 2]
    start = [p.astype(np.float64) for p in params]
    opt = optgen.create(clip_by_global_norm("sgd", max_norm=1.0), params, lr=1.0)
    opt.step(grads)
    norm = np.sqrt(sum(np.sum(gr.astype(np.float64) ** 2) for gr in grads))
    assert norm > 1.0  # the clip acts
    for p, p0, gr in zip(params, start, grads):
        assert_close(p, p0 - gr.astype(np.float64) / norm, p.dtype, "sgd step on the globally clipped gradient")


def test_all_reduce_hook_makes_shards_agree_with_one_optimizer():
    """Two shards, each with half the tensors: with ``all_reduce`` adding the other shard's
    sum of g^2 (computed here with numpy), each takes the step the whole model would."""
    rng = np.random.default_rng(6)
    params = [rng.standard_normal(s) for s in SHAPES]
    grads = [rng.standard_normal(s) * 3 for s in SHAPES]
    whole = [p.copy() for p in params]
    optgen.create("adamw_clip", whole).step(grads)
    halves = [(0, 2), (2, 4)]
    for lo, hi in halves:
        mine = [p.copy() for p in params[lo:hi]]
        others = sum(float(np.sum(gr ** 2)) for k, gr in enumerate(grads) if not lo <= k < hi)
        opt = optgen.create("adamw_clip", mine)
        opt.all_reduce = lambda local, others=others: local + others
        opt.step(grads[lo:hi])
        for k, p in enumerate(mine):
            np.testing.assert_allclose(p, whole[lo + k], rtol=1e-14, atol=1e-15)


def test_all_reduce_hook_of_a_spec_with_per_tensor_options_sees_every_parts_sums():
    """clip_by_global_norm(adafactor) in two shards, each a matrix and a vector (two compiled
    optimizers each, stepped together): the hook is called once a step with the sum over both
    parts, and adding the other shard's there gives each shard the whole model's step."""
    spec = clip_by_global_norm("adafactor", max_norm=1.0)
    rng = np.random.default_rng(8)
    shapes = [(6, 5), (5,), (4, 3, 2), (3,)]
    params = [rng.standard_normal(s) for s in shapes]
    grads = [rng.standard_normal(s) * 3 for s in shapes]
    whole = [p.copy() for p in params]
    optgen.create(spec, whole, lr=0.1).step(grads)
    for lo, hi in [(0, 2), (2, 4)]:
        mine = [p.copy() for p in params[lo:hi]]
        others = sum(float(np.sum(gr ** 2)) for k, gr in enumerate(grads) if not lo <= k < hi)
        opt = optgen.create(spec, mine, lr=0.1)
        seen = []
        opt.all_reduce = lambda local, others=others: seen.append(local.copy()) or local + others
        opt.step(grads[lo:hi])
        assert len(seen) == 1
        np.testing.assert_allclose(seen[0], [sum(float(np.sum(gr ** 2)) for gr in grads[lo:hi])], rtol=1e-14)
        for k, p in enumerate(mine):
            np.testing.assert_allclose(p, whole[lo + k], rtol=1e-13, atol=1e-15)


def test_global_sum_in_a_spec_against_a_hand_derivation():
    """A spec written with global_sum and global_norm: w <- w - lr g / ||g||_global * n / N,
    where N = global_sum(1) is the number of elements (a constant summand, summed per element)."""
    lr = hyper("lr", 0.1, domain="positive")
    n_total, gn = var("n_total"), var("gn")
    spec = Spec("normalised_sgd", [(n_total, global_sum(1)), (gn, global_norm(g)),
                                   (w, w - lr * g / gn * n_total)])
    rng = np.random.default_rng(7)
    params = [rng.standard_normal(s) for s in SHAPES]
    grads = [rng.standard_normal(s) for s in SHAPES]
    start = [p.copy() for p in params]
    optgen.create(spec, params).step(grads)
    n = sum(int(np.prod(s)) for s in SHAPES)
    norm = np.sqrt(sum(np.sum(gr ** 2) for gr in grads))
    for p, p0, gr in zip(params, start, grads):
        np.testing.assert_allclose(p, p0 - 0.1 * gr / norm * n, rtol=1e-13)


def test_global_sum_in_a_per_element_branch_is_refused(tmp_path):
    path = tmp_path / "branchy.py"
    path.write_text(
        "from optgen.dsl import Spec, hyper, w, g, when, global_sum\n"
        "lr = hyper('lr', 0.1, domain='positive')\n"
        "spec = Spec('branchy', [(w, w - lr * when(g > 0, global_sum(g), g))])\n")
    with pytest.raises(SpecError) as err:
        optgen.create(str(path), [np.zeros(3)])
    text = str(err.value)
    assert str(path) in text and "equation 1" in text and "branch chosen per tensor or per element" in text
    assert "global_sum(when(condition, x, 0))" in text


def test_global_sum_assigned_before_the_branch_is_accepted():
    lr = hyper("lr", 0.1, domain="positive")
    total = var("total")
    spec = Spec("branch_after", [(total, global_sum(g)), (w, w - lr * when(g > 0, total, g))])
    p, gr = np.zeros(4), np.array([1.0, -2.0, 3.0, -4.0])
    optgen.create(spec, [p]).step([gr])
    np.testing.assert_allclose(p, -0.1 * np.where(gr > 0, gr.sum(), gr))


def test_show_says_which_pass_waits_for_the_global_sum(capsys):
    from optgen.cli import main
    assert main(["show", "adamw_clip", "--stage", "passes"]) == 0
    out = capsys.readouterr().out
    assert "pass 0: loads g; stores -" in out
    assert "added over every tensor (every dtype group) before pass 1 runs" in out
    assert "pass 1: loads w, m, v, g; stores w, m, v" in out


def test_clip_refuses_a_spec_whose_init_reads_g():
    with pytest.raises(SpecError, match="init of state"):
        clip_by_global_norm("rmsprop_warmstart")


# --- through optgen.torch: a real model -------------------------------------------------

@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_torch_mlp_training_matches_clip_grad_norm_then_adamw(dtype_name, torch_one_thread):
    import torch

    import optgen.torch as ot
    from _torch_training import assert_same_params, backward, data, twin_models
    dtype = getattr(torch, dtype_name)
    ours, theirs = twin_models("mlp", dtype)
    x, y = data("mlp", dtype)
    opt = ot.Optimizer(ours.parameters(), "adamw_clip", lr=1e-2, max_norm=0.5, clip_eps=1e-6)
    ref = torch.optim.AdamW(theirs.parameters(), lr=1e-2)
    clipped = 0
    for step in range(150):
        backward(ours, x, y, step)
        opt.step()
        backward(theirs, x, y, step)
        clipped += float(torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.5)) > 0.5
        ref.step()
        assert_same_params(ours, theirs, f"step {step}")
    assert clipped > 0  # the clip acted


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_torch_global_sum_over_two_param_groups_is_clip_grad_norm_of_the_model(dtype_name, torch_one_thread):
    """Weights and biases in two param groups (their own lr and weight decay, changed mid-run as a
    scheduler would): the norm is over every group's parameters, as clip_grad_norm_ of the model's
    parameters (the groups' launches step together: optgen/runtime/lockstep.py). It was refused."""
    import torch

    import optgen.torch as ot
    from _torch_training import assert_same_params, backward, data, two_groups, twin_models
    dtype = getattr(torch, dtype_name)
    ours, theirs = twin_models("mlp", dtype)
    x, y = data("mlp", dtype)
    opt = ot.Optimizer(two_groups(ours, 1e-2, 0.1), "adamw_clip", max_norm=0.5, clip_eps=1e-6)
    ref = torch.optim.AdamW(two_groups(theirs, 1e-2, 0.1))
    clipped = 0
    for step in range(150):
        if step == 70:
            for o in (opt, ref):
                o.param_groups[1]["lr"] = 3e-3
        backward(ours, x, y, step)
        opt.step()
        backward(theirs, x, y, step)
        clipped += float(torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.5)) > 0.5
        ref.step()
        assert_same_params(ours, theirs, f"step {step}")
    assert clipped > 20  # the clip acted, with both groups' gradients in the norm
