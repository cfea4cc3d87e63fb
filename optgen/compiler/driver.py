"""The driver: spec → SSA → staged → optimised → printed → rendered → module file.

Every intermediate is kept on the :class:`Build` so that ``optgen show`` (and a
test) can look at it. Generated modules of specs in the repository go to
``generated/<target>/``; a user's specs elsewhere go to a cache directory
(``$OPTGEN_CACHE_DIR``, default ``~/.cache/optgen``), never into site-packages.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import itertools
import os
import sys
from pathlib import Path

from .. import __version__
from ..registry import GENERATED_DIR, ROOT, SPECS_DIR, TEMPLATES_DIR, file_hash, load_spec
from ..spec import Spec, SpecError
from . import cpu
from .optimize import optimise
from .render import render
from .ssa import to_ssa
from .stage import stage

TARGETS = {"cpu": cpu}
try:  # the CUDA target only renders source: it needs no GPU and no numba-cuda
    from . import cuda as _cuda
    TARGETS["cuda"] = _cuda
except ImportError:  # pragma: no cover - until the CUDA target exists
    pass


def register_target(name: str, module) -> None:
    """A target is a module with ``TEMPLATE`` and ``context(build)``."""
    TARGETS[name] = module


@dataclasses.dataclass
class Build:
    spec: Spec            # with options resolved
    options: dict
    target: str
    ssa: object = None
    staged: object = None
    variants: dict = None
    code: str = ""
    path: Path = None


def option_combinations(spec: Spec) -> list[dict]:
    names = list(spec.options)
    return [dict(zip(names, vals)) for vals in itertools.product((False, True), repeat=len(names))]


def module_stem(spec: Spec, options: dict) -> str:
    on = sorted(k for k, v in options.items() if v)
    return "__".join([spec.name, *on])


def _spec_path(spec: Spec) -> Path | None:
    if spec.source is None:
        return None
    p = Path(spec.source)
    return p if p.is_absolute() else ROOT / p


def output_dir(spec: Spec, target: str) -> Path:
    src = _spec_path(spec)
    if src is not None and src.resolve().parent == SPECS_DIR.resolve():
        return GENERATED_DIR / target
    base = Path(os.environ.get("OPTGEN_CACHE_DIR", Path.home() / ".cache" / "optgen"))
    where = str(src.resolve().parent) if src is not None else "<memory>"
    # The cache is keyed by the compiler too: a module built by an older template or
    # runtime interface (same optgen version) must not be reused.
    return base / target / hashlib.sha256((where + compiler_fingerprint()).encode()).hexdigest()[:12]


@functools.lru_cache(maxsize=1)
def compiler_fingerprint() -> str:
    """A hash of the templates and of the compiler and runtime sources."""
    here = Path(__file__).resolve().parent
    files = sorted([*TEMPLATES_DIR.glob("*.j2"), *here.glob("*.py"), *(here.parent / "runtime").glob("*.py")])
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def spec_hash(spec: Spec) -> str:
    src = _spec_path(spec)
    if src is not None and src.is_file() and not spec.transforms:
        return file_hash(src)
    # In memory, or made by transforms from other spec files (which the file hash
    # does not cover): hash what the module is built from.
    text = repr([(str(l), str(r)) for l, r in spec.equations])
    if spec.transforms:
        text += repr([file_hash(src) if src is not None and src.is_file() else "",
                      sorted(spec.hypers.items()), [(s.name, str(s.init)) for s in spec.states], spec.doc])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def compile_spec(spec: Spec, options: dict | None = None, target: str = "cpu") -> Build:
    """Run every stage; return the build with all intermediates."""
    if target not in TARGETS:
        raise SpecError(f"unknown target {target!r}; available: {', '.join(sorted(TARGETS))}")
    options = {**spec.options, **(options or {})}
    resolved = spec.resolve(**options)
    b = Build(resolved, options, target)
    b.ssa = to_ssa(resolved)
    b.staged = stage(b.ssa)
    b.variants = optimise(b.staged)
    t_module = TARGETS[target]
    ctx = t_module.context(b)
    ctx.update(_common_context(spec, resolved, options, b.ssa))
    b.code = render(t_module.TEMPLATE, **ctx)
    b.path = output_dir(spec, target) / f"{module_stem(spec, options)}.py"
    return b


def _common_context(original: Spec, spec: Spec, options: dict, ssa) -> dict:
    return {
        "version": __version__,
        "name": spec.name,
        "source": spec.source or "<memory>",
        "rebuild_command": rebuild_command(original),
        "spec_hash": spec_hash(original),
        "options": options,
        "options_text": ", ".join(f"{k}={v}" for k, v in options.items()) or "none",
        "doc": (spec.doc or spec.name).replace('"""', "'''"),
        "equations": [f"{lhs} = {rhs}" for lhs, rhs in spec.equations],
        "hypers": {h.name: h.default for h in spec.hyper_symbols},
        # host states arrive with the hyperparameters: scalars the runtime keeps between steps
        "hyper_names": [h.name for h in spec.hyper_symbols] + list(ssa.host_states),
        "host_states": {name: sym.name for name, sym in ssa.host_states.items()},
    }


def rebuild_command(spec: Spec) -> str:
    """What a generated module's header tells its reader to run: a built-in by its name,
    a user's spec by its absolute path (its name alone is unknown outside its directory)."""
    from ..registry import is_builtin, source_path
    if spec.source is None:
        return "optgen.create(spec, params)"
    return f"optgen build {spec.name if is_builtin(spec) else source_path(spec)}"


def build(names=None, targets=("cpu",), check: bool = False, progress=None) -> list[tuple[Path, str]]:
    """(Re)generate modules; with ``check`` write nothing and report what is stale.

    Returns ``[(path, status)]`` with status ``written``, ``current`` or ``stale``.
    """
    from ..registry import all_specs, find_specs
    if names:  # names, spec files or directories: the lookup every command shares
        specs = {(s.source, s.name): s for s in find_specs(names)}
    else:
        specs = all_specs()
    results = []
    jobs = [(s, o, tg) for s in specs.values() for o in option_combinations(s) for tg in targets]
    for i, (spec, options, target) in enumerate(jobs):
        if progress:
            progress(i, len(jobs), f"{target}:{module_stem(spec, options)}")
        b = compile_spec(spec, options, target)
        old = b.path.read_text() if b.path.is_file() else None
        if old == b.code:
            results.append((b.path, "current"))
        elif check:
            results.append((b.path, "stale"))
        else:
            write_atomic(b.path, b.code)
            results.append((b.path, "written"))
    if not names:
        results += _orphans(specs, targets, check)
    return results


def _orphans(specs, targets, check) -> list:
    """Generated files of specs or option sets that no longer exist."""
    expected = {GENERATED_DIR / tg / f"{module_stem(s, o)}.py"
                for s in specs.values() for o in option_combinations(s) for tg in targets
                if output_dir(s, tg).parent == GENERATED_DIR}
    out = []
    for tg in targets:
        for p in sorted((GENERATED_DIR / tg).glob("*.py")):
            if p not in expected:
                if not check:
                    p.unlink()
                out.append((p, "stale" if check else "removed"))
    return out


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and a rename: a concurrent reader sees old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


_modules: dict = {}


def load_module(name_or_spec, options: dict | None = None, target: str = "cpu"):
    """The generated module for a spec and options; built first if missing or stale."""
    spec = load_spec(name_or_spec)
    options = {**spec.options, **(options or {})}
    path = output_dir(spec, target) / f"{module_stem(spec, options)}.py"
    want = spec_hash(spec)
    if not _is_current(path, want):
        b = compile_spec(spec, options, target)
        write_atomic(b.path, b.code)
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _modules:
        mod_name = f"optgen_generated_{target}_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
        ispec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(ispec)
        sys.modules[mod_name] = module
        ispec.loader.exec_module(module)
        _modules[key] = module
    return _modules[key]


def _is_current(path: Path, want_hash: str) -> bool:
    if not path.is_file():
        return False
    with open(path) as f:
        head = f.readline()
    return f"(sha256 {want_hash})" in head and f"optgen {__version__} " in head
