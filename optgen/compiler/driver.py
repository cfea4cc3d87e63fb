"""The driver: spec → SSA → staged → optimised → printed → rendered → module file.

Every intermediate is kept on the :class:`Build` so that ``optgen show`` (and a
test) can look at it. Generated modules of specs in the repository go to
``optgen/generated/<target>/``; a user's specs elsewhere go to a cache directory
(``$OPTGEN_CACHE_DIR``, default ``~/.cache/optgen``), never into site-packages.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import os
import sys
import tempfile
import types
import warnings
from pathlib import Path

from .. import abi
from .._version import __version__
from ..registry import GENERATED_DIR, ROOT, SPECS_DIR, TEMPLATES_DIR, load_spec, loaded_hash
from ..spec import Spec, SpecError
from . import cpu, cuda
from .numba_cache import guard_numba_cache
from .optimize import optimise
from .render import render
from .factor_sums import factor_sums
from .ssa import to_ssa
from .stage import stage

#: a target is a module with ``TEMPLATE`` and ``context(build)``; CUDA only renders source (no GPU needed)
TARGETS = {"cpu": cpu, "cuda": cuda}


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


def option_combinations(spec: Spec, settable: bool = False) -> list[dict]:
    """Every combination of the spec's options (each is a module); ``settable``: only of those a
    caller may give, not the per-tensor ones the runtime sets from each tensor's shape."""
    names = [o for o in spec.options if not (settable and spec.declarations[o].factor_min_dim is not None)]
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
    """``generated/<target>`` for the repository's own specs; a cache directory for the rest.

    A spec derived in memory from a repository spec (``spec.with_equations(...)``) is not
    the file's spec: it goes to the cache, in a directory of its own content hash,
    so that it neither overwrites ``generated/`` nor shares a module with its origin.
    """
    src = _spec_path(spec)
    loaded = loaded_hash(spec) is not None
    if src is not None and loaded and src.resolve().parent == SPECS_DIR.resolve():
        return GENERATED_DIR / target
    where = str(src.resolve().parent) if src is not None else "<memory>"
    # The cache is keyed by the compiler too: a module built by an older template or
    # runtime interface (same optgen version) must not be reused.
    key = where + compiler_fingerprint() + ("" if loaded else spec_hash(spec))
    return cache_base() / target / hashlib.sha256(key.encode()).hexdigest()[:12]


def cache_base() -> Path:
    """``$OPTGEN_CACHE_DIR`` (default ``~/.cache/optgen``), or a temporary directory if it is not writable."""
    wanted = os.environ.get("OPTGEN_CACHE_DIR") or str(Path.home() / ".cache" / "optgen")
    return _writable_cache(wanted, tempfile.gettempdir())


@functools.lru_cache(maxsize=None)
def _writable_cache(wanted: str, tmp: str) -> Path:
    """The cache directory to use, probed once per process (a warning, not an error, on fallback)."""
    problem = _not_writable(Path(wanted))
    if problem is None:
        return Path(wanted)
    fallback = Path(tmp) / f"optgen-cache-{_user()}"
    second = _not_writable(fallback)
    if second is not None:
        raise SpecError(f"the optgen cache directory {wanted} is not writable ({problem}), nor is the "
                        f"fallback {fallback} ({second}); set OPTGEN_CACHE_DIR to a writable directory")
    warnings.warn(f"optgen: the cache directory {wanted} is not writable ({problem}); kernels are built in "
                  f"{fallback} instead. Set OPTGEN_CACHE_DIR (default ~/.cache/optgen) to a writable "
                  "directory to keep them there.", RuntimeWarning, stacklevel=2)
    return fallback


def _not_writable(directory: Path) -> str | None:
    """Why files cannot be created in ``directory`` (None if they can): tried, not guessed."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".optgen-probe-"):
            pass
    except OSError as exc:
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    return None


def _user() -> str:
    try:
        return str(os.getuid())
    except AttributeError:  # pragma: no cover - Windows
        return os.environ.get("USERNAME", "user")


@functools.lru_cache(maxsize=1)
def compiler_fingerprint() -> str:
    """A hash of the templates, of the compiler and runtime sources and of the ABI between them."""
    here = Path(__file__).resolve().parent
    files = sorted([*TEMPLATES_DIR.glob("*.j2"), *here.glob("*.py"), *(here.parent / "runtime").glob("*.py"),
                    here.parent / "abi.py"])
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def spec_hash(spec: Spec) -> str:
    """The hash in a generated module's header: of what the module is built from.

    A spec file's own spec: the hash of the file's text, taken from the very bytes that
    were executed (registry.load_file), so an edit after loading cannot put old
    equations under a new hash. Any other spec (in memory, derived with
    ``spec.with_equations``, or made by transforms from other spec files, which the file hash
    does not cover): a hash of its equations, declarations and defaults.
    """
    loaded = loaded_hash(spec)
    if loaded is not None and not spec.transforms:
        return loaded
    text = repr([(str(l), str(r)) for l, r in spec.equations])
    text += repr([loaded or "", sorted(spec.hypers.items()), [(s.name, str(s.init)) for s in spec.states], spec.doc])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def compile_spec(spec: Spec, options: dict | None = None, target: str = "cpu") -> Build:
    """Run every stage; return the build with all intermediates."""
    if target not in TARGETS:
        raise SpecError(f"unknown target {target!r}; available: {', '.join(sorted(TARGETS))}")
    options = {**spec.options, **(options or {})}
    resolved = spec.resolve(**options)
    b = Build(resolved, options, target)
    b.ssa = factor_sums(to_ssa(resolved))
    b.staged = stage(b.ssa)
    b.variants = optimise(b.staged)
    t_module = TARGETS[target]
    ctx = t_module.context(b)
    ctx.update(_common_context(spec, resolved, options, b.ssa), target=target)
    b.code = render(t_module.TEMPLATE, **ctx)
    b.path = output_dir(spec, target) / f"{module_stem(spec, options)}.py"
    return b


def _common_context(original: Spec, spec: Spec, options: dict, ssa) -> dict:
    return {
        "version": __version__,
        "name": spec.name,
        "source": _source_text(spec),
        "rebuild_command": rebuild_command(original),
        "spec_hash": spec_hash(original),
        "options": options,
        "options_text": _options_text(options),
        "doc": (spec.doc or spec.name).replace('"""', "'''"),
        "equations": [f"{lhs} = {rhs}" for lhs, rhs in spec.equations],
        "hypers": {h.name: h.default for h in spec.declared("hyper")},
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
        old = b.path.read_text(encoding="utf-8") if b.path.is_file() else None
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
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _options_text(options: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items()) or "none"


def _source_text(spec: Spec) -> str:
    return spec.source or "<memory>"


def header_prefix(spec: Spec, options: dict) -> str:
    """The first line and the start of the second of the module that would be generated
    (templates/module.py.j2): version, spec file, its hash, spec name and options."""
    return (f"# Generated by optgen {__version__} from {_source_text(spec)} (sha256 {spec_hash(spec)}).\n"
            f"# Spec {json.dumps(spec.name)}, options: {_options_text(options)}. ")


_modules: dict = {}
REQUIRED = ("SPEC", "SPEC_HASH", "OPTIONS", "STATES", "HOST_STATES", "ARRAYS", "VARIANTS", "select_variant")


class BrokenModule(Exception):
    """A generated module file that cannot be used as it is (truncated, corrupted, foreign)."""


def load_module(name_or_spec, options: dict | None = None, target: str = "cpu"):
    """The generated module for a spec and options; built first if missing, stale or broken.

    Everything is keyed on content: a module whose header does not match what would be
    generated now is rebuilt, and the module is executed from the bytes whose hash keys
    the in-process cache (no bytecode cache, which Python keys on mtime and size).
    """
    spec = load_spec(name_or_spec)
    options = {**spec.options, **(options or {})}
    path = output_dir(spec, target) / f"{module_stem(spec, options)}.py"
    header = header_prefix(spec, options)
    if not _is_current(path, header):
        _write_module(compile_spec(spec, options, target))
    try:
        return _import(path, target, spec_hash(spec))
    except BrokenModule as exc:
        warnings.warn(f"optgen: the generated module {path} was unusable ({exc}); rebuilt it",
                      RuntimeWarning, stacklevel=2)
    _write_module(compile_spec(spec, options, target))
    try:
        return _import(path, target, spec_hash(spec))
    except BrokenModule as exc:  # freshly generated and still broken: optgen's fault, say so
        raise SpecError(f"{path}: the module generated from {_source_text(spec)} does not load ({exc}); "
                        "this is a bug in optgen") from exc


def _write_module(b: Build) -> None:
    try:
        write_atomic(b.path, b.code)
    except OSError as exc:
        raise SpecError(f"{b.path}: cannot write the generated module ({type(exc).__name__}: "
                        f"{exc.strerror or exc}); set OPTGEN_CACHE_DIR to a writable directory") from exc


def _import(path: Path, target: str, want_hash: str):
    """Execute a module file (cached per content hash); :class:`BrokenModule` if it is not usable."""
    source = path.read_bytes()
    key = (str(path), hashlib.sha256(source).hexdigest())
    if key in _modules:
        return _modules[key]
    mod_name = f"optgen_generated_{target}_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    module = types.ModuleType(mod_name)
    module.__file__ = str(path)
    sys.modules[mod_name] = module
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)
    except Exception as exc:
        raise BrokenModule(f"{type(exc).__name__}: {exc}") from exc
    missing = [name for name in REQUIRED if not hasattr(module, name)]
    if missing:
        raise BrokenModule(f"it lacks {', '.join(missing)}")
    if not all(isinstance(v, abi.Variant) for v in module.VARIANTS.values()):
        raise BrokenModule("its VARIANTS are not optgen.abi.Variant (a module of an older optgen)")
    if module.SPEC_HASH != want_hash:
        raise BrokenModule(f"its SPEC_HASH {module.SPEC_HASH!r} is not the header's {want_hash!r}")
    guard_numba_cache(module)
    _modules[key] = module
    return module


def _is_current(path: Path, header: str) -> bool:
    if not path.is_file():
        return False
    with open(path, encoding="utf-8", errors="replace") as f:
        head = f.readline() + f.readline()
    return head.startswith(header)
