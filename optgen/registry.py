"""Finding and loading spec files.

Specs live in the package's ``specs/`` and in any directory named in the
``OPTGEN_SPEC_PATH`` environment variable (``os.pathsep``-separated). A spec is
named by its ``Spec(name, ...)``; a file may hold a family of specs.
"""
from __future__ import annotations

import hashlib
import os
import sys
import types
from importlib import resources
from pathlib import Path

from .spec import Hyper, Option, Spec, SpecError, State
from .validate import validate

#: What optgen needs at run time ships inside the package (and so inside a wheel):
#: the built-in specs, their claims, the templates and the generated kernels.
PACKAGE_DIR = Path(os.fspath(resources.files("optgen"))).resolve()
SPECS_DIR = PACKAGE_DIR / "specs"
GENERATED_DIR = PACKAGE_DIR / "generated"
TEMPLATES_DIR = PACKAGE_DIR / "templates"
#: Paths in messages and generated headers are shown relative to this: the checkout,
#: or site-packages for an installed optgen ("optgen/specs/adam.py" either way).
ROOT = PACKAGE_DIR.parent

# Keyed on the file's contents, never its mtime: cp -p, rsync -t, tar and coarse-clock
# file systems keep the mtime of an edited file, and the generated module's header
# hash is taken from the contents; an mtime key would build old equations under it.
_file_cache: dict[Path, tuple[str, list[Spec]]] = {}


def spec_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("OPTGEN_SPEC_PATH", "").split(os.pathsep) if p]
    return [SPECS_DIR, *extra]


def spec_files() -> list[Path]:
    files: list[Path] = []
    for d in spec_dirs():
        if d.is_dir():
            files += sorted(p for p in d.glob("*.py") if not p.name.startswith("_"))
    return files


def file_hash(path: Path) -> str:
    return content_hash(Path(path).read_bytes())


def content_hash(source: bytes) -> str:
    """The hash a generated module's header carries for the spec text it was built from."""
    return hashlib.sha256(source).hexdigest()[:16]


def display_path(path: Path) -> str:
    path = Path(path).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def load_file(path: str | Path) -> list[Spec]:
    """Every :class:`Spec` defined at the top level of a spec file, validated.

    The file is read once and the bytes read are both executed and hashed, so a
    spec's :func:`loaded_hash` always describes the equations it carries.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise SpecError(f"{path}: no such spec file")
    source = path.read_bytes()
    digest = content_hash(source)
    cached = _file_cache.get(path)
    if cached and cached[0] == digest:
        return cached[1]
    shown = display_path(path)
    namespace = _execute(path, source, shown)
    specs = []
    declared = tuple(v.name for v in namespace.values() if isinstance(v, (Hyper, Option, State)))
    for value in namespace.values():
        if isinstance(value, Spec) and all(value is not s for s in specs):
            if value.source is None:
                value.source = shown
                mark_loaded(value, digest)
            if not value.declared:
                value.declared = declared
            specs.append(validate(value))
    if not specs:
        raise SpecError(f"{shown}: defines no Spec (assign one at module level, e.g. `spec = Spec(...)`)")
    _file_cache[path] = (digest, specs)
    return specs


def mark_loaded(spec: Spec, digest: str) -> None:
    """Record that ``spec`` is the very object a spec file of this content defines.

    An attribute, not a dataclass field: ``spec.replace(...)``, ``resolve`` and the
    transforms make new objects without it, and those are hashed by what they hold
    (compiler/driver.py ``spec_hash``), never passed off as the file's own spec.
    """
    spec._loaded_hash = digest


def loaded_hash(spec: Spec) -> str | None:
    """The content hash of the file ``spec`` was loaded from, if it is that file's own object."""
    return getattr(spec, "_loaded_hash", None)


def _execute(path: Path, source: bytes, shown: str) -> dict:
    """Run a spec file's text as a module (named while it runs, as runpy does); its namespace."""
    module = types.ModuleType(f"optgen_spec_{path.stem}")
    module.__file__ = str(path)
    previous = sys.modules.get(module.__name__)
    sys.modules[module.__name__] = module
    try:
        exec(compile(source, str(path), "exec"), module.__dict__)
    except SpecError as exc:
        raise SpecError(f"{shown}: {exc}") from exc
    except Exception as exc:  # the user's file failed to execute: say where
        raise SpecError(f"{shown}: failed to load: {type(exc).__name__}: {exc}"
                        f"{_failing_line(exc, path)}{_hint(exc)}") from exc
    finally:
        if previous is None:
            sys.modules.pop(module.__name__, None)
        else:
            sys.modules[module.__name__] = previous
    return dict(module.__dict__)


def _failing_line(exc: BaseException, path: Path) -> str:
    """' (line N)' of the spec file's deepest frame in the traceback (or of a syntax error)."""
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f" (line {exc.lineno})"
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line})" if line else ""


def _hint(exc: BaseException) -> str:
    """What is allowed, for the mistakes that surface as a SymPy error inside the file."""
    if "Matrix" in str(exc):
        return ("; a SymPy Matrix is not allowed in an equation: optgen equations are per-element "
                "scalars (w, g and every state are one element of a tensor), so write one scalar equation")
    return ""


def all_specs() -> dict[str, Spec]:
    out: dict[str, Spec] = {}
    for f in spec_files():
        for s in load_file(f):
            if s.name in out and out[s.name].source != s.source:
                raise SpecError(f"{s.source}: spec name {s.name!r} is also defined in {out[s.name].source}")
            out[s.name] = s
    return out


def is_builtin(spec: Spec) -> bool:
    """Whether ``spec`` is one of optgen's own (a file in the package's ``specs/``)."""
    if spec.source is None:
        return False
    src = Path(spec.source)
    return (src if src.is_absolute() else ROOT / src).resolve().parent == SPECS_DIR


def names() -> list[str]:
    """Sorted names of the available optimizers."""
    return sorted(all_specs())


def find_spec_file(name: str) -> Path:
    """The file defining spec ``name`` (tries ``<dir>/<name>.py`` first, then every file)."""
    for d in spec_dirs():
        p = d / f"{name}.py"
        if p.is_file() and any(s.name == name for s in load_file(p)):
            return p.resolve()
    for s in all_specs().values():
        if s.name == name:
            return Path(s.source if Path(s.source).is_absolute() else ROOT / s.source).resolve()
    raise SpecError(f"unknown optimizer {name!r}; available: {', '.join(names())}")


def load_spec(name_or_path: str | Path | Spec) -> Spec:
    """A spec by name (``"adam"``), by path (``"my/opt.py"``), or ``"path.py:name"``."""
    if isinstance(name_or_path, Spec):
        return validate(name_or_path)
    text = str(name_or_path)
    path_part, _, wanted = text.partition(":") if text.count(":") == 1 and ".py:" in text else (text, "", "")
    if path_part.endswith(".py") or os.sep in path_part:
        specs = load_file(path_part)
        if wanted:
            for s in specs:
                if s.name == wanted:
                    return s
            raise SpecError(f"{path_part}: no spec named {wanted!r}; it defines {[s.name for s in specs]}")
        if len(specs) > 1:
            raise SpecError(f"{path_part} defines several specs {[s.name for s in specs]}; "
                            f"name one as '{path_part}:NAME'")
        return specs[0]
    path = find_spec_file(text)
    return next(s for s in load_file(path) if s.name == text)
