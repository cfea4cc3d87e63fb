"""Finding and loading spec files.

Specs live in the package's ``specs/`` and in any directory named in the
``OPTGEN_SPEC_PATH`` environment variable (``os.pathsep``-separated). A spec is
named by its ``Spec(name, ...)``; a file may hold a family of specs.
"""
from __future__ import annotations

import hashlib
import os
import runpy
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

_file_cache: dict[Path, tuple[float, list[Spec]]] = {}


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
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def display_path(path: Path) -> str:
    path = Path(path).resolve()
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def load_file(path: str | Path) -> list[Spec]:
    """Every :class:`Spec` defined at the top level of a spec file, validated."""
    path = Path(path).resolve()
    if not path.is_file():
        raise SpecError(f"{path}: no such spec file")
    mtime = path.stat().st_mtime
    cached = _file_cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    shown = display_path(path)
    try:
        namespace = runpy.run_path(str(path), run_name=f"optgen_spec_{path.stem}")
    except SpecError as exc:
        raise SpecError(f"{shown}: {exc}") from exc
    except Exception as exc:  # the user's file failed to execute: say where
        raise SpecError(f"{shown}: failed to load: {type(exc).__name__}: {exc}") from exc
    specs = []
    declared = tuple(v.name for v in namespace.values() if isinstance(v, (Hyper, Option, State)))
    for value in namespace.values():
        if isinstance(value, Spec) and all(value is not s for s in specs):
            if value.source is None:
                value.source = shown
            if not value.declared:
                value.declared = declared
            specs.append(validate(value))
    if not specs:
        raise SpecError(f"{shown}: defines no Spec (assign one at module level, e.g. `spec = Spec(...)`)")
    _file_cache[path] = (mtime, specs)
    return specs


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
