"""Muon (optgen/specs/muon.py) against torch.optim.Muon, and the float64 oracle.

torch runs the Newton–Schulz iteration in bfloat16 (``_zeropower_via_newtonschulz`` casts
the update with ``.bfloat16()``); optgen runs it in the parameter's dtype. To compare
trajectories, the tests replace torch's iteration by :func:`torch_newton_schulz_no_bf16`:
torch's own loop (transpose, clamp of the norm, ``addmm`` twice per step), copied from
torch 2.13's ``torch/optim/_muon.py`` with the bfloat16 cast left out, so the update stays
in the parameter's dtype. Everything else is torch.optim.Muon itself. With the cast in, the
two differ by bfloat16's rounding (about 4e-3 relative per step), which a last test measures.

An N-D weight is its first dimension by the rest (optax's muon and optgen): torch's Muon
takes only 2-D parameters, so a 4-D weight is compared with a torch parameter of the
reshaped shape holding the same numbers.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from _torch_muon import no_bf16  # noqa: F401  (a fixture)

import optgen
from optgen.declarations import SpecError

STEPS = 150
#: (optgen's shape, torch's 2-D shape): rows > cols, rows < cols, square, a 4-D weight, odd sizes
SHAPES = [((9, 4), (9, 4)), ((4, 11), (4, 11)), ((6, 6), (6, 6)), ((6, 3, 2, 2), (6, 12)), ((13, 7), (13, 7))]
TOL = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-4, atol=2e-5)}


def _options(adjust_lr_fn, nesterov):
    return {"nesterov": nesterov, "match_rms_adamw": adjust_lr_fn == "match_rms_adamw"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("nesterov", [True, False], ids=["nesterov", "plain"])
@pytest.mark.parametrize("adjust_lr_fn", [None, "original", "match_rms_adamw"])
def test_matches_torch_muon(dtype, nesterov, adjust_lr_fn, no_bf16):
    rng = np.random.default_rng(7)
    params = [rng.standard_normal(s).astype(dtype) for s, _ in SHAPES]
    theirs = [torch.tensor(p.reshape(ts)) for p, (_, ts) in zip(params, SHAPES)]
    hypers = dict(lr=0.02, weight_decay=0.01, momentum=0.9)
    opt = optgen.create("muon", params, **_options(adjust_lr_fn, nesterov), **hypers)
    ref = torch.optim.Muon(theirs, nesterov=nesterov, adjust_lr_fn=adjust_lr_fn, **hypers)
    for step in range(STEPS):
        grads = [rng.standard_normal(s).astype(dtype) for s, _ in SHAPES]
        for p, gr, (_, ts) in zip(theirs, grads, SHAPES):
            p.grad = torch.tensor(gr.reshape(ts))
        ref.step()
        opt.step(grads)
        for i, (ours, p) in enumerate(zip(params, theirs)):
            np.testing.assert_allclose(ours.reshape(p.shape), p.numpy(), **TOL[dtype],
                                       err_msg=f"step {step + 1} tensor {i} {SHAPES[i][0]}")
    state = opt.state_dict()
    bufs = [ref.state[p]["momentum_buffer"].numpy() for p in theirs]
    for i, buf in enumerate(bufs):
        np.testing.assert_allclose(np.asarray(state["states"][i]["momentum_buffer"]).reshape(buf.shape), buf,
                                   **TOL[dtype])


def test_matches_torch_muon_training_a_module(no_bf16):
    """A small MLP's weight matrices (16 x 5 and 3 x 16) trained by optgen, their real gradients handed to
    torch.optim.Muon on a copy of them too. Open loop: each step's gradient is the one at optgen's
    weights, so a rounding difference (numpy's matmul against torch's addmm) does not feed back
    through the loss (in a closed loop the two drift apart chaotically once the loss is small)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 16, bias=False), torch.nn.Tanh(),
                                torch.nn.Linear(16, 3, bias=False)).double()
    copies = [p.detach().clone() for p in model.parameters()]
    x, y = torch.randn(64, 5, dtype=torch.float64), torch.randn(64, 3, dtype=torch.float64)
    weights = [p.detach().numpy() for p in model.parameters()]  # views: optgen updates torch's memory
    opt = optgen.create("muon", weights, lr=0.05)
    ref = torch.optim.Muon(copies, lr=0.05)
    first = torch.nn.functional.mse_loss(model(x), y).item()
    for step in range(STEPS):
        model.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        for c, p in zip(copies, model.parameters()):
            c.grad = p.grad.clone()
        ref.step()
        opt.step([p.grad.numpy() for p in model.parameters()])
        for a, b in zip(model.parameters(), copies):
            np.testing.assert_allclose(a.detach().numpy(), b.numpy(), rtol=1e-9, atol=1e-11,
                                       err_msg=f"step {step + 1}")
    assert torch.nn.functional.mse_loss(model(x), y).item() < 0.8 * first  # it trained


@pytest.mark.parametrize("options", [{}, {"nesterov": False, "match_rms_adamw": True}], ids=["default", "other"])
def test_matches_the_float64_oracle(options):
    rng = np.random.default_rng(3)
    shapes = [s for s, _ in SHAPES]
    params = [rng.standard_normal(s) for s in shapes]
    mirror = [p.copy() for p in params]
    opt = optgen.create("muon", params, lr=0.01, **options)
    ref = optgen.reference("muon", mirror, lr=0.01, **options)
    for step in range(STEPS):
        grads = [rng.standard_normal(s) for s in shapes]
        opt.step(grads)
        ref.step([gr.copy() for gr in grads])
        for a, b in zip(params, mirror):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12, err_msg=f"step {step + 1}")


def test_the_oracle_orthogonalises():
    """By hand: one step from B = 0 with weight decay 0 moves W by lr * NS(g); for a g whose singular
    values are all 1 (an orthogonal matrix) NS maps them to p^5(1) with p(s) = a s + b s^3 + c s^5."""
    q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))
    g = q * 2.0  # ||g||_F = 4: normalised, every singular value is 1/2
    s = 0.5
    for _ in range(5):
        s = 3.4445 * s - 4.7750 * s**3 + 2.0315 * s**5
    w = [np.zeros((4, 4))]
    optgen.reference("muon", w, lr=1.0, weight_decay=0.0, momentum=0.0, nesterov=False).step([g])
    np.testing.assert_allclose(w[0], -s * q, rtol=1e-12, atol=1e-14)


def test_torch_bf16_difference_is_bfloat16_sized():
    """What the test replacement leaves out: torch's own bfloat16 iteration differs from optgen's float64
    one by bfloat16's rounding (a few 1e-3 of the update), no more."""
    rng = np.random.default_rng(1)
    g = rng.standard_normal((32, 16))
    ours = [np.zeros_like(g)]
    optgen.create("muon", ours, lr=1.0, weight_decay=0.0).step([g])
    p = torch.zeros(32, 16, dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor(g)
    torch.optim.Muon([p], lr=1.0, weight_decay=0.0).step()
    diff = np.abs(ours[0] - p.detach().numpy()).max() / np.abs(ours[0]).max()
    assert 1e-5 < diff < 3e-2


@pytest.mark.parametrize("shape", [(5,), ()])
def test_one_dimensional_tensors_are_refused(shape):
    for make in (optgen.create, optgen.reference):
        with pytest.raises(SpecError) as err:
            opt = make("muon", [np.zeros((3, 4)), np.zeros(shape)])
            opt.step([np.ones((3, 4)), np.ones(shape)])
        text = str(err.value)
        assert "optgen/specs/muon.py" in text and "equation 3" in text and "newton_schulz" in text
        assert str(shape) in text and "two or more dimensions" in text


def test_torch_refuses_one_dimensional_tensors_too():
    with pytest.raises(ValueError, match="2D"):
        torch.optim.Muon([torch.zeros(5, requires_grad=True)])


@pytest.mark.parametrize("shape", [(5, 9), (9, 5), (6, 6)])
@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_the_runtime_iteration_in_place_is_the_oracles(shape, dtype, rtol):
    """The runtime's allocation-free iteration (a tall matrix iterated as itself, buffers kept
    between calls) gives the oracle's values: the textbook form, transposing a tall matrix."""
    from optgen.matrix import orthogonalise
    from optgen.runtime.matrix import newton_schulz_in_place
    rng = np.random.default_rng(1)
    work = {}
    for _ in range(2):  # the second call reuses the buffers the first made
        x = rng.standard_normal(shape).astype(dtype)
        want = orthogonalise(x.astype(np.float64), 5, (3.4445, -4.7750, 2.0315), 1e-7)
        newton_schulz_in_place(x, 5, (3.4445, -4.7750, 2.0315), 1e-7, work)
        np.testing.assert_allclose(x, want, rtol=rtol, atol=rtol)
    assert len(work) == 1


@pytest.mark.parametrize("shape", [(5, 9), (9, 5), (6, 6), (40, 24)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_the_bfloat16_iteration_is_torchs_to_the_bit(shape, dtype):
    """``newton_schulz(..., dtype="bfloat16")`` runs torch.optim.Muon's own iteration: the runtime's
    result (kept buffers, a tall matrix transposed as torch does) equals torch's
    ``_zeropower_via_newtonschulz`` exactly, widened to the parameter's dtype."""
    from torch.optim._muon import _zeropower_via_newtonschulz
    from optgen.runtime.matrix import newton_schulz_bfloat16
    rng = np.random.default_rng(2)
    work = {}
    for _ in range(2):  # the second call reuses the buffers the first made
        x = rng.standard_normal(shape).astype(dtype)
        want = _zeropower_via_newtonschulz(torch.tensor(x), (3.4445, -4.7750, 2.0315), 5, 1e-7)
        newton_schulz_bfloat16(x, 5, (3.4445, -4.7750, 2.0315), 1e-7, work)
        np.testing.assert_array_equal(x, want.to(torch.float64).numpy().astype(dtype))


BF16_MUON = '''
from optgen.dsl import Spec, g, hyper, newton_schulz, w
lr = hyper('lr', 0.1)
spec = Spec('ns_bf16', [(w, w - lr * newton_schulz(g, dtype="bfloat16"))])
'''


def test_a_bfloat16_iteration_is_the_oracles_to_bfloat16_rounding(tmp_path):
    """The spec's kernels iterate in bfloat16, the oracle evaluates the same equation in float64:
    they differ by bfloat16's rounding (a few 1e-3 of the update), no more, and the printed
    equation and the module say which precision the step runs in."""
    path = tmp_path / "ns_bf16.py"
    path.write_text(BF16_MUON)
    spec = optgen.load_spec(str(path))
    assert "dtype='bfloat16'" in str(spec.equations[0][1])
    rng = np.random.default_rng(3)
    g = rng.standard_normal((24, 16))
    ours, oracle = [np.zeros_like(g)], [np.zeros_like(g)]
    opt = optgen.create(spec, ours)
    assert opt.module.VARIANTS[()].matrix_steps[0][0].dtype == "bfloat16"
    opt.step([g])
    optgen.reference(spec, oracle).step([g])
    diff = np.abs(ours[0] - oracle[0]).max() / np.abs(oracle[0]).max()
    assert 1e-5 < diff < 3e-2


def test_an_unknown_iteration_dtype_is_refused():
    with pytest.raises(SpecError, match=r"newton_schulz: dtype='float16'; allowed: None .* or 'bfloat16'"):
        optgen.dsl.newton_schulz(optgen.dsl.g, dtype="float16")
