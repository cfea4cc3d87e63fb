"""Classes with the names and signatures a torch user expects.

Where torch.optim has the optimizer, the constructor is torch's (same
arguments, defaults and group keys; the spec and its options are chosen from
them). The other specs get a class each, named as the literature does, whose
arguments are the spec's hyperparameters and options (``betas`` joined as in
torch): ``LAMB(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0)``.
"""
from __future__ import annotations

import inspect

import torch

from . import forms, torch_forms
from .optimizer import Optimizer


def _given(local: dict) -> dict:
    return {k: v for k, v in local.items() if k not in ("self", "params", "__class__")}


def _form_with(form: forms.Form, given: dict) -> forms.Form:
    form.defaults = {**form.defaults, **given}
    return form


class Adam(Optimizer):
    """torch.optim.Adam's signature on optgen's ``adam`` (``adamw`` with decoupled_weight_decay=True)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        self._init_form(params, _form_with(torch_forms.adam("optgen.torch.Adam", False), _given(locals())))


class AdamW(Optimizer):
    """torch.optim.AdamW's signature on optgen's ``adamw``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        self._init_form(params, _form_with(torch_forms.adam("optgen.torch.AdamW", True), _given(locals())))


class SGD(Optimizer):
    """torch.optim.SGD's signature: optgen's ``sgd`` with momentum 0, ``momentum`` otherwise."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        self._init_form(params, _form_with(torch_forms.sgd(), _given(locals())))


class RMSprop(Optimizer):
    """torch.optim.RMSprop's signature on optgen's ``rmsprop``."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        self._init_form(params, _form_with(torch_forms.rmsprop(), _given(locals())))


class Adagrad(Optimizer):
    """torch.optim.Adagrad's signature on optgen's ``adagrad``."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        self._init_form(params, _form_with(torch_forms.adagrad(), _given(locals())))


class Adadelta(Optimizer):
    """torch.optim.Adadelta's signature on optgen's ``adadelta``."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        self._init_form(params, _form_with(torch_forms.adadelta(), _given(locals())))


class Adamax(Optimizer):
    """torch.optim.Adamax's signature on optgen's ``adamax``."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        self._init_form(params, _form_with(torch_forms.adamax(), _given(locals())))


class NAdam(Optimizer):
    """torch.optim.NAdam's signature on optgen's ``nadam``."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        self._init_form(params, _form_with(torch_forms.nadam(), _given(locals())))


class RAdam(Optimizer):
    """torch.optim.RAdam's signature on optgen's ``radam`` (rectified when rho_t > 5, as torch)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        self._init_form(params, _form_with(torch_forms.radam(), _given(locals())))


class Muon(Optimizer):
    """torch.optim.Muon's signature on optgen's ``muon`` (2-D and N-D weights), and one argument of
    optgen's: ``ns_dtype``, the Newton–Schulz iteration's precision. ``torch.bfloat16`` (the default)
    iterates as torch.optim.Muon does, through torch's bfloat16 matmul; None iterates in the
    parameter's dtype, as optgen's ``muon`` spec and its oracle do (docs/matrix-steps.md)."""

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None, *,
                 ns_dtype=torch.bfloat16):
        self._init_form(params, _form_with(torch_forms.muon(), _given(locals())))


class Adafactor(Optimizer):
    """torch.optim.Adafactor's signature on optgen's ``adafactor``: tensors of two or more axes
    factored (row_var, col_var), the others not (variance), as torch chooses."""

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        self._init_form(params, _form_with(torch_forms.adafactor(), _given(locals())))


TORCH_CLASSES = [Adam, AdamW, SGD, RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam, Muon, Adafactor]

#: class name -> spec, for the specs torch.optim does not ship
SPEC_CLASSES = {
    "LAMB": "lamb", "LARS": "lars", "LARSEMA": "lars_ema", "Ranger": "ranger", "RangerLARS": "ranger_lars",
    "Paratrooper": "paratrooper", "AdaBound": "adabound", "RAdamW": "radamw", "Nesterov": "nesterov",
    "ObjaxAdam": "objax_adam", "RMSpropWarmstart": "rmsprop_warmstart", "Momentum": "momentum",
}


def spec_class(class_name: str, spec_name: str) -> type:
    """An Optimizer subclass for one spec, its signature the spec's hyperparameters (betas joined)."""
    from ..registry import load_spec
    spec = load_spec(spec_name)
    defaults = forms.generic_defaults(spec, {}, class_name)

    def __init__(self, params, **hypers):
        Optimizer.__init__(self, params, spec_name, **hypers)

    params = [inspect.Parameter("params", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    params += [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v) for k, v in defaults.items()]
    __init__.__signature__ = inspect.Signature([inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY),
                                                *params])
    doc = f"optgen's ``{spec_name}`` spec as a torch optimizer: {spec.doc}\n\nDefaults: " + ", ".join(
        f"{k}={v!r}" for k, v in defaults.items())
    return type(class_name, (Optimizer,), {"__init__": __init__, "__doc__": doc, "__module__": __name__})


#: old class name -> new one, kept for one release
RENAMED_CLASSES = {"RMSpropSeed": "RMSpropWarmstart"}


def __getattr__(name: str):
    if name in RENAMED_CLASSES:
        import warnings
        warnings.warn(f"optgen.torch.{name} is now {RENAMED_CLASSES[name]}; the old name will be removed in "
                      f"the next release", DeprecationWarning, stacklevel=2)
        name = RENAMED_CLASSES[name]
    if name in SPEC_CLASSES:
        cls = spec_class(name, SPEC_CLASSES[name])
        globals()[name] = cls
        return cls
    raise AttributeError(name)
