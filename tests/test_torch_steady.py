"""optgen.torch's steady path: a group's step that repeats the last one's plan, members and addresses.

After its first step a group's step goes straight to the cached CPU optimizer while
nothing it depends on changed (optgen/torch/launch.py, ``Steady``). Each test runs
optgen.torch beside torch.optim (``foreach=False``, the independent source) on copies
of the same float64 tensors with the same gradients, changes one thing mid-run (a
scheduler, a missing gradient, a loaded checkpoint, a replaced state tensor, a step
count written by hand) and compares the parameters after every step (float64: 1e-9
relative, as tests/_torch_training.py). ``slow_steps`` counts the steps that planned
and formed cohorts, so that each test also shows which path it exercised.
"""
from __future__ import annotations

import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

import optgen.torch as ot
from optgen.torch import cohorts

SHAPES = [(6, 5), (5,), (3, 2, 4), (1,)]
TOL = dict(rtol=1e-9, atol=1e-12)
CASES = {
    "adam": (lambda ps: ot.Adam(ps, lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1),
             lambda ps: torch.optim.Adam(ps, lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1, foreach=False)),
    "momentum": (lambda ps: ot.SGD(ps, lr=1e-2, momentum=0.9, weight_decay=0.01),
                 lambda ps: torch.optim.SGD(ps, lr=1e-2, momentum=0.9, weight_decay=0.01, foreach=False)),
    "nadam": (lambda ps: ot.NAdam(ps, lr=1e-2), lambda ps: torch.optim.NAdam(ps, lr=1e-2, foreach=False)),
}
#: a spec with a per-tensor option: its matrices and its vectors are two launches of one step
PER_TENSOR = {"adafactor": (lambda ps: ot.Adafactor(ps, lr=1e-2, weight_decay=0.1),
                            lambda ps: torch.optim.Adafactor(ps, lr=1e-2, weight_decay=0.1, foreach=False))}


@pytest.fixture(autouse=True)
def nadam_in_float64(request):
    """torch keeps NAdam's mu_product in the default dtype: float64 for the NAdam cases."""
    case = getattr(getattr(request.node, "callspec", None), "params", {}).get("case")
    before = torch.get_default_dtype()
    if case == "nadam":
        torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


def tensors(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g, dtype=torch.float64) for s in SHAPES]


def grads(k: int) -> list[torch.Tensor]:
    return tensors(1000 + k)


class Twins:
    """optgen.torch and torch.optim on equal copies; ``step`` gives both the same gradients."""

    def __init__(self, case: str, monkeypatch, groups=None):
        self.mine, self.theirs = tensors(), tensors()
        make_mine, make_theirs = {**CASES, **PER_TENSOR}[case]
        self.opt = make_mine(groups(self.mine) if groups else self.mine)
        self.ref = make_theirs(groups(self.theirs) if groups else self.theirs)
        self.k = 0
        self.tol = TOL
        self.slow_steps = 0
        split = cohorts.split

        def counted(*args):
            self.slow_steps += 1
            return split(*args)
        monkeypatch.setattr(cohorts, "split", counted)

    def step(self, skip=(), fresh: bool = False) -> None:
        """One step; parameters in ``skip`` have no gradient; ``fresh``: new gradient tensors (as
        after ``zero_grad(set_to_none=True)``), otherwise the same ones refilled in place."""
        for ps in (self.mine, self.theirs):
            for i, (p, g) in enumerate(zip(ps, grads(self.k))):
                if i in skip:
                    p.grad = None
                elif fresh or p.grad is None:
                    p.grad = g.clone()
                else:
                    p.grad.copy_(g)
        self.opt.step()
        self.ref.step()
        self.k += 1
        self.check()

    def check(self) -> None:
        for a, b in zip(self.mine, self.theirs):
            torch.testing.assert_close(a, b, **self.tol)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("fresh", [False, True])
def test_steady_steps_follow_torch(case, fresh, monkeypatch):
    t = Twins(case, monkeypatch)
    for _ in range(30):
        t.step(fresh=fresh)
    assert t.slow_steps == 1  # planned once; every later step took the steady path
    for mine, theirs in zip(t.mine, t.theirs):  # torch's state_dict format: the same step tensors
        if case == "momentum":  # torch's SGD keeps no step
            continue
        assert t.opt.state[mine]["step"].shape == t.ref.state[theirs]["step"].shape == ()
        assert float(t.opt.state[mine]["step"]) == float(t.ref.state[theirs]["step"]) == 30.0


def test_a_float32_host_state_stays_steady(monkeypatch):
    """optgen.torch keeps NAdam's mu_product in float64, torch in the default dtype (float32 here);
    given a float32 one, the steady path holds the value the tensor holds, rounded, and stays steady."""
    t = Twins("nadam", monkeypatch)
    t.tol = dict(rtol=1e-6, atol=1e-8)  # both now round mu_product to float32, in different orders
    for _ in range(3):
        t.step()
    for p in t.mine:
        t.opt.state[p]["mu_product"] = t.opt.state[p]["mu_product"].float()
    assert t.ref.state[t.theirs[0]]["mu_product"].dtype == torch.float32
    for _ in range(10):
        t.step()
    assert t.slow_steps == 2


@pytest.mark.parametrize("case", ["adam", "momentum"])
def test_a_scheduler_changing_lr_and_betas(case, monkeypatch):
    t = Twins(case, monkeypatch)
    kw = dict(max_lr=0.05, total_steps=40, cycle_momentum=True)
    if case == "adam":
        kw.update(base_momentum=0.7, max_momentum=0.9)
    scheds = [torch.optim.lr_scheduler.OneCycleLR(o, **kw) for o in (t.opt, t.ref)]
    for _ in range(40):
        t.step()
        for s in scheds:
            s.step()
    assert t.slow_steps == 1  # new values of the same kernels: the plan is replaced, not the path


def test_a_parameter_without_a_gradient_for_a_step(monkeypatch):
    t = Twins("adam", monkeypatch)
    for k in range(20):
        t.step(skip=(1,) if k in (5, 6) else ())
    # planned: the first step, the first without the bias's gradient (the second repeats it), and
    # the bias's return: it stays two steps behind, two cohorts, and the two launches repeat
    assert t.slow_steps == 1 + 1 + 1
    assert float(t.opt.state[t.mine[1]]["step"]) == 18.0


def test_the_launches_of_per_tensor_options_repeat(monkeypatch):
    """Adafactor's factored tensors and its vectors are two launches (two plans, two sets of
    cohorts); both repeat, also after the vector skipped a step and fell behind."""
    t = Twins("adafactor", monkeypatch)
    for k in range(20):
        t.step(skip=(1,) if k == 4 else ())
    # cohorts() once per plan (matrices; vectors) on each planned step: the first, the one without
    # the (5,) vector's gradient, and its return (one step behind the (1,) vector): 2 + 2 + 2
    assert t.slow_steps == 6


def test_a_parameter_skipped_from_the_first_step_rejoins(monkeypatch):
    t = Twins("momentum", monkeypatch)
    for k in range(12):
        t.step(skip=(2,) if k < 4 else ())
    assert t.slow_steps == 1 + 1  # steady while the members stay; it rejoins as a second cohort, steady too


def test_a_parameter_without_a_gradient_replaced_in_its_group():
    """The steady path compares the group's parameters themselves, not only those with gradients:
    a gradient-less parameter swapped for another that has one is planned and stepped (hand
    derivation of SGD, w <- w - lr * g, lr = 0.5, g = 1)."""
    a, b, c = (torch.zeros(3, dtype=torch.float64) for _ in range(3))
    opt = ot.SGD([a, b], lr=0.5)
    a.grad = torch.ones(3, dtype=torch.float64)
    opt.step()
    opt.step()
    c.grad = torch.ones(3, dtype=torch.float64)
    opt.param_groups[0]["params"][1] = c
    opt.step()
    torch.testing.assert_close(a, torch.full((3,), -1.5, dtype=torch.float64))
    torch.testing.assert_close(b, torch.zeros(3, dtype=torch.float64))
    torch.testing.assert_close(c, torch.full((3,), -0.5, dtype=torch.float64))


def test_load_state_dict_mid_run(monkeypatch):
    t = Twins("adam", monkeypatch)
    for _ in range(5):
        t.step()
    other = tensors(7)
    donor = torch.optim.Adam(other, lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1, foreach=False)
    for k in range(3):
        for p, g in zip(other, grads(50 + k)):
            p.grad = g
        donor.step()
    sd = donor.state_dict()
    t.opt.load_state_dict(sd)
    t.ref.load_state_dict(sd)
    for _ in range(5):
        t.step()
    assert float(t.opt.state[t.mine[0]]["step"]) == 8.0


@pytest.mark.parametrize("case,name", [("adam", "exp_avg"), ("adam", "exp_avg_sq"), ("adam", "step"),
                                       ("momentum", "momentum_buffer"), ("nadam", "mu_product")])
def test_a_replaced_state_tensor_is_the_one_updated(case, name, monkeypatch):
    """Found: the cached CPU optimizer kept the old tensor's address, so after
    ``opt.state[p][name] = new`` the kernels went on updating memory nobody read."""
    t = Twins(case, monkeypatch)
    for _ in range(4):
        t.step()
    for opt, ps in ((t.opt, t.mine), (t.ref, t.theirs)):
        for p in ps:
            old = opt.state[p][name]
            opt.state[p][name] = old * 0.5 if name != "step" else torch.tensor(1.0, dtype=old.dtype)
    for _ in range(6):
        t.step()
    assert t.slow_steps == 2  # the step after the replacement planned again, then steady


def test_a_step_count_written_in_place(monkeypatch):
    t = Twins("adam", monkeypatch)
    for _ in range(4):
        t.step()
    for opt, ps in ((t.opt, t.mine), (t.ref, t.theirs)):
        opt.state[ps[0]]["step"].fill_(1.0)  # same tensor, new value: that parameter restarts its bias correction
    for _ in range(4):
        t.step()


def test_a_tensor_lr_changed_in_place(monkeypatch):
    t = Twins("adam", monkeypatch, groups=lambda ps: [{"params": ps, "lr": torch.tensor(1e-2, dtype=torch.float64)}])
    for k in range(8):
        t.step()
        if k == 3:
            for o in (t.opt, t.ref):
                o.param_groups[0]["lr"].fill_(3e-2)


def test_two_groups_one_of_them_changing(monkeypatch):
    t = Twins("momentum", monkeypatch, groups=lambda ps: [{"params": ps[:2]}, {"params": ps[2:], "lr": 0.1}])
    for k in range(10):
        t.step(skip=(3,) if k == 4 else ())
        if k == 6:
            for o in (t.opt, t.ref):
                o.param_groups[1]["momentum"] = 0.5


def test_step_hooks_run_around_the_step():
    ps = tensors()
    for p, g in zip(ps, grads(0)):
        p.grad = g
    opt = ot.Adam(ps, lr=1e-2)
    calls = []

    def pre(o, args, kwargs):
        calls.append(("pre", o is opt, float(opt.state[ps[0]]["step"]) if ps[0] in opt.state else 0.0))

    def post(o, args, kwargs):
        calls.append(("post", o is opt, float(opt.state[ps[0]]["step"])))

    def global_pre(o, args, kwargs):
        calls.append(("global pre", o is opt, None))

    def global_post(o, args, kwargs):
        calls.append(("global post", o is opt, None))

    handles = [opt.register_step_pre_hook(pre), opt.register_step_post_hook(post),
               register_optimizer_step_pre_hook(global_pre),
               register_optimizer_step_post_hook(global_post)]
    try:
        opt.step()
        opt.step()
    finally:
        for h in handles:
            h.remove()
    opt.step()
    assert calls == [("global pre", True, None), ("pre", True, 0.0), ("post", True, 1.0), ("global post", True, None),
                     ("global pre", True, None), ("pre", True, 1.0), ("post", True, 2.0), ("global post", True, None)]


def test_a_pre_hook_may_replace_the_arguments():
    ps = tensors()
    for p, g in zip(ps, grads(0)):
        p.grad = g
    opt = ot.SGD(ps, lr=1e-2)
    opt.register_step_pre_hook(lambda o, args, kwargs: (args, {"closure": lambda: 42.0}))
    assert opt.step() == 42.0
    opt.register_step_pre_hook(lambda o, args, kwargs: "nonsense")
    with pytest.raises(RuntimeError, match="tuple of"):
        opt.step()


def test_the_profiler_range_only_under_a_profiler(monkeypatch):
    ps = tensors()
    for p, g in zip(ps, grads(0)):
        p.grad = g
    opt = ot.Adam(ps, lr=1e-2)
    opened = []
    real = torch.autograd.profiler.record_function

    def recording(name, *a):
        opened.append(name)
        return real(name, *a)
    monkeypatch.setattr(torch.autograd.profiler, "record_function", recording)
    opt.step()
    assert opened == []
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        opt.step()
    assert opened == ["Optimizer.step#Adam.step"]
    assert "Optimizer.step#Adam.step" in {e.key for e in prof.key_averages()}


def test_a_subclass_with_its_own_step_runs_each_hook_once():
    class Mine(ot.SGD):
        def step(self, closure=None):
            return super().step(closure)

    ps = tensors()
    for p, g in zip(ps, grads(0)):
        p.grad = g
    opt = Mine(ps, lr=1e-2)
    calls = []
    opt.register_step_pre_hook(lambda *a: calls.append("pre"))
    opt.register_step_post_hook(lambda *a: calls.append("post"))
    opt.step()
    assert calls == ["pre", "post"]
