"""Spec transforms: a spec in, a spec out — new optimizers from old ones.

A transform writes new equations around an inner spec's equations; the result
goes through the same pipeline as a hand-written spec (staging, passes, kernels,
the reference oracle). Nothing here emits code.

    from optgen.transforms import lookahead, decoupled_weight_decay, trust_ratio
    ranger = lookahead(decoupled_weight_decay(radam), k=6, alpha=0.5)

* :func:`lookahead` — slow weights ``phi`` (a state, ``phi_0 = w_0``) pulled
  towards the fast weights and copied back every ``k`` steps (Zhang et al. 2019).
  The sync test ``t mod k == 0`` depends only on host values, so it selects a
  kernel variant once per step; it is never a per-element branch.
* :func:`decoupled_weight_decay` — ``w <- inner(w) - lr * lambda * w_old``
  (Loshchilov & Hutter; torch.optim.AdamW's form). A coupled (L2) hyperparameter
  of the same name in the inner spec is removed (set to 0), so
  ``decoupled_weight_decay(adam)`` is AdamW with torch's names.
* :func:`trust_ratio` — the LARS/LAMB layer-wise scaling of the inner spec's
  step ``u = w_new - w_old``: ``w <- w_old + clip(r) * u`` with
  ``r = scale * ||w_old|| / ||u||`` (1 where either norm is 0). The norms are per
  tensor reductions, so the compiler splits the step into two passes.
* :func:`clip_by_global_norm`, :func:`clip_by_tensor_norm` — the inner spec reads
  the gradient scaled down to norm ``max_norm`` where its norm is larger, the norm
  over every tensor (optax.clip_by_global_norm, torch.nn.utils.clip_grad_norm_)
  or over each tensor. The norm is a sum over a whole pass, so the compiler gives
  it a pass of its own that reads only ``g``, and the inner update a second one.
* :func:`with_defaults`, :func:`renamed` — the same equations with other
  hyperparameter defaults or another name.

Every transform returns a new :class:`Spec` whose ``source`` is ``None`` (the
registry sets it to the spec file that assigns it) and whose ``transforms``
records how it was made.
"""
from __future__ import annotations

from typing import Callable

import sympy

from .declarations import Declaration, Domain, lookup
from .spec import GlobalSum, Grad, Hyper, Spec, SpecError, TensorSum, g, t, w

__all__ = [
    "lookahead", "decoupled_weight_decay", "trust_ratio", "with_defaults", "renamed",
    "clamp", "paratrooper_clip", "clip_by_global_norm", "clip_by_tensor_norm",
]


# --- helpers -----------------------------------------------------------------------

def _spec(inner) -> Spec:
    if isinstance(inner, Spec):
        return inner
    from .registry import load_spec
    return load_spec(inner)


def _names(spec: Spec) -> set[str]:
    """Every name a spec uses: hypers, options, states, intermediates."""
    out = {lhs.name for lhs, _ in spec.equations}
    for _, rhs in spec.equations:
        out |= {s.name for s in rhs.free_symbols}
    out |= {s.name for s in spec.states}
    return out


def _fresh(spec: Spec, base: str, taken: set | None = None) -> str:
    used = _names(spec) | (taken or set())
    name, i = base, 1
    while name in used:
        i += 1
        name = f"{base}{i}"
    if taken is not None:
        taken.add(name)
    return name


def _hyper(spec: Spec, value, name: str, latex: str, domain: str, doc: str) -> Declaration:
    """The declaration of ``value`` if it is a declared Hyper, else of a new hyperparameter
    named ``name`` with default ``value``; its name must be free in ``spec``."""
    if isinstance(value, Hyper):
        decl = lookup(value)
        if decl is None:
            raise SpecError(f"{spec.source or spec.name}: the hyperparameter {value.name!r} given to a transform "
                            "is never declared; make it with optgen.dsl.hyper(...)")
    else:
        decl = Declaration(name, "hyper", value, latex, Domain.parse(domain), doc)
    clash = next((s for s in _all_symbols(spec) if s.name == decl.name), None)
    if clash is not None:
        kind = spec.declarations[clash.name].kind if clash.name in spec.declarations else "symbol"
        raise SpecError(f"{spec.source or spec.name}: {spec.name!r} already has a {kind} named "
                        f"{decl.name!r}; pass a Hyper with another name (optgen.dsl.hyper(...)) to the transform")
    return decl


def _all_symbols(spec: Spec) -> list:
    seen = {}
    for lhs, rhs in spec.equations:
        for s in [lhs, *rhs.free_symbols]:
            seen.setdefault(s.name, s)
    return list(seen.values())


def _hyper_named(spec: Spec, name: str, what: str) -> Hyper:
    for h in spec.hyper_symbols:
        if h.name == name:
            return h
    raise SpecError(f"{spec.source or spec.name}: {what} needs a hyperparameter {name!r} in "
                    f"{spec.name!r}; it has {[h.name for h in spec.hyper_symbols]}")


def _derived(inner: Spec, name: str, equations, how: str, doc: str, references=(), declarations=()) -> Spec:
    """A spec made from ``inner``: its declarations come first, in its order (one of the same name
    in ``declarations`` takes its place), then ``declarations``' new ones in the order given."""
    table = {**inner.declarations, **{d.name: d for d in declarations}}
    return Spec(name, equations, doc=doc,
                references=[*inner.references, *[r for r in references if r not in inner.references]],
                source=None, transforms=[*inner.transforms, how], declarations=table)


# --- renaming and defaults ------------------------------------------------------------

def with_defaults(inner, name: str | None = None, doc: str | None = None, **defaults) -> Spec:
    """The same equations with other defaults for some hyperparameters (and options)."""
    spec = _spec(inner)
    changed = []
    for key, value in defaults.items():
        decl = spec.declarations.get(key)
        if decl is None or decl.kind == "state":
            raise SpecError(f"{spec.source or spec.name}: {spec.name!r} has no hyperparameter {key!r}; "
                            f"it has {sorted(spec.hypers)}")
        changed.append(decl.with_default(bool(value) if decl.kind == "option" else value))
    text = ", ".join(f"{k}={v!r}" for k, v in defaults.items())
    return _derived(spec, name or spec.name, spec.equations, f"with_defaults({spec.name}, {text})",
                    doc if doc is not None else spec.doc, declarations=changed)


def renamed(inner, name: str, doc: str | None = None) -> Spec:
    spec = _spec(inner)
    return _derived(spec, name, spec.equations, f"renamed({spec.name})",
                    doc if doc is not None else spec.doc)


# --- lookahead -------------------------------------------------------------------------

def lookahead(inner, k=5, alpha=0.5, *, name: str | None = None, doc: str | None = None) -> Spec:
    """Lookahead (Zhang et al. 2019, arXiv:1907.08610) around ``inner``.

    The inner spec updates the fast weights ``w`` every step. Slow weights
    ``phi`` start at ``w_0``; at every step ``t`` with ``t mod k == 0`` they move
    towards the fast weights, ``phi <- phi + alpha (w - phi)``, and the fast
    weights are reset to them. The inner spec's states are not reset.

    ``k`` and ``alpha`` are default values of new hyperparameters named ``k``
    and ``alpha``, or hyperparameters declared with ``optgen.dsl.hyper`` (to choose other names,
    e.g. when the inner spec already has an ``alpha``).
    """
    spec = _spec(inner)
    k_decl = _hyper(spec, k, "k", latex="k", domain="positive_integer",
                    doc="lookahead: sync period (the slow weights move every k steps)")
    alpha_decl = _hyper(spec, alpha, "alpha", latex=r"\alpha", domain="[0, 1]",
                        doc="lookahead: slow step size (interpolation towards the fast weights)")
    phi_decl = Declaration(_fresh(spec, "phi"), "state", w, latex=r"\phi", doc="lookahead: slow weights, phi_0 = w_0")
    k_sym, alpha_sym, phi = k_decl.symbol, alpha_decl.symbol, phi_decl.symbol
    sync = sympy.Eq(sympy.Mod(t, k_sym), 0)
    eqs = [*spec.equations,
           (phi, sympy.Piecewise((phi + alpha_sym * (w - phi), sync), (phi, True))),
           (w, sympy.Piecewise((phi, sync), (w, True)))]
    first = (spec.doc.strip().splitlines() or [spec.name])[0]
    return _derived(spec, name or f"lookahead_{spec.name}", eqs,
                    f"lookahead({spec.name}, k={k_sym.name}, alpha={alpha_sym.name})",
                    doc if doc is not None else f"Lookahead around {spec.name} ({first})",
                    references=["Zhang, Lucas, Hinton & Ba 2019, arXiv:1907.08610"],
                    declarations=[k_decl, alpha_decl, phi_decl])


# --- decoupled weight decay --------------------------------------------------------------

def decoupled_weight_decay(inner, weight_decay=1e-2, *, lr: str | None = "lr",
                           name: str | None = None, doc: str | None = None) -> Spec:
    """Weight decay outside the inner update: ``w <- inner(w) - lr * lambda * w_old``.

    With ``lr=None`` the decay is not scaled by the learning rate
    (``w <- inner(w) - lambda * w_old``). ``weight_decay`` is the default of a new
    hyperparameter ``weight_decay`` or a declared hyperparameter. If the inner spec already has a
    hyperparameter of that name (an L2 penalty added to the gradient), it is set
    to 0 in the inner equations: the decay is decoupled, not doubled. Thus
    ``decoupled_weight_decay(adam)`` is torch.optim.AdamW.
    """
    spec = _spec(inner)
    wd_name = weight_decay.name if isinstance(weight_decay, Hyper) else "weight_decay"
    old = next((h for h in spec.hyper_symbols if h.name == wd_name), None)
    eqs = spec.equations
    if old is not None:
        eqs = [(lhs, rhs.xreplace({old: sympy.Integer(0)})) for lhs, rhs in eqs]
        spec_wo = spec.with_equations(eqs)
    else:
        spec_wo = spec
    # a decay of the L2 term's name takes its place in the hyperparameter list (see _derived)
    wd_decl = _hyper(spec_wo, weight_decay, wd_name, latex=r"\lambda", domain="nonnegative",
                     doc="decoupled weight decay: w <- w - lr * weight_decay * w, beside the update")
    wd = wd_decl.symbol
    scale = _hyper_named(spec, lr, "decoupled_weight_decay(lr=...)") if lr is not None else sympy.Integer(1)
    w_old = sympy.Symbol(_fresh(spec, "w_old"), real=True)
    eqs = [(w_old, w), *eqs, (w, w - scale * wd * w_old)]
    return _derived(spec, name or f"{spec.name}w", eqs,
                    f"decoupled_weight_decay({spec.name})",
                    doc if doc is not None else
                    f"{spec.name} with decoupled weight decay (Loshchilov & Hutter), as torch's AdamW",
                    references=["Loshchilov & Hutter 2017, arXiv:1711.05101"], declarations=[wd_decl])


# --- trust ratio (LARS / LAMB layer-wise scaling) ---------------------------------------

def clamp(low, high) -> Callable:
    """A clip for :func:`trust_ratio`: ``max(low, min(r, high))``."""
    def clip(r, spec):
        out = r
        if high is not None:
            out = sympy.Min(out, high)
        if low is not None:
            out = sympy.Max(low, out)
        return out
    clip.text = f"clamp({low}, {high})"
    return clip


def paratrooper_clip(beta1: str = "beta1", beta2: str = "beta2") -> Callable:
    """Paratrooper's clip (the blog post 'Some Deep Learning Optimizers'): ``max(1, min((r b_t)^-1, r))``, with the Adam
    bias correction ``b_t = sqrt(1 - beta2^t) / (1 - beta1^t)``. It tends to 1 as
    ``b_t -> 1``, so the optimizer becomes its inner one (Ranger) as training goes on."""
    def clip(r, spec):
        b1 = _hyper_named(spec, beta1, "paratrooper_clip")
        b2 = _hyper_named(spec, beta2, "paratrooper_clip")
        b_t = sympy.sqrt(1 - b2**t) / (1 - b1**t)
        return sympy.Max(1, sympy.Min(1 / (r * b_t), r))
    clip.text = "paratrooper"
    return clip


def trust_ratio(inner, *, clip: Callable | tuple | None = None, scale: str | None = "lr",
                name: str | None = None, doc: str | None = None) -> Spec:
    """Layer-wise trust ratio around ``inner``'s step (LARS / LAMB).

    With ``w_old`` the weights before the step and ``u = inner(w) - w_old`` the
    inner spec's step, per tensor::

        r = scale * ||w_old|| / ||u||       (1 if ||w_old|| = 0 or ||u|| = 0)
        w = w_old + clip(r) * u

    ``scale`` names the inner's learning-rate hyperparameter, so that
    ``r = ||w|| / ||u / lr||`` is LAMB's ratio of the weight norm to the norm of
    the update before the learning rate (``None``: the ratio of the norm of the
    weights to that of the whole step). ``clip`` is ``(low, high)``, a function
    ``(r, spec) -> expr`` (see :func:`clamp`, :func:`paratrooper_clip`), or None.
    """
    spec = _spec(inner)
    if isinstance(clip, tuple):
        clip = clamp(*clip)
    taken: set = set()
    w_old = sympy.Symbol(_fresh(spec, "w_old", taken), real=True)
    u = sympy.Symbol(_fresh(spec, "u", taken), real=True)
    wn = sympy.Symbol(_fresh(spec, "w_norm", taken), real=True)
    un = sympy.Symbol(_fresh(spec, "u_norm", taken), real=True)
    r = sympy.Symbol(_fresh(spec, "trust", taken), real=True)
    s = _hyper_named(spec, scale, "trust_ratio(scale=...)") if scale is not None else sympy.Integer(1)
    raw = sympy.Piecewise((1, sympy.Or(sympy.Eq(wn, 0), sympy.Eq(un, 0))), (s * wn / un, True))
    eqs = [(w_old, w), *spec.equations,
           (u, w - w_old),
           (wn, sympy.sqrt(TensorSum(w_old**2))),
           (un, sympy.sqrt(TensorSum(u**2))),
           (r, clip(raw, spec) if clip is not None else raw),
           (w, w_old + r * u)]
    how = f"trust_ratio({spec.name}, clip={getattr(clip, 'text', clip)}, scale={scale})"
    return _derived(spec, name or f"{spec.name}_trust", eqs, how,
                    doc if doc is not None else f"{spec.name} with a layer-wise trust ratio (LARS/LAMB)",
                    references=["You, Gitman & Ginsburg 2017, arXiv:1708.03888",
                                "You et al. 2019, arXiv:1904.00962"])


# --- gradient clipping by norm -----------------------------------------------------------

def clip_by_global_norm(inner, max_norm=1.0, eps=0.0, *, name: str | None = None, doc: str | None = None) -> Spec:
    """``inner`` on the gradient clipped to global norm ``max_norm``::

        n = sqrt(sum over every tensor and element of g^2)
        g_clipped = g * (max_norm / (n + eps)   if n + eps > max_norm   else 1)

    With ``eps = 0`` (the default) this is ``optax.clip_by_global_norm``
    (``g`` where ``n < max_norm``, else ``g / n * max_norm``); with ``eps = 1e-6`` it is
    ``torch.nn.utils.clip_grad_norm_`` (``g * min(max_norm / (n + 1e-6), 1)``). The
    norm runs over every parameter of the optimizer (in optgen.torch, every parameter
    with a gradient, in one param group). ``max_norm`` and ``eps`` are the defaults of new
    hyperparameters ``max_norm`` and ``clip_eps``, or declared hyperparameters.
    """
    return _clip_by_norm(inner, max_norm, eps, GlobalSum, "global", name, doc)


def clip_by_tensor_norm(inner, max_norm=1.0, eps=0.0, *, name: str | None = None, doc: str | None = None) -> Spec:
    """``inner`` on the gradient clipped per tensor: :func:`clip_by_global_norm` with the norm
    of each tensor's own gradient (``n = sqrt(sum_i g_i^2)`` over that tensor)."""
    return _clip_by_norm(inner, max_norm, eps, TensorSum, "tensor", name, doc)


def _clip_by_norm(inner, max_norm, eps, summed, scope: str, name, doc) -> Spec:
    spec = _spec(inner)
    reads_g = [s.name for s in spec.states if s.init is not None and any(isinstance(x, Grad) for x in s.init.free_symbols)]
    if reads_g:
        raise SpecError(f"{spec.source or spec.name}: clip_by_{scope}_norm cannot clip what the init of "
                        f"state {reads_g[0]!r} of {spec.name!r} reads (an init sees the raw first gradient); "
                        "clip a spec whose states start without g")
    max_decl = _hyper(spec, max_norm, "max_norm", latex=r"c", domain="positive",
                      doc=f"clip_by_{scope}_norm: the largest {scope} gradient norm passed on")
    eps_decl = _hyper(spec, eps, "clip_eps", latex=r"\epsilon_c",
                      domain="nonnegative", doc=f"clip_by_{scope}_norm: added to the norm (torch: 1e-6, optax: 0)")
    taken: set = set()
    g_norm = sympy.Symbol(_fresh(spec, f"{scope}_grad_norm", taken), real=True)
    factor = sympy.Symbol(_fresh(spec, "clip_factor", taken), real=True)
    g_clipped = sympy.Symbol(_fresh(spec, "g_clipped", taken), real=True)
    c, e = max_decl.symbol, eps_decl.symbol
    eqs = [(g_norm, sympy.sqrt(summed(g**2))),
           (factor, sympy.Piecewise((c / (g_norm + e), g_norm + e > c), (1, True))),
           (g_clipped, g * factor),
           *[(lhs, rhs.xreplace({g: g_clipped})) for lhs, rhs in spec.equations]]
    return _derived(spec, name or f"clip_{scope}_{spec.name}", eqs,
                    f"clip_by_{scope}_norm({spec.name}, max_norm={c.name}, eps={e.name})",
                    doc if doc is not None else f"{spec.name} on the gradient clipped to {scope} norm max_norm",
                    references=["optax.clip_by_global_norm" if scope == "global" else "optax.clip_by_block_rms",
                                "torch.nn.utils.clip_grad_norm_"],
                    declarations=[max_decl, eps_decl])
