"""The implementations a benchmark compares; each is set up inside its own worker process.

An implementation is ``setup(cfg) -> step``: it allocates parameters, gradients
and its state for ``cfg["shapes"]`` in ``cfg["dtype"]``, and returns a function
that performs one optimizer step (and waits for it to finish). ``available(cfg)``
says whether it can run here (library installed, optimizer known to it).

Peers run with their own defaults for the same algorithm; only the bytes moved
matter here, and those are the spec's (``traffic``).
"""
from __future__ import annotations

import importlib.util
import inspect
import math
from typing import Callable

import numpy as np

from .floor import seeded_rng, setup_stream


def _numpy_arrays(cfg, scale=1.0):
    rng = seeded_rng(cfg)
    dt = np.dtype(cfg["dtype"])
    params = [rng.standard_normal(s, dtype=dt) for s in cfg["shapes"]]
    grads = [rng.standard_normal(s, dtype=dt) * dt.type(scale) for s in cfg["shapes"]]
    return params, grads


def _hypers(cfg) -> dict:
    return dict(cfg.get("hypers") or {})


# -- optgen ---------------------------------------------------------------------------

def setup_optgen(cfg) -> Callable[[], None]:
    import optgen
    params, grads = _numpy_arrays(cfg, 1e-2)
    opt = optgen.create(cfg["name"], params, **_hypers(cfg), **(cfg.get("options") or {}))
    return lambda: opt.step(grads)


def _torch_tensors(cfg) -> list:
    """CPU torch tensors over the benchmark's parameters, each with its ``.grad`` set (shared memory)."""
    import torch
    params, grads = _numpy_arrays(cfg, 1e-2)
    tensors = []
    for p, gr in zip(params, grads):
        x = torch.from_numpy(p).requires_grad_(True)
        x.grad = torch.from_numpy(gr)
        tensors.append(x)
    return tensors


def setup_optgen_torch(cfg) -> Callable[[], None]:
    """optgen through ``optgen.torch.Optimizer`` on torch tensors: what a training loop calls
    (the torch.optim API: param groups read every step, gradients from ``.grad``)."""
    import optgen.torch as optgen_torch
    opt = optgen_torch.Optimizer(_torch_tensors(cfg), cfg["name"], **_hypers(cfg), **(cfg.get("options") or {}))
    return opt.step


def _optgen_torch_available(cfg) -> bool:
    return importlib.util.find_spec("torch") is not None and _spec_known(cfg)


def setup_optgen_torch_class(cfg) -> Callable[[], None]:
    """optgen's drop-in class for the torch.optim one (``optgen.torch.Muon`` for ``torch.optim.Muon``),
    made with the same arguments as the torch peers: what swapping the import gives (for Muon,
    torch's bfloat16 iteration, where ``optgen-torch`` runs the spec's, in the parameter's dtype)."""
    import optgen.torch as optgen_torch
    cls_name, kw = TORCH[cfg["name"]]
    return getattr(optgen_torch, cls_name)(_torch_tensors(cfg), **kw, **_torch_options(cfg)).step


def _optgen_torch_class_available(cfg) -> bool:
    if importlib.util.find_spec("torch") is None or cfg["name"] not in TORCH or cfg["name"] in TORCH_CLIP:
        return False
    import optgen.torch as optgen_torch
    return hasattr(optgen_torch, TORCH[cfg["name"]][0])


def setup_optgen_one_tensor(cfg) -> Callable[[], None]:
    """optgen on one tensor holding as many parameters as the whole list."""
    n = sum(math.prod(s) for s in cfg["shapes"])
    return setup_optgen({**cfg, "shapes": [(n,)]})


# -- naive numpy ---------------------------------------------------------------------

def setup_numpy(cfg) -> Callable[[], None]:
    """The spec's equations, one numpy expression each, per tensor, in the array's dtype."""
    import sympy

    from ..registry import load_spec
    from ..runtime import hypers as hyper_values
    spec = load_spec(cfg["name"])
    options, values = hyper_values.resolve(spec, {**_hypers(cfg), **(cfg.get("options") or {})})
    spec = spec.resolve(**options)
    params, grads = _numpy_arrays(cfg, 1e-2)
    from ..spec import GlobalSum
    modules = [{"TensorSum": np.sum}, "numpy"]
    eqs = []  # (target, argument names, function, summed over every tensor)

    def add(target: str, expr, over_all: bool) -> None:
        for k, gs in enumerate(sorted(expr.atoms(GlobalSum), key=sympy.count_ops)):
            sym = sympy.Symbol(f"_{target}_global_{k}")
            add(sym.name, gs.args[0], True)
            expr = expr.xreplace({gs: sym})
        args = sorted(expr.free_symbols, key=lambda s: s.name)
        eqs.append((target, [a.name for a in args], sympy.lambdify(args, expr, modules=modules), over_all))

    for lhs, rhs in spec.equations:
        add(lhs.name, rhs, False)
    state_names = [s.name for s in spec.states]
    states = []
    for p in params:
        st = {}
        for s in spec.states:
            init = float(s.init) if s.init is not None and not getattr(s.init, "free_symbols", None) else 0.0
            st[s.name] = np.full(p.shape, init, p.dtype)
        states.append(st)
    clock = {"t": 0}

    def step():
        clock["t"] += 1
        t = clock["t"]
        hyper = hyper_values.values_at(spec, values, t)
        envs = [{**hyper, **st, "w": p, "g": gr, "t": t} for p, gr, st in zip(params, grads, states)]
        with np.errstate(all="ignore"):
            for target, names, fn, over_all in eqs:  # each equation for every tensor
                results = [fn(*(env[a] for a in names)) for env in envs]
                if over_all:  # a global_sum's summand: its total over every element of every tensor
                    results = [sum(np.sum(np.broadcast_to(r, p.shape)) for r, p in zip(results, params))] * len(envs)
                for env, r in zip(envs, results):
                    env[target] = r
            for p, st, env in zip(params, states, envs):
                p[...] = env["w"]
                for s in state_names:
                    st[s][...] = env[s]
    return step


# -- torch.optim --------------------------------------------------------------------------

# spec name -> (torch.optim class name, extra keyword arguments)
TORCH = {
    "adam": ("Adam", {}), "adamw": ("AdamW", {}), "sgd": ("SGD", {"lr": 1e-3}),
    "momentum": ("SGD", {"lr": 1e-3, "momentum": 0.9}),
    "sgd_momentum": ("SGD", {"lr": 1e-3, "momentum": 0.9}),
    "nesterov": ("SGD", {"lr": 1e-3, "momentum": 0.9, "nesterov": True}),
    "rmsprop": ("RMSprop", {}), "nadam": ("NAdam", {}), "radam": ("RAdam", {}),
    "adamax": ("Adamax", {}), "adadelta": ("Adadelta", {}), "adagrad": ("Adagrad", {}),
    "asgd": ("ASGD", {}), "rprop": ("Rprop", {}), "adamw_clip": ("AdamW", {}),
    "adafactor": ("Adafactor", {}), "muon": ("Muon", {}),
}
#: specs that clip the gradient by its global norm first: torch.nn.utils.clip_grad_norm_
#: (foreach) with this max_norm before the optimizer's step, as a torch training loop does
TORCH_CLIP = {"adamw_clip": 1.0}
TORCH_MODES = {"torch-forloop": {"foreach": False}, "torch-foreach": {"foreach": True},
               "torch-fused": {"fused": True}}


def _torch_options(cfg) -> dict:
    out = {}
    for k, v in (cfg.get("options") or {}).items():
        if k in ("amsgrad", "maximize", "nesterov", "centered", "decoupled_weight_decay"):
            out[k] = bool(v)
    return out


def _mode_arguments(cls, mode: str) -> dict | None:
    """The keyword arguments that select ``mode``; a class with one implementation only
    (torch.optim.Muon takes no ``foreach``) runs as ``torch-forloop`` and nothing else."""
    if "foreach" in inspect.signature(cls.__init__).parameters:
        return TORCH_MODES[mode]
    return {} if mode == "torch-forloop" else None


def torch_available(cfg, mode) -> bool:
    if importlib.util.find_spec("torch") is None or cfg["name"] not in TORCH:
        return False
    import torch
    cls_name, kw = TORCH[cfg["name"]]
    cls = getattr(torch.optim, cls_name)
    mode_kw = _mode_arguments(cls, mode)
    if mode_kw is None:
        return False
    try:  # does this class take the mode (fused is not everywhere on the CPU) and tensors of these ranks
        # (torch.optim.Muon takes 2-D ones only)?
        ws = [torch.zeros((2,) * d, dtype=getattr(torch, cfg["dtype"]), requires_grad=True)
              for d in sorted({len(s) for s in cfg["shapes"]})]
        for w in ws:
            w.grad = torch.ones_like(w)
        opt = cls(ws, **kw, **_torch_options(cfg), **mode_kw)
        opt.step()
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


def setup_torch(cfg, mode) -> Callable[[], None]:
    import torch
    cls_name, kw = TORCH[cfg["name"]]
    params = _torch_tensors(cfg)
    cls = getattr(torch.optim, cls_name)
    opt = cls(params, **kw, **_torch_options(cfg), **_mode_arguments(cls, mode))
    max_norm = TORCH_CLIP.get(cfg["name"])
    if max_norm is None:
        return opt.step

    def clip_then_step():
        torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)
        opt.step()
    return clip_then_step


def setup_torch_compile(cfg) -> Callable[[], None]:
    """torch's own step (its single-tensor loop) under ``torch.compile``: Inductor fuses it into
    one generated C++ loop per tensor group, the strongest thing a torch user gets for an
    optimizer without a fused kernel. The first call compiles (the tables' first-step time)."""
    import torch
    cls_name, kw = TORCH[cfg["name"]]
    params = _torch_tensors(cfg)
    cls = getattr(torch.optim, cls_name)
    opt = cls(params, **kw, **_torch_options(cfg), **_mode_arguments(cls, "torch-forloop"))
    max_norm = TORCH_CLIP.get(cfg["name"])

    @torch.compile(fullgraph=False)
    def step():
        if max_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=False)
        opt.step()
    return step


# -- optax under jax.jit ----------------------------------------------------------------

OPTAX = {"adam": "adam", "adamw": "adamw", "sgd": "sgd", "momentum": "sgd", "sgd_momentum": "sgd",
         "nesterov": "sgd", "rmsprop": "rmsprop", "nadam": "nadam", "radam": "radam",
         "adamax": "adamax", "adadelta": "adadelta", "adagrad": "adagrad", "lamb": "lamb",
         "lars": "lars", "lion": "lion", "adabelief": "adabelief", "yogi": "yogi",
         "novograd": "novograd", "amsgrad": "amsgrad", "fromage": "fromage", "adamw_clip": "adamw"}
OPTAX_KW = {"momentum": {"momentum": 0.9}, "sgd_momentum": {"momentum": 0.9},
            "nesterov": {"momentum": 0.9, "nesterov": True}}


def optax_available(cfg) -> bool:
    if importlib.util.find_spec("optax") is None or importlib.util.find_spec("jax") is None:
        return False
    return cfg["name"] in OPTAX


def setup_optax(cfg) -> Callable[[], None]:
    import jax
    if cfg["dtype"] == "float64":
        jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax
    params, grads = _numpy_arrays(cfg, 1e-2)
    lr = 1e-2 if cfg["name"] == "rmsprop" else 1.0 if cfg["name"] == "adadelta" else 1e-3
    tx = getattr(optax, OPTAX[cfg["name"]])(lr, **OPTAX_KW.get(cfg["name"], {}))
    if cfg["name"] in TORCH_CLIP:
        tx = optax.chain(optax.clip_by_global_norm(TORCH_CLIP[cfg["name"]]), tx)
    p = [jnp.asarray(x) for x in params]
    gs = [jnp.asarray(x) for x in grads]
    del params, grads
    state = {"p": p, "s": tx.init(p)}

    def update(p, s, g):
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s

    jitted = jax.jit(update, donate_argnums=(0, 1))  # in place, as the others are

    def step():
        p, s = jitted(state["p"], state["s"], gs)
        jax.block_until_ready(p)
        state["p"], state["s"] = p, s
    return step


# -- pytorch-optimizer -------------------------------------------------------------------

PYTORCH_OPTIMIZER = {"lamb": "lamb", "lars": "lars", "adabelief": "adabelief", "lion": "lion",
                     "radam": "radam", "adamp": "adamp", "madgrad": "madgrad", "novograd": "novograd",
                     "yogi": "yogi", "ranger": "ranger", "adan": "adan", "sophia": "sophiah",
                     "adafactor": "adafactor", "diffgrad": "diffgrad", "adamax": "adamax"}


def pytorch_optimizer_available(cfg) -> bool:
    if importlib.util.find_spec("pytorch_optimizer") is None or cfg["name"] not in PYTORCH_OPTIMIZER:
        return False
    try:
        import pytorch_optimizer
        pytorch_optimizer.load_optimizer(PYTORCH_OPTIMIZER[cfg["name"]])
    except Exception:  # noqa: BLE001 - an optimizer this version lacks
        return False
    return True


def setup_pytorch_optimizer(cfg) -> Callable[[], None]:
    import pytorch_optimizer
    cls = pytorch_optimizer.load_optimizer(PYTORCH_OPTIMIZER[cfg["name"]])
    opt = cls(_torch_tensors(cfg), lr=1e-3)
    return opt.step


# -- the table -------------------------------------------------------------------------

def _always(cfg) -> bool:
    return True


def _spec_known(cfg) -> bool:
    try:
        from ..registry import load_spec
        load_spec(cfg["name"])
    except Exception:  # noqa: BLE001
        return False
    return True


IMPLS: dict[str, tuple[Callable, Callable]] = {
    "stream": (_always, setup_stream),
    "optgen": (_spec_known, setup_optgen),
    "optgen-1tensor": (lambda cfg: _spec_known(cfg) and len(cfg["shapes"]) > 1, setup_optgen_one_tensor),
    "optgen-torch": (_optgen_torch_available, setup_optgen_torch),
    "optgen-torch-class": (_optgen_torch_class_available, setup_optgen_torch_class),
    "numpy": (_spec_known, setup_numpy),
    "torch-forloop": (lambda cfg: torch_available(cfg, "torch-forloop"), lambda cfg: setup_torch(cfg, "torch-forloop")),
    "torch-foreach": (lambda cfg: torch_available(cfg, "torch-foreach"), lambda cfg: setup_torch(cfg, "torch-foreach")),
    "torch-fused": (lambda cfg: torch_available(cfg, "torch-fused"), lambda cfg: setup_torch(cfg, "torch-fused")),
    "torch-compile": (lambda cfg: torch_available(cfg, "torch-forloop"), setup_torch_compile),
    "optax-jit": (optax_available, setup_optax),
    "pytorch-optimizer": (pytorch_optimizer_available, setup_pytorch_optimizer),
}

#: Asked for by name only: torch.compile's first step compiles for tens of seconds per process;
#: optgen's torch.optim-named class is optgen-torch but for Muon.
ON_REQUEST = ("torch-compile", "optgen-torch-class")
DEFAULT_IMPLS = [i for i in IMPLS if i not in ON_REQUEST]

# implementation -> (the Python package it needs, its table of optimizers by spec name)
PEER_TABLES = {"torch-forloop": ("torch", TORCH), "torch-foreach": ("torch", TORCH), "torch-fused": ("torch", TORCH),
               "torch-compile": ("torch", TORCH),
               "optax-jit": ("optax", OPTAX), "pytorch-optimizer": ("pytorch_optimizer", PYTORCH_OPTIMIZER)}


def unavailable_reason(impl: str, cfg) -> str:
    """Why ``impl`` cannot run ``cfg["name"]`` here, in words (for a peer the user asked for)."""
    name = cfg["name"]
    if impl == "optgen-torch" and importlib.util.find_spec("torch") is None:
        return "torch is not installed"
    if impl not in PEER_TABLES:
        return "the spec does not load" if impl.startswith(("optgen", "numpy")) else "not applicable here"
    package, table = PEER_TABLES[impl]
    if importlib.util.find_spec(package) is None or (impl == "optax-jit" and importlib.util.find_spec("jax") is None):
        return f"{package} is not installed"
    if name not in table:
        return (f"{package} has no counterpart of {name!r} known to optgen bench (peers are mapped for the "
                f"built-in optimizers only: {', '.join(sorted(table))})")
    return f"{package} here cannot run {name!r} in {cfg['dtype']} in this mode"
