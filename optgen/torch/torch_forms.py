"""The forms of the optimizers torch.optim ships: torch's group keys, its state names, its spec choices.

Each was checked against torch.optim's source and its trajectories
(tests/test_torch_trajectories.py for the specs, tests/test_torch_optim.py for
these classes): the hyperparameters mean the same, the states hold the same
values under the same names, so checkpoints move between the two.
"""
from __future__ import annotations

import functools

import torch

from ..registry import load_spec
from ..spec import SpecError
from .forms import NO_EFFECT, Form

ADAM_STATES = {"m": "exp_avg", "v": "exp_avg_sq", "vmax": "max_exp_avg_sq"}


def _torch_only(*names) -> dict:
    return {n: NO_EFFECT[n] for n in names}


def _defaults(hypers: dict, torch_only: dict) -> dict:
    return {**hypers, **{n: rule.default for n, rule in torch_only.items()}}


def _options(group: dict, *names) -> dict:
    return {n: bool(group[n]) for n in names}


def adam(title: str, decoupled_default: bool) -> Form:
    """Adam and AdamW: torch's AdamW is Adam with ``decoupled_weight_decay=True``."""
    only = _torch_only("foreach", "fused", "capturable", "differentiable")
    defaults = _defaults(dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2 if decoupled_default else 0,
                              amsgrad=False, maximize=False, decoupled_weight_decay=decoupled_default), only)
    return Form(title, defaults,
                lambda g: ("adamw" if g["decoupled_weight_decay"] else "adam", _options(g, "amsgrad", "maximize")),
                state_names=ADAM_STATES, torch_only=only)


def _sgd_choice(g: dict):
    if g["momentum"] == 0:  # torch's momentum=0 path: no buffer, dampening and nesterov unused
        return "sgd", _options(g, "maximize")
    return "momentum", _options(g, "nesterov", "maximize")


def _sgd_refuse(g: dict):
    if g["nesterov"] and (g["momentum"] <= 0 or g["dampening"] != 0):
        return "Nesterov momentum requires a momentum and zero dampening (as torch.optim.SGD)"
    return None


def sgd() -> Form:
    only = _torch_only("foreach", "fused", "differentiable")
    defaults = _defaults(dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False), only)
    return Form("optgen.torch.SGD", defaults, _sgd_choice, state_names={"buf": "momentum_buffer"},
                torch_only=only, step_in_state=False, refuse=_sgd_refuse)


def rmsprop() -> Form:
    only = _torch_only("foreach", "capturable", "differentiable")
    defaults = _defaults(dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                              maximize=False), only)
    # torch keeps momentum_buffer only with momentum > 0: absent from its checkpoints otherwise
    return Form("optgen.torch.RMSprop", defaults, lambda g: ("rmsprop", _options(g, "centered", "maximize")),
                torch_only=only, optional_states=("momentum_buffer",))


def _adagrad_sum(p, state, group) -> None:
    """torch.optim.Adagrad makes ``sum`` (filled with initial_accumulator_value) at construction."""
    from . import devices
    state["sum"] = devices.zeros_like(p).fill_(float(group["initial_accumulator_value"]))


def adagrad() -> Form:
    only = _torch_only("foreach", "fused", "differentiable")
    defaults = _defaults(dict(lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                              maximize=False), only)
    return Form("optgen.torch.Adagrad", defaults, lambda g: ("adagrad", _options(g, "maximize")),
                torch_only=only, eager_state=_adagrad_sum)


def adadelta() -> Form:
    only = _torch_only("foreach", "capturable", "differentiable")
    defaults = _defaults(dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False), only)
    return Form("optgen.torch.Adadelta", defaults, lambda g: ("adadelta", _options(g, "maximize")),
                torch_only=only)


def adamax() -> Form:
    only = _torch_only("foreach", "capturable", "differentiable")
    defaults = _defaults(dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False), only)
    return Form("optgen.torch.Adamax", defaults, lambda g: ("adamax", _options(g, "maximize")), torch_only=only)


def nadam() -> Form:
    only = _torch_only("foreach", "capturable", "differentiable")
    defaults = _defaults(dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                              decoupled_weight_decay=False, maximize=False), only)
    return Form("optgen.torch.NAdam", defaults,
                lambda g: ("nadam", _options(g, "decoupled_weight_decay", "maximize")), torch_only=only)


def _radam_refuse(g: dict):
    if g["maximize"]:
        return "maximize=True is not implemented for RAdam (specs/radam.py has no maximize option)"
    return None


def radam() -> Form:
    only = _torch_only("foreach", "capturable", "differentiable")
    defaults = _defaults(dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                              decoupled_weight_decay=False, maximize=False), only)
    return Form("optgen.torch.RAdam", defaults, lambda g: ("radam", _options(g, "decoupled_weight_decay")),
                state_names={"m": "exp_avg", "v": "exp_avg_sq"}, torch_only=only, refuse=_radam_refuse)


#: torch.optim.Muon's Newton-Schulz constants: the ones optgen/specs/muon.py is written with
MUON_CONSTANTS = dict(ns_coefficients=(3.4445, -4.7750, 2.0315), eps=1e-7, ns_steps=5)
MUON_ADJUST_LR = (None, "original", "match_rms_adamw")
#: optgen.torch.Muon's ``ns_dtype`` -> the iteration's dtype in the spec (newton_schulz's ``dtype``)
MUON_NS_DTYPES = {torch.bfloat16: "bfloat16", None: None}


@functools.lru_cache(maxsize=32)
def muon_spec(ns_coefficients: tuple, ns_steps: int, eps: float, dtype: str | None = None):
    """optgen/specs/muon.py with these Newton–Schulz constants and precision: the spec itself for
    torch's constants in the parameter's dtype, else the spec with its ``newton_schulz`` rewritten
    (compiled once per set, into the cache)."""
    from ..matrix import NewtonSchulz, newton_schulz
    spec = load_spec("muon")
    if (ns_coefficients, ns_steps, eps, dtype) == (*(MUON_CONSTANTS[k] for k in ("ns_coefficients", "ns_steps", "eps")),
                                                   None):
        return spec
    def rewrite(node):
        return newton_schulz(node.args[0], steps=ns_steps, coefficients=ns_coefficients, eps=eps, dtype=dtype)
    equations = [(lhs, rhs.replace(lambda e: isinstance(e, NewtonSchulz), rewrite)) for lhs, rhs in spec.equations]
    return spec.with_equations(equations)


def _muon_constants(g: dict) -> tuple:
    return (tuple(float(c) for c in g["ns_coefficients"]), g["ns_steps"], float(g["eps"]),
            MUON_NS_DTYPES[g["ns_dtype"]])


def _muon_refuse(g: dict):
    if g["adjust_lr_fn"] not in MUON_ADJUST_LR:
        return f"adjust_lr_fn={g['adjust_lr_fn']!r} is not supported; allowed: None, 'original', 'match_rms_adamw'"
    if g["ns_dtype"] not in tuple(MUON_NS_DTYPES):  # compared with ==: an unhashable value is refused too
        return (f"ns_dtype={g['ns_dtype']!r} is not supported; allowed: torch.bfloat16 (torch.optim.Muon's "
                "precision) or None (the parameter's dtype)")
    try:
        muon_spec(*_muon_constants(g))
    except (SpecError, TypeError, ValueError) as exc:  # newton_schulz says what is allowed
        return f"ns_coefficients={g['ns_coefficients']!r}, ns_steps={g['ns_steps']!r}, eps={g['eps']!r}: {exc}"
    return None


def muon() -> Form:
    """torch.optim.Muon: no step in its state; ``adjust_lr_fn`` is the spec's ``match_rms_adamw`` option;
    Newton–Schulz constants other than torch's defaults, and ``ns_dtype`` (optgen's: torch.bfloat16,
    torch's own precision, or None, the parameter's), make a spec of their own (:func:`muon_spec`)."""
    defaults = dict(lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True, adjust_lr_fn=None, **MUON_CONSTANTS,
                    ns_dtype=torch.bfloat16)
    return Form("optgen.torch.Muon", defaults,
                lambda g: (muon_spec(*_muon_constants(g)),
                           {"nesterov": bool(g["nesterov"]), "match_rms_adamw": g["adjust_lr_fn"] == "match_rms_adamw"}),
                step_in_state=False, refuse=_muon_refuse, optgen_only=("ns_dtype",))


def _adafactor_eps(g: dict) -> dict:
    """torch's ``eps=(eps1, eps2)`` as the spec's ``eps1``, ``eps2``; ``eps1=None`` is the machine epsilon
    of the parameters' dtype (torch takes it per parameter: one dtype per group here)."""
    eps1, eps2 = g["eps"]
    if eps1 is None:
        dtypes = sorted({str(p.dtype) for p in g.get("params", ())})
        if len(dtypes) > 1:
            raise ValueError(f"eps=(None, {eps2!r}) is each parameter's machine epsilon, and this group mixes "
                             f"{' and '.join(dtypes)}; give eps1 (eps=(1e-30, {eps2!r})) or one group per dtype")
        eps1 = torch.finfo(g["params"][0].dtype).eps if dtypes else torch.finfo(torch.float32).eps
    return {"eps1": eps1, "eps2": eps2}


def adafactor() -> Form:
    """torch.optim.Adafactor: its states (row_var and col_var of the factored tensors, variance of
    the others) under its names and shapes, so checkpoints move between the two."""
    only = _torch_only("foreach")
    defaults = _defaults(dict(lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, maximize=False),
                         only)
    return Form("optgen.torch.Adafactor", defaults, lambda g: ("adafactor", _options(g, "maximize")),
                torch_only=only, values=_adafactor_eps)

