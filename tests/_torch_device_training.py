"""optgen.torch on device tensors: trainings checked against torch.optim (and a hand-written LAMB).

Shared by tests/cuda_sim/test_torch_cuda_sim.py (numba simulator device arrays standing in
for torch's CUDA tensors, through a substitute of ``optgen.torch.devices.CUDA``) and
tests/test_torch_cuda.py (real torch CUDA tensors, on a machine with a GPU). A ``Where``
says how a model's parameters go to the device under test and where the reference twin
trains (CPU under the simulator, the same GPU on a real one: the forward and backward are
then the same arithmetic on both sides).

Each training: an MLP, two param groups (weights and biases, different lr and weight
decay), 24 steps; at step 12 the groups' lr and weight decay change (as a scheduler would);
on steps 5, 11, 17 and 23 the last bias gets no gradient (its state and step count must not
advance, so the group runs as two cohorts of different step counts).
"""
from __future__ import annotations

import copy
import io
import math

import torch

import optgen.torch as ot
from optgen.runtime.cuda import CUDAOptimizer
from _torch_training import TOL, backward, data, two_groups

STEPS = 24
SKIP_EVERY = 6
CHANGE_AT = 12


class Where:
    """The device under test: ``place_tensors(params)`` puts parameters there (in place), ``owns(t)``
    says whether a tensor lives there, ``reference`` is the twin's device, ``allocated()`` the
    bytes allocated there so far."""
    reference = "cpu"

    def place(self, model):
        self.place_tensors(list(model.parameters()))

    def place_tensors(self, params: list) -> None:
        """Move each parameter's values to the device (in place: ``p.data``)."""
        raise NotImplementedError

    def owns(self, t: torch.Tensor) -> bool:
        raise NotImplementedError

    def allocated(self) -> int:
        raise NotImplementedError


def mlp(dtype, seed: int = 0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4)).to(dtype)


def twins(where: Where, dtype):
    """The model under test (parameters on the device) and its twin of the same values."""
    ours = mlp(dtype)
    theirs = copy.deepcopy(ours).to(where.reference)
    where.place(ours)
    return ours, theirs


class HandLAMB(torch.optim.Optimizer):
    """LAMB as optax.lamb computes it (optgen's lamb spec says the same, in its docstring):
    Adam's bias-corrected moments, u = m_hat / (sqrt(v_hat) + eps) + wd w, and
    w -= lr * (||w|| / ||u||) u, the ratio 1 where either norm is 0; a step count per parameter."""

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st.update(t=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                st["t"] += 1
                st["m"].mul_(b1).add_(p.grad, alpha=1 - b1)
                st["v"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                m_hat = st["m"] / (1 - b1 ** st["t"])
                v_hat = st["v"] / (1 - b2 ** st["t"])
                u = m_hat / (v_hat.sqrt() + group["eps"]) + group["weight_decay"] * p
                wn, un = float(p.norm()), float(u.norm())
                ratio = wn / un if wn > 0 and un > 0 else 1.0
                p.sub_(group["lr"] * ratio * u)


#: name -> (optgen.torch's class, the reference's class, lr, other arguments of both)
CASES = {
    "Adam": (ot.Adam, torch.optim.Adam, 1e-2, {}),
    "AdamW": (ot.AdamW, torch.optim.AdamW, 1e-2, {}),
    "SGD-momentum": (ot.SGD, torch.optim.SGD, 5e-2, dict(momentum=0.9)),
    "NAdam": (ot.NAdam, torch.optim.NAdam, 1e-2, {}),
    "LAMB": (ot.LAMB, HandLAMB, 1e-2, {}),
}


def make(name: str, model, reference: bool = False):
    """The case's optimizer over the model's two groups (weights: lr, weight decay 0.01; biases: lr/2, 0)."""
    ours, theirs, lr, kw = CASES[name]
    groups = two_groups(model, lr, 0.01)
    if not reference:
        return ours(groups, lr=lr, **kw)
    return theirs(groups, lr=lr, **kw, **({} if theirs is HandLAMB else dict(foreach=False)))


def _change_groups(opt) -> None:
    """What a scheduler does between steps: new lr and weight decay in the groups."""
    for group in opt.param_groups:
        group["lr"] *= 0.5
        group["weight_decay"] = 0.02 if group["weight_decay"] else 0.0


def _steps(model, opt, x, y, steps):
    for step in steps:
        if step == CHANGE_AT:
            _change_groups(opt)
        backward(model, x, y, step, skip_every=SKIP_EVERY)
        opt.step()
        yield step


def assert_close(ours, theirs, where: str) -> None:
    for (n, p), q in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(p.detach().cpu(), q.detach().cpu(), **TOL[p.dtype],
                                   msg=lambda m: f"{where}, {n}: {m}")


def launchers(opt) -> list:
    return list(opt._launchers._cache.values())


def train_against_reference(where: Where, name: str, dtype) -> None:
    """optgen.torch on device parameters follows the reference on its twin, step by step."""
    ours, theirs = twins(where, dtype)
    opt, ref = make(name, ours), make(name, theirs, reference=True)
    x, y = data("mlp", dtype)
    xs, ys = x.to(where.reference), y.to(where.reference)
    xo, yo = _on(where, ours, x), _on(where, ours, y)
    for step, _ in zip(_steps(ours, opt, xo, yo, range(STEPS)), _steps(theirs, ref, xs, ys, range(STEPS))):
        assert_close(ours, theirs, f"{name} {dtype} step {step}")
    assert launchers(opt) and all(isinstance(lo, CUDAOptimizer) for lo in launchers(opt))
    last_bias = list(ours.parameters())[-1]
    skipped = len(range(SKIP_EVERY - 1, STEPS, SKIP_EVERY))
    for p in ours.parameters():
        st = opt.state[p]
        assert st["step"].device.type == "cpu"  # as torch.optim keeps it (not capturable)
        assert int(st["step"]) == STEPS - (skipped if p is last_bias else 0)
        for k, v in st.items():
            if k != "step" and isinstance(v, torch.Tensor) and v.shape == p.shape:
                assert where.owns(v), f"{name}: state {k!r} is not on the device"


def _on(where: Where, model, batch: torch.Tensor) -> torch.Tensor:
    """A batch on the model's device (under the simulator, device memory is host memory)."""
    return batch.to(next(model.parameters()).device)


def checkpoint_round_trip(where: Where, name: str) -> None:
    """Save mid-run (torch.save), load into a fresh optimizer over fresh parameters, continue:
    the same parameters at every later step as the unbroken run, bit for bit (same kernels on
    the same values), and a state_dict of the same layout as optgen.torch's on CPU tensors."""
    dtype, half = torch.float32, 9  # after the skip at step 5: the last bias is one step behind
    unbroken, _ = twins(where, dtype)
    first, _ = twins(where, dtype)
    cpu_model = mlp(dtype)
    opts = [make(name, m) for m in (unbroken, first, cpu_model)]
    x, y = data("mlp", dtype)
    xo, yo = _on(where, unbroken, x), _on(where, unbroken, y)
    for _ in zip(_steps(unbroken, opts[0], xo, yo, range(half)), _steps(first, opts[1], xo, yo, range(half)),
                 _steps(cpu_model, opts[2], x, y, range(half))):
        pass
    buffer = io.BytesIO()
    torch.save(opts[1].state_dict(), buffer)
    _same_layout(opts[1].state_dict(), opts[2].state_dict(), where)

    resumed, _ = twins(where, dtype)
    with torch.no_grad():
        for p, q in zip(resumed.parameters(), first.parameters()):
            p.copy_(q)
    opt = make(name, resumed)
    buffer.seek(0)
    opt.load_state_dict(torch.load(buffer, weights_only=True))
    for p in resumed.parameters():
        st = opt.state[p]
        for k, v in st.items():
            if k != "step" and isinstance(v, torch.Tensor) and v.shape == p.shape:
                assert where.owns(v), f"loaded state {k!r} is not on the device"
    for step, _ in zip(_steps(unbroken, opts[0], xo, yo, range(half, STEPS)),
                       _steps(resumed, opt, xo, yo, range(half, STEPS))):
        for (n, p), q in zip(unbroken.named_parameters(), resumed.parameters()):
            assert torch.equal(p.detach().cpu(), q.detach().cpu()), f"{name} step {step} after the load, {n}"
    for a, b in zip(opts[0].state_dict()["state"].values(), opt.state_dict()["state"].values()):
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(torch.as_tensor(a[k]).cpu(), torch.as_tensor(b[k]).cpu()), k


def _same_layout(dev_sd: dict, cpu_sd: dict, where: Where) -> None:
    """Same indices, names, shapes, dtypes and step counts; the values agree to rounding."""
    assert dev_sd["param_groups"] == cpu_sd["param_groups"]
    assert dev_sd["state"].keys() == cpu_sd["state"].keys()
    for i in cpu_sd["state"]:
        d, c = dev_sd["state"][i], cpu_sd["state"][i]
        assert d.keys() == c.keys(), i
        for k in c:
            assert d[k].shape == c[k].shape and d[k].dtype == c[k].dtype, (i, k)
            if k == "step" or d[k].ndim == 0:
                assert d[k].device.type == "cpu" and float(d[k]) == float(c[k]), (i, k)
            else:
                assert where.owns(d[k]), (i, k)
                torch.testing.assert_close(d[k].cpu(), c[k], **TOL[c[k].dtype])


def grads_by_hand(params, step: int) -> None:
    """Seeded gradients on each parameter's own device (for parameters no one model holds)."""
    g = torch.Generator().manual_seed(step)
    for p in params:
        p.grad = torch.randn(p.shape, generator=g, dtype=p.dtype).to(p.device)


def mixed_group(where: Where) -> None:
    """One group holding CPU and device parameters: each device is its own launch (its own
    runtime), and the result is torch.optim's on CPU twins."""
    torch.manual_seed(1)
    values = [torch.randn(5, 3), torch.randn(7), torch.randn(4, 2)]
    theirs = [torch.nn.Parameter(v.clone()) for v in values]
    ours = [torch.nn.Parameter(v.clone()) for v in values]
    where.place_tensors(ours[1:])
    opt, ref = ot.Adam(ours, lr=1e-2), torch.optim.Adam(theirs, lr=1e-2, foreach=False)
    for step in range(STEPS):
        grads_by_hand(ours, step)
        grads_by_hand(theirs, step)
        opt.step()
        ref.step()
        for k, (p, q) in enumerate(zip(ours, theirs)):
            torch.testing.assert_close(p.detach().cpu(), q.detach(), **TOL[q.dtype],
                                       msg=lambda m: f"mixed step {step}, params[{k}]: {m}")
    kinds = sorted(type(lo).__name__ for lo in launchers(opt))
    assert kinds == ["CPUOptimizer", "CUDAOptimizer"]
    assert not where.owns(opt.state[ours[0]]["exp_avg"]) and where.owns(opt.state[ours[1]]["exp_avg"])


def global_sum_across_devices_is_refused(where: Where) -> None:
    """A spec that sums over every parameter cannot be split per device: a clear error, nothing updated."""
    params = [torch.nn.Parameter(torch.ones(3)), torch.nn.Parameter(torch.ones(4))]
    where.place_tensors(params[1:])
    opt = ot.Optimizer(params, "adamw_clip", lr=1e-2)
    grads_by_hand(params, 0)
    try:
        opt.step()
    except ValueError as exc:
        assert "sums over every parameter" in str(exc) and "devices" in str(exc), exc
    else:
        raise AssertionError("adamw_clip over CPU and device parameters ran")
    assert all(torch.equal(p.detach().cpu(), torch.ones(p.shape)) for p in params)


def states_are_the_devices_memory(where: Where) -> None:
    """Adam's two states of every parameter are allocated on the device, by the adapter (torch on
    a GPU: ``torch.cuda.memory_allocated`` counts them), at the first step."""
    params = [torch.nn.Parameter(torch.randn(1000)), torch.nn.Parameter(torch.randn(33, 7))]
    where.place_tensors(params)
    opt = ot.Adam(params, lr=1e-3)
    grads_by_hand(params, 0)
    before = where.allocated()
    opt.step()
    grown = where.allocated() - before
    need = 2 * sum(p.numel() * p.element_size() for p in params)
    assert need <= grown <= need + 2 * len(params) * 512, (grown, need)  # torch rounds to 512 bytes
    assert math.isclose(float(opt.state[params[0]]["step"]), 1.0)


def _lockstep(where: Where, ours, theirs, opt, ref, dtype):
    """STEPS steps of both models on the same batches, every parameter with a gradient; yields each step."""
    x, y = data("mlp", dtype)
    xs, ys = x.to(where.reference), y.to(where.reference)
    xo, yo = _on(where, ours, x), _on(where, ours, y)
    for step in range(STEPS):
        backward(ours, xo, yo, step)
        backward(theirs, xs, ys, step)
        opt.step()
        ref.step()
        yield step


def muon_follows_torch(where: Where, dtype) -> None:
    """optgen.torch.Muon on device matrices (its Newton–Schulz step between two CUDA kernels: on a
    GPU torch's bfloat16 matmuls on the device, under the simulator through the host) follows
    torch.optim.Muon on the twin: the same bfloat16 iteration, so the parameters agree to a few
    1e-4 (tests/test_torch_muon.py has the reasons), over a model without biases (Muon takes
    matrices only)."""
    torch.manual_seed(0)
    ours = torch.nn.Sequential(torch.nn.Linear(12, 16, bias=False), torch.nn.Tanh(),
                               torch.nn.Linear(16, 4, bias=False)).to(dtype)
    theirs = copy.deepcopy(ours).to(where.reference)
    where.place(ours)
    opt = ot.Muon(ours.parameters(), lr=0.02, momentum=0.9)
    ref = torch.optim.Muon(theirs.parameters(), lr=0.02, momentum=0.9)
    for step in _lockstep(where, ours, theirs, opt, ref, dtype):
        for p, q in zip(ours.parameters(), theirs.parameters()):
            worst = float((p.detach().cpu() - q.detach().cpu()).abs().max())
            assert worst < (1e-6 if step < 3 else 1e-3), f"Muon {dtype} step {step}: {worst}"
    assert launchers(opt) and all(isinstance(lo, CUDAOptimizer) for lo in launchers(opt))
    for p in ours.parameters():
        assert where.owns(opt.state[p]["momentum_buffer"])


def adafactor_follows_torch(where: Where, dtype) -> None:
    """optgen.torch.Adafactor on device tensors (the weights factored: row and column sums on the
    device, the per-row stage on the host; the biases not) follows torch.optim.Adafactor on the
    twin, with weight decay, and keeps its row and column statistics in torch's shapes, on the
    parameters' device (on a GPU, a CUDA tensor each: the runtime copies rows and columns in and out)."""
    ours, theirs = twins(where, dtype)
    opt = ot.Adafactor(ours.parameters(), lr=1e-2, weight_decay=0.01)
    ref = torch.optim.Adafactor(theirs.parameters(), lr=1e-2, weight_decay=0.01, foreach=False)
    for step in _lockstep(where, ours, theirs, opt, ref, dtype):
        assert_close(ours, theirs, f"Adafactor {dtype} step {step}")
    assert launchers(opt) and all(isinstance(lo, CUDAOptimizer) for lo in launchers(opt))
    for p, q in zip(ours.parameters(), theirs.parameters()):
        mine, torchs = opt.state[p], ref.state[q]
        assert set(mine) == set(torchs), (set(mine), set(torchs))
        for k, v in mine.items():
            if k != "step":
                assert v.shape == torchs[k].shape and v.device == p.device, k  # torch's shapes, on p's device
                torch.testing.assert_close(v.detach().cpu(), torchs[k].detach().cpu(), **TOL[dtype])


def clipped_adafactor_follows_torch(where: Where, dtype) -> None:
    """optgen.torch.Optimizer with clip_by_global_norm("adafactor", eps=1e-6) on device tensors
    follows torch.nn.utils.clip_grad_norm_ then torch.optim.Adafactor on the twin. The weights are
    factored and the biases not: two sets of kernels, stepped in lockstep so that the norm is
    over every parameter (optgen/runtime/lockstep.py; on the device, each part's partial sums
    are read back and the total sent to its finishing kernels). Half the steps are clipped."""
    from optgen.transforms import clip_by_global_norm
    max_norm = 0.05
    ours, theirs = twins(where, dtype)
    opt = ot.Optimizer(ours.parameters(), clip_by_global_norm("adafactor", max_norm, eps=1e-6), lr=1e-2)
    ref = torch.optim.Adafactor(theirs.parameters(), lr=1e-2, foreach=False)
    x, y = data("mlp", dtype)
    xs, ys = x.to(where.reference), y.to(where.reference)
    xo, yo = _on(where, ours, x), _on(where, ours, y)
    clipped = 0
    for step in range(STEPS):
        backward(ours, xo, yo, step)
        backward(theirs, xs, ys, step)
        if step % 2:  # small gradients, which the clip passes
            for model in (ours, theirs):
                for p in model.parameters():
                    p.grad.mul_(1e-3)
        clipped += float(torch.nn.utils.clip_grad_norm_(theirs.parameters(), max_norm)) > max_norm
        opt.step()
        ref.step()
        assert_close(ours, theirs, f"clip_by_global_norm(adafactor) {dtype} step {step}")
    assert clipped == STEPS // 2, clipped
    assert launchers(opt) and all(isinstance(lo, CUDAOptimizer) for lo in launchers(opt))
