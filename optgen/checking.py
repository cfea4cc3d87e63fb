"""``optgen check``: a spec's compiled kernels against its own equations, and against a peer.

For every build-time option combination of a spec and both float32 and float64,
the compiled optimizer (``optgen.create``) and the reference oracle
(``optgen.reference``: the equations evaluated one at a time in float64 with
numpy, none of the compiler's stages) take the same random gradients from the
same parameters, and the parameters are compared after every step. This is the
check ``tests/test_kernels_vs_reference.py`` makes for the built-in specs, made
available for a user's own: ``optgen new NAME`` writes a pytest file that calls
it, and ``optgen check SPEC`` runs it from the command line.

Shapes are odd on purpose: an empty tensor, a 0-d scalar, a size-1 tensor and
sizes no vector width divides, so that a kernel's edge handling is exercised.

Hyperparameters: each case runs with the spec's defaults (``lr`` raised to 1e-2
where allowed, so that updates are visible), then with every zero default (weight
decay, momentum, ...) set to 0.1 where its domain allows, which reaches the kernel
variants that host conditions such as ``momentum == 0`` select.

Tolerance, relative to the tensor's largest element: float64 kernels differ from
the oracle only in the order of operations (1e-11 allowed); float32 kernels keep
their states in float32 while the oracle keeps float64, so they drift by about a
rounding per step (2e-5 allowed after 30 steps).
"""
from __future__ import annotations

import dataclasses
import zlib
from typing import Callable

import numpy as np

STEPS = 30
SHAPES = [(0,), (), (1,), (7,), (3, 5), (17, 3, 2)]
DTYPES = ("float32", "float64")
REL = {"float32": 2e-5, "float64": 1e-11}

__all__ = ["Case", "Verdict", "cases", "check_case", "check_specs", "compare_with_peer", "hyper_settings",
           "verdict_lines", "SHAPES", "DTYPES", "REL", "STEPS"]


@dataclasses.dataclass(frozen=True)
class Case:
    """One option combination of one spec in one dtype."""
    target: str          # what optgen.create is given: a name or ``path.py:NAME``
    name: str
    options: tuple       # ((option, bool), ...)
    dtype: str

    def __str__(self) -> str:
        on = [k for k, v in self.options if v]
        return "+".join([self.name, *on]) + f"-{self.dtype}"

    @property
    def options_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.options) or "no options"


@dataclasses.dataclass
class Verdict:
    """The outcome of a case: ``error`` is the worst difference seen as a fraction of the
    tolerance (ok when at most 1); ``where`` says where the first failure was."""
    case: Case
    ok: bool
    error: float
    where: str = ""

    def line(self) -> str:
        head = f"{self.case.name} [{self.case.options_text}] {self.case.dtype}"
        if self.ok:
            return f"{head}: ok (worst difference {self.error:.2g} of the tolerance {REL[self.case.dtype]:g})"
        return f"{head}: FAIL {self.where}"


def cases(target) -> list[Case]:
    """Every option combination of the spec(s) ``target`` names, in both dtypes."""
    from .compiler.driver import option_combinations
    from .registry import find_specs, spec_target
    out = []
    for spec in find_specs([target] if isinstance(target, str) else target):
        for options in option_combinations(spec, settable=True):
            for dtype in DTYPES:
                out.append(Case(spec_target(spec), spec.name, tuple(options.items()), dtype))
    return out


def hyper_settings(spec) -> list[dict]:
    """Defaults with a visible lr, then every zero default perturbed to 0.1."""
    base = {}
    for h in spec.declared("hyper"):
        if h.name == "lr" and h.domain.contains(1e-2) and h.default < 1e-2:
            base["lr"] = 1e-2
    perturbed = dict(base)
    for h in spec.declared("hyper"):
        if h.default == 0 and h.domain.contains(0.1):
            perturbed[h.name] = 0.1
    return [base, perturbed] if perturbed != base else [base]


def _difference(ours: np.ndarray, theirs: np.ndarray, rel: float) -> float:
    """The worst |ours - theirs| as a fraction of the tolerance (inf where NaN-ness differs)."""
    if ours.size == 0:
        return 0.0
    if not np.array_equal(np.isnan(ours), np.isnan(theirs)):
        return float("inf")
    finite = ~np.isnan(theirs)
    a, b = ours[finite].astype(np.float64), theirs[finite].astype(np.float64)
    if a.size == 0:
        return 0.0
    allowed = rel * float(np.max(np.abs(b))) + rel * np.abs(b)
    diff = np.abs(a - b)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(diff == 0, 0.0, diff / allowed)
    return float(np.max(ratio))


def _run_pair(make_ours: Callable, make_theirs: Callable, case: Case, steps: int, seed: int,
              label: str, rel: float) -> Verdict:
    """Step two optimizers side by side on the same gradients; compare after every step."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(case.dtype)
    params = [np.asarray(rng.standard_normal(s)).astype(dt) for s in SHAPES]
    mirror = [p.copy() for p in params]
    ours, theirs = make_ours(params), make_theirs(mirror)
    worst = 0.0
    for step in range(1, steps + 1):
        grads = [np.asarray(rng.standard_normal(s)).astype(dt) for s in SHAPES]
        ours(grads)
        theirs([gr.copy() for gr in grads])
        for i, (a, b) in enumerate(zip(params, mirror)):
            err = _difference(a, b, rel)
            worst = max(worst, err)
            if not err <= 1.0:
                return Verdict(case, False, err, f"{label}: step {step}, tensor {i} of shape {SHAPES[i]} differs by "
                                                 f"{err:.3g} x the tolerance {rel:g}")
    return Verdict(case, True, worst)


def check_case(case: Case, steps: int = STEPS) -> Verdict:
    """The kernel of ``case`` against the reference oracle, for each hyperparameter setting."""
    import optgen
    spec = optgen.load_spec(case.target)
    options = dict(case.options)
    worst = Verdict(case, True, 0.0)
    for k, hypers in enumerate(hyper_settings(spec)):
        seed = zlib.crc32(f"{case}-{k}".encode())
        v = _run_pair(lambda p: optgen.create(case.target, p, **options, **hypers).step,
                      lambda p: optgen.reference(case.target, p, **options, **hypers).step,
                      case, steps, seed, f"against the oracle with {hypers or 'the defaults'}", REL[case.dtype])
        if not v.ok:
            return v
        worst = v if v.error > worst.error else worst
    return worst


def compare_with_peer(target: str, make_peer: Callable, dtype: str = "float64", steps: int = STEPS,
                      hypers: dict | None = None, rel: float | None = None) -> Verdict:
    """The kernel of ``target`` against another library's implementation of the same optimizer.

    ``make_peer(params)`` gets a list of numpy arrays and returns ``step(grads)``,
    which must update those arrays in place (wrap torch tensors with
    ``torch.from_numpy`` to share their memory). ``rel`` overrides the tolerance.
    """
    import optgen
    (case,) = [c for c in cases(target) if c.dtype == dtype and not any(v for _, v in c.options)]
    return _run_pair(lambda p: optgen.create(case.target, p, **(hypers or {})).step, make_peer, case, steps,
                     zlib.crc32(f"{case}-peer".encode()), "against the peer", REL[dtype] if rel is None else rel)


def check_specs(targets, steps: int = STEPS, progress=None) -> list[Verdict]:
    """Every case of every spec ``targets`` names (names, files, directories)."""
    todo = [c for t in targets for c in cases(t)]
    out = []
    for i, case in enumerate(todo):
        if progress:
            progress(i, len(todo), str(case))
        out.append(check_case(case, steps))
    return out


def verdict_lines(verdicts: list[Verdict]) -> list[str]:
    """One line per option combination: both dtypes' verdicts side by side."""
    by_combo: dict = {}
    for v in verdicts:
        by_combo.setdefault((v.case.target, v.case.options), []).append(v)
    lines = []
    for group in by_combo.values():
        c = group[0].case
        ok = all(v.ok for v in group)
        parts = []
        for v in group:
            parts.append(f"{v.case.dtype} ok ({v.error:.2g} of tol)" if v.ok else f"{v.case.dtype} FAIL: {v.where}")
        lines.append(f"{'ok  ' if ok else 'FAIL'} {c.name} [{c.options_text}]: " + "; ".join(parts))
    return lines
