"""``optgen.torch.Optimizer``: any optgen spec as a real ``torch.optim.Optimizer``.

Everything torch's base class does is inherited (``param_groups``, ``state``,
``zero_grad``, hooks, ``state_dict``) but the wrapper around ``step``, which is
this class's own (the same hooks; the profiler's range only under a profiler);
the step reads each group's entries
afresh, so schedulers that rewrite ``lr``, ``momentum`` or ``betas`` in the
groups work unchanged. The kernels are optgen's CPU kernels for CPU tensors and
its CUDA kernels for CUDA tensors (on torch's current stream), reaching the
parameters, gradients and torch-owned state tensors in place (see
:mod:`optgen.torch.launch` for how per-parameter step counts are kept, and
:mod:`optgen.torch.devices` for what is asked of torch's CUDA side).
"""
from __future__ import annotations

import torch
from torch._C._autograd import _profiler_enabled  # any profiler (autograd's, Kineto's) recording
from torch.optim import optimizer as torch_optimizer

from .. import abi
from ..runtime import lockstep
from ..axes import reduced_shape

from . import checkpoint, cohorts, devices, forms, launch, tensors


class Optimizer(torch.optim.Optimizer):
    """``optgen.torch.Optimizer(params, spec, **hypers)``: ``spec`` is a name, a spec file's path or a Spec.

    ``hypers`` are the spec's hyperparameters and build-time options (``optgen list``
    shows them; ``beta1``/``beta2`` may be given as ``betas=(b1, b2)``, the name the
    param groups use). Every param group may set its own values, options included.
    """

    def __init__(self, params, spec, **hypers):
        self._init_form(params, forms.generic_form(spec, hypers))

    def _init_form(self, params, form: forms.Form) -> None:
        self._form = form
        self._plans: dict = {}
        self._launchers = launch.Launchers()
        self._steady: dict = {}  # group index -> launch.Steady of its last step
        self._across_groups = False  # a sum over every parameter, over several groups: one lockstep
        form.check_group(form.defaults, form.title)
        super().__init__(params, dict(form.defaults))

    # -- groups --
    def add_param_group(self, param_group: dict) -> None:
        """torch's add_param_group, after checking the group's keys, values and tensors (nothing is
        added when a check fails)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._form.title}: a param group must be a dict, not {type(param_group).__name__}")
        where = f"{self._form.title}, param_groups[{len(self.param_groups)}]"
        group = _join_betas(dict(param_group), self._form)
        filled = {**self._form.defaults, **group}
        self._form.check_group(filled, where)
        launch.make_plan(self._form, filled, where)  # values inside their domains, kernels built
        params = group["params"]
        if not isinstance(params, (torch.Tensor, set)):  # a generator is read once: keep its items
            group["params"] = params = list(params)
        for i, p in enumerate([params] if isinstance(params, torch.Tensor) else params):
            tensors.check_param(p[1] if isinstance(p, tuple) else p, f"{where}['params'][{i}]")
        param_group.clear()
        param_group.update(group)
        super().add_param_group(param_group)
        if self._form.eager_state is not None:
            for p in self.param_groups[-1]["params"]:
                self._init_state(p, self.param_groups[-1])

    # -- the step --
    @torch.compiler.disable
    def step(self, closure=None):
        """One step of every param group; returns ``closure()``'s loss when a closure is given.

        Parameters whose ``.grad`` is None are skipped (their state does not advance).
        Every group is checked before any parameter is updated. No autograd mode is set: the
        kernels write the memory of detached tensors, and the state tensors never require grad.
        On CUDA tensors the step is asynchronous, as torch's own: its kernels are queued on
        torch's current stream.

        This is torch's step wrapper too (``step.hooked`` keeps torch.optim.Optimizer from
        wrapping it again): the global and per-optimizer step pre- and post-hooks run as in
        ``torch.optim.Optimizer.profile_hook_step``, and the profiler's ``Optimizer.step#...``
        range is opened only while a profiler is recording (entering it costs microseconds
        a step, a tenth of a small model's step).
        """
        if type(self).step is not Optimizer.step:  # a subclass's own step, which torch wrapped
            return self._step(closure)
        if _profiler_enabled():
            with torch.autograd.profiler.record_function(f"Optimizer.step#{type(self).__name__}.step"):
                return self._hooked_step(closure)
        return self._hooked_step(closure)

    step.hooked = True

    def _hooked_step(self, closure):
        """The step between its pre- and post-hooks (global ones first before, last after, as torch)."""
        args, kwargs = ((self,) if closure is None else (self, closure)), {}  # as a plain opt.step() gives them
        if not (torch_optimizer._global_optimizer_pre_hooks or self._optimizer_step_pre_hooks or
                self._optimizer_step_post_hooks or torch_optimizer._global_optimizer_post_hooks):
            out = Optimizer._step(self, closure)  # no hooks (the usual case): no lists of them
            self._optimizer_step_code()
            return out
        for hook in [*torch_optimizer._global_optimizer_pre_hooks.values(), *self._optimizer_step_pre_hooks.values()]:
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{self._form.title}.step: a step pre-hook must return None or a tuple "
                                       f"of (new_args, new_kwargs), but got {result}.")
                args, kwargs = result
        out = Optimizer._step(*args, **kwargs)
        self._optimizer_step_code()  # where torch's profiler looks at an optimizer after its step
        for hook in [*self._optimizer_step_post_hooks.values(), *torch_optimizer._global_optimizer_post_hooks.values()]:
            hook(self, args, kwargs)
        return out

    def _step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        torch_threads = torch.get_num_threads()
        try:
            steady = self._steady_groups()
            if steady is None:
                self._steady = {}  # until this step has run every group
                work = [self._prepare(i, group) for i, group in enumerate(self.param_groups)]
                steady = [self._group_launches(i, plan, members) for i, (plan, members) in enumerate(work)]
                self._across_groups = self._sums_across_groups(work, steady)
                self._run_groups(steady)
                self._steady = dict(enumerate(steady))
            else:
                self._run_groups(steady)
        finally:
            # Numba's OpenMP layer sets the calling thread's OpenMP thread count at each launch,
            # and torch's intra-op pool reads the same setting: give torch its own count back.
            if torch.get_num_threads() != torch_threads:
                torch.set_num_threads(torch_threads)
        return loss

    def _steady_groups(self) -> list | None:
        """Every group's :class:`launch.Steady` when each can repeat its last step, else None."""
        steady = self._steady
        if len(steady) != len(self.param_groups):
            return None
        out = []
        for i, group in enumerate(self.param_groups):
            s = steady.get(i)
            if s is None or not s.check(group, self.state, lambda: self._plan(i, group),
                                        lambda p, g, j: tensors.check_grad(p, g, self._where_param(i, j))):
                return None
            out.append(s)
        return out

    def _where_param(self, i: int, j: int) -> str:
        return f"{self._form.title}, param_groups[{i}]['params'][{j}]"

    def _sums_across_groups(self, work: list, steady: list) -> bool:
        """Whether a spec that sums over every parameter (``global_sum``: clip_by_global_norm, ...)
        has launches in more than one param group: the sum is then over every group's parameters
        (as ``clip_grad_norm_(model.parameters())``), all launches stepped together."""
        if not any(abi.sums_over_all_tensors(plan.module.VARIANTS.values()) for plan, _ in work):
            return False
        if sum(1 for st in steady if st.launches) < 2:
            return False
        self._check_together(work[0][0], [la for st in steady for la in st.launches])
        return True

    def _run_groups(self, steady: list) -> None:
        if self._across_groups:
            cohorts.run_together([la for st in steady for la in st.launches], self._form.title)
            return
        for st in steady:
            st.run()

    def _plan(self, index: int, group: dict) -> launch.Plan:
        key = launch.group_key(group, self._form)
        cached = self._plans.get(index)
        if cached is None or cached[0] != key:
            where = f"{self._form.title}, param_groups[{index}]"
            self._form.check_group({k: v for k, v in group.items() if k in self._form.defaults}, where)
            cached = (key, launch.make_plan(self._form, group, where))
            self._plans[index] = cached
        return cached[1]

    def _prepare(self, index: int, group: dict):
        plan = self._plan(index, group)
        members = []
        for j, p in enumerate(group["params"]):
            if p.grad is not None:
                tensors.check_grad(p, p.grad, self._where_param(index, j))
                members.append(p)
        return plan, members

    def _group_launches(self, index: int, plan: launch.Plan, params: list) -> launch.Steady:
        """The group's launches (one per cohort of each set of per-tensor option values), as the
        group's :class:`launch.Steady`, which this step and the next ones run."""
        parts: dict = {}  # a spec with per-tensor options (Adafactor's factored): its tensors by their plan
        for p in params:
            part = plan.for_shape(p.shape)
            parts.setdefault(id(part), (part, []))[1].append(p)
        together = len(parts) > 1 and any(abi.sums_over_all_tensors(part.module.VARIANTS.values())
                                          for part, _ in parts.values())
        launches = [la for part, members in parts.values() for la in self._launches(part, members)]
        if together:
            self._check_together(plan, launches)
        return launch.Steady(self.param_groups[index], self._form, launches, self.state, together)

    def _check_together(self, plan: launch.Plan, launches: list) -> None:
        """A spec that sums over every parameter and sets an option per tensor (clip_by_global_norm
        around Adafactor): its launches step in lockstep (launch.run_together), as one launch would."""
        lockstep.check_together([la.plan.module for la in launches], plan.spec, self._form.title)
        self._check_one_launch([la.cohort for la in launches])

    def _check_one_launch(self, found: list) -> None:
        """The cohorts of a spec that sums over every parameter: one device, one step count."""
        places = {str(c.place[1]) for c in found}
        if len(places) > 1:
            raise ValueError(f"{self._form.title}: this spec sums over every parameter (global_sum), but "
                             f"the parameters are on devices {sorted(places)}, and each device is its own "
                             "launch, so the sum would run over each device alone; put them on one device")
        steps, hosts = sorted({c.step for c in found}), sorted({c.host for c in found})
        if len(steps) > 1 or len(hosts) > 1:
            differ = f"step counts {steps}" if len(steps) > 1 else f"host states {hosts}"
            raise ValueError(f"{self._form.title}: this spec sums over every parameter (global_sum), but the "
                             f"parameters with gradients are at different {differ} (some skipped steps "
                             "without a gradient), so they cannot be updated in one launch; give every "
                             "parameter a gradient each step")

    def _launches(self, plan: launch.Plan, params: list) -> list[launch.Launch]:
        host_names = [self._form.torch_name(h) for h in plan.module.HOST_STATES]
        states = []
        for p in params:
            if not self.state[p]:
                self._init_state(p, None)
            states.append(self._ensure_states(p, plan))
        found = cohorts.split(params, states, host_names)
        if len(found) > 1 and abi.sums_over_all_tensors(plan.module.VARIANTS.values()):
            self._check_one_launch(found)
        names = ["step", *(self._form.torch_name(s) for s in [*plan.module.STATES, *abi.axis_states(plan.module)]),
                 *host_names]
        launches = []
        for cohort in found:
            launcher = self._launchers.get(plan, cohort.params, [self.state[p] for p in cohort.params],
                                           self._form.state_names, cohort.place)
            views = launch.axis_state_views(plan, [self.state[p] for p in cohort.params], self._form.state_names)
            launches.append(launch.Launch(plan, cohort, launcher, views, names))
        return launches

    # -- state --
    def _init_state(self, p: torch.Tensor, group) -> None:
        """A parameter's first state: step 0 (torch's scalar tensor); arrays come with its first plan."""
        st = self.state[p]
        st["step"] = torch.tensor(0.0, dtype=checkpoint.step_dtype())
        if self._form.eager_state is not None and group is not None:
            self._form.eager_state(p, st, group)

    def _ensure_states(self, p: torch.Tensor, plan: launch.Plan) -> dict:
        """The state tensors the plan's kernels need (a new option's state starts at zero)."""
        st = self.state[p]
        for s in plan.module.STATES:
            name = self._form.torch_name(s)
            if name not in st or st[name] is None:
                st[name] = devices.zeros_like(p)
        for s, (kind, _) in abi.axis_states(plan.module).items():  # torch.optim.Adafactor's shapes
            name = self._form.torch_name(s)
            if name not in st or st[name] is None:
                st[name] = p.detach().new_zeros(reduced_shape(p.shape, kind))
        for h in plan.module.HOST_STATES:
            name = self._form.torch_name(h)
            if name not in st:
                st[name] = torch.tensor(0.0, dtype=torch.float64)
        return st

    # -- copies --
    def __getstate__(self):
        """torch's (defaults, state, groups) and the form; the launchers hold addresses: rebuilt."""
        return {**super().__getstate__(), "_form": self._form}

    def __setstate__(self, state):
        super().__setstate__(state)
        self._plans = {}
        self._launchers = launch.Launchers()
        self._steady = {}

    # -- checkpoints --
    def load_state_dict(self, state_dict: dict) -> None:
        """torch's load_state_dict, after checking that every state fits this optimizer (nothing is
        changed when a check fails); loaded tensors are copied, laid out as their parameters."""
        converted = checkpoint.check_and_convert(self, state_dict)
        before = [dict(g) for g in self.param_groups]
        super().load_state_dict(converted)
        for group, mine in zip(self.param_groups, before):  # torch.optim.Muon's groups have no ns_dtype:
            for key in self._form.optgen_only:              # such a key keeps this optimizer's value
                group.setdefault(key, mine[key])
        for group, saved in zip(self.param_groups, converted["param_groups"]):
            for p, index in zip(group["params"], saved["params"]):  # torch's cast copies: replaced
                self.state.pop(p, None)
                if index in converted["state"]:
                    self.state[p] = converted["state"][index]
        self._plans.clear()
        self._launchers.clear()
        self._steady.clear()


def _join_betas(group: dict, form: forms.Form) -> dict:
    """A group given ``beta1``/``beta2`` where the optimizer keeps ``betas``."""
    if "betas" in form.defaults and any(b in group for b in forms.BETAS) and "beta1" not in form.defaults:
        b1, b2 = group.pop("betas", form.defaults["betas"])
        group["betas"] = (group.pop("beta1", b1), group.pop("beta2", b2))
    return group
