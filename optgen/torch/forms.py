"""Forms: how a param group's entries become a spec, its build-time options and its hyperparameters.

torch keeps an optimizer's settings in each param group under its own names
(``betas`` as one tuple, ``nesterov``, ``foreach``...), and schedulers rewrite
them there between steps. A :class:`Form` reads a group: which spec runs
(``SGD`` is the ``sgd`` spec with momentum 0 and the ``momentum`` spec
otherwise; ``Adam(decoupled_weight_decay=True)`` is ``adamw``), with which
options, and every hyperparameter's value; and it names the states as torch
does, so that checkpoints are interchangeable with torch.optim's.

The generic form of any spec uses the spec's own names, with one exception
kept from torch: ``beta1`` and ``beta2`` live in the group as ``betas``, so that
OneCycleLR and CyclicLR (which cycle ``betas[0]``) work with every Adam-like spec.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from ..axes import per_tensor_options
from ..registry import load_spec
from ..spec import Spec, SpecError

BETAS = ("beta1", "beta2")


@dataclasses.dataclass
class TorchOnly:
    """An argument of torch's signature that optgen does not implement: the values that change nothing."""
    default: Any
    harmless: Callable[[Any], bool]
    why: str


def _falsy(v) -> bool:
    return not v


NO_EFFECT = {  # torch's implementation switches: same arithmetic, or refused
    "foreach": TorchOnly(None, lambda v: True, ""),
    "fused": TorchOnly(None, lambda v: True, ""),
    "capturable": TorchOnly(False, _falsy, "CUDA-graph capture of the step is not supported by optgen.torch"),
    "differentiable": TorchOnly(False, _falsy, "optgen's kernels update in place outside autograd; "
                                               "a differentiable step needs torch.optim"),
}


@dataclasses.dataclass
class Form:
    """The param-group layout of one optimizer class."""
    title: str                                   # in errors: "optgen.torch.Adam"
    defaults: dict                               # group keys -> defaults (torch's names)
    choose: Callable[[dict], tuple]              # group -> (spec name or Spec, build-time options)
    state_names: dict = dataclasses.field(default_factory=dict)   # spec state -> name in opt.state
    torch_only: dict = dataclasses.field(default_factory=dict)    # name -> TorchOnly
    optional_states: tuple = ()                  # may be absent from a loaded checkpoint (zeros)
    step_in_state: bool = True                   # torch keeps state["step"] (not SGD)
    refuse: Callable[[dict], str | None] = lambda group: None     # why a group cannot run, or None
    eager_state: Callable | None = None          # (p, state, group): torch's states made at construction
    values: Callable[[dict], dict] | None = None  # group -> its entries in the spec's names, where torch's differ
    optgen_only: tuple = ()                      # group keys torch's class lacks: a torch checkpoint keeps ours

    def spec_and_values(self, group: dict) -> tuple[Spec, dict, dict]:
        """(spec, options, raw hyperparameter values) of a group, in the spec's names."""
        spec, options = self.choose(group)
        spec = load_spec(spec)
        return spec, options, hyper_values_of(spec, group if self.values is None else {**group, **self.values(group)})

    def check_group(self, group: dict, where: str) -> None:
        """Unknown keys and torch-only arguments that would change the result: refused."""
        known = set(self.defaults) | {"params", "param_names"}
        unknown = sorted(set(group) - known)
        if unknown:
            raise SpecError(f"{where}: unknown hyperparameter(s) {unknown}; allowed: {', '.join(sorted(self.defaults))}")
        for name, rule in self.torch_only.items():
            if name in group and not rule.harmless(group[name]):
                raise ValueError(f"{where}: {name}={group[name]!r} is not supported: {rule.why} "
                                 f"(allowed: {name}={rule.default!r})")
        why = self.refuse(group)
        if why:
            raise ValueError(f"{where}: {why}")

    def torch_name(self, state: str) -> str:
        return self.state_names.get(state, state)


def plain(v):
    """A group's value as a Python number (torch allows tensors for lr and betas)."""
    if hasattr(v, "item") and getattr(v, "ndim", 1) == 0:
        return v.item()
    return v


def hyper_values_of(spec: Spec, group: dict) -> dict:
    """The spec's hyperparameters from a group; one the group does not name keeps the spec's default."""
    values = {}
    betas = group.get("betas")
    for h in spec.declared("hyper"):
        if h.name in BETAS and betas is not None:
            values[h.name] = plain(betas[BETAS.index(h.name)])
        elif h.name in group:
            values[h.name] = plain(group[h.name])
    return values


def generic_defaults(spec: Spec, given: dict, title: str) -> dict:
    """A spec's group defaults: its hyperparameters (betas joined) and options, overridden by ``given``."""
    names = [h.name for h in spec.hyper_symbols]
    defaults = {h.name: h.default for h in spec.declared("hyper")}
    per_tensor = per_tensor_options(spec)
    defaults.update({o: v for o, v in spec.options.items() if o not in per_tensor})
    if all(b in names for b in BETAS):
        defaults["betas"] = (defaults.pop("beta1"), defaults.pop("beta2"))
    given = dict(given)
    if any(b in given for b in BETAS) and all(b in names for b in BETAS):
        if "betas" in given:
            raise SpecError(f"{title}: give betas=(beta1, beta2) or beta1=/beta2=, not both")
        b1, b2 = defaults["betas"]
        given["betas"] = (given.pop("beta1", b1), given.pop("beta2", b2))
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise SpecError(f"{title}: unknown hyperparameter(s) {unknown}; allowed: {', '.join(sorted(defaults))}")
    defaults.update(given)
    return defaults


def generic_form(spec, given: dict) -> Form:
    """The form of any spec (a name, a path, a Spec): group keys are the spec's own names."""
    spec = load_spec(spec)
    title = f"optgen.torch.Optimizer({spec.name!r})"
    defaults = generic_defaults(spec, given, title)
    options = [o for o in spec.options if o not in per_tensor_options(spec)]  # those are set per tensor (launch.py)
    return Form(title, defaults, lambda group: (spec, {o: bool(group[o]) for o in options}))

