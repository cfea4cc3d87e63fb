"""Finding and loading spec files.

Specs live in the package's ``specs/`` and in any directory named in the
``OPTGEN_SPEC_PATH`` environment variable (``os.pathsep``-separated). A spec is
named by its ``Spec(name, ...)``; a file may hold a family of specs.

Spec files are Python and are executed when loaded (as ``conftest.py`` is). When
listing, a file is executed only if its text looks like a spec (it mentions
``optgen`` and has ``Spec(`` or a module-level ``spec =``); ``_*.py`` and
``test_*.py`` files are never scanned. A file on the search path that defines no
spec, or fails to load, is skipped with one line on stderr, never fatal. When two
files define one name, the first on the search path wins (the built-in ``specs/``
first, then ``OPTGEN_SPEC_PATH`` in order) and a line says which file shadows
which; the shadowed one is still reachable by its path.

Every command names specs the same way, through :func:`find_specs`: a name, a
spec file (``my/opt.py``, ``my/opt.py:NAME``) or a directory of spec files.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import types
import warnings
from importlib import resources
from pathlib import Path

from .spec import Spec, SpecError
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


_extra_dirs: list[Path] = []  # directories added for the duration of a command (see search_path)
_noticed: set[str] = set()


def notice(message: str) -> None:
    """One line on stderr, once per process: a file skipped or shadowed is news, not an error."""
    if message not in _noticed:
        _noticed.add(message)
        print(f"optgen: {message}", file=sys.stderr)


def spec_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("OPTGEN_SPEC_PATH", "").split(os.pathsep) if p]
    return list(dict.fromkeys([SPECS_DIR, *extra, *_extra_dirs]))


@contextlib.contextmanager
def search_path(*directories):
    """Search ``directories`` too (after the others) inside the ``with``: a user's spec file
    given by its path can then name its neighbours (``Side("mine")`` in a claim)."""
    added = [Path(d).resolve() for d in directories]
    _extra_dirs.extend(added)
    try:
        yield
    finally:
        for d in added:
            _extra_dirs.remove(d)


def is_scanned(path: Path) -> bool:
    """Whether a directory scan considers ``path``: not private (``_x.py``), not a test."""
    return path.suffix == ".py" and not path.name.startswith(("_", "test_")) and not path.stem.endswith("_test")


_SPEC_TEXT = re.compile(r"Spec\(|^spec\s*=", re.M)


def looks_like_spec(path: Path) -> bool:
    """A cheap textual test, so that listing names never executes a helper that is no spec."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return False
    return "optgen" in text and _SPEC_TEXT.search(text) is not None


def spec_files(directories=None) -> list[Path]:
    """The files a scan of ``directories`` (default: the search path) would load, in order."""
    files: list[Path] = []
    for d in spec_dirs() if directories is None else [Path(x) for x in directories]:
        if d.is_dir():
            files += sorted(p for p in d.glob("*.py") if is_scanned(p))
    return files


def scan(files) -> list[Spec]:
    """The specs of ``files``; a file that is no spec or fails to load is skipped with a line."""
    out: list[Spec] = []
    for f in files:
        if not looks_like_spec(f):
            notice(f"skipped {display_path(f)}: it does not look like a spec file (no `Spec(` or `spec =`)")
            continue
        try:
            out += load_file(f)
        except SpecError as exc:
            notice(f"skipped {exc}")
    return out


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
    for value in namespace.values():
        if isinstance(value, Spec) and all(value is not s for s in specs):
            if value.source is None:
                value.source = shown
                mark_loaded(value, digest)
            specs.append(validate(value))
    if not specs:
        raise SpecError(f"{shown}: defines no Spec (assign one at module level, e.g. `spec = Spec(...)`)")
    _file_cache[path] = (digest, specs)
    return specs


def mark_loaded(spec: Spec, digest: str) -> None:
    """Record that ``spec`` is the very object a spec file of this content defines.

    An attribute, not a dataclass field: ``spec.with_equations(...)``, ``resolve`` and the
    transforms make new objects without it, and those are hashed by what they hold
    (compiler/driver.py ``spec_hash``), never passed off as the file's own spec.
    """
    spec._loaded_hash = digest


def loaded_hash(spec: Spec) -> str | None:
    """The content hash of the file ``spec`` was loaded from, if it is that file's own object."""
    return getattr(spec, "_loaded_hash", None)


def _execute(path: Path, source: bytes, shown: str) -> dict:
    """Run a spec file's text as a module (named while it runs, as runpy does); its namespace.

    Its declarations are recorded in its own namespace (:mod:`optgen.declarations`): its
    specs take its own ``lr``, whatever another file it loads while it runs declares."""
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
    """Every spec on the search path by name; the first file to define a name wins."""
    out: dict[str, Spec] = {}
    for s in scan(spec_files()):
        if s.name in out and out[s.name].source != s.source:
            notice(f"{out[s.name].source} shadows {s.source}: both define {s.name!r}; "
                   f"the second is reachable by its path only")
            continue
        out.setdefault(s.name, s)
    return out


def names() -> list[str]:
    """Sorted names of the available optimizers."""
    return sorted(all_specs())


def source_path(spec: Spec) -> Path | None:
    """The absolute path of the file ``spec`` came from (None for a spec made in memory)."""
    if spec.source is None:
        return None
    p = Path(spec.source)
    return (p if p.is_absolute() else ROOT / p).resolve()


def is_builtin(spec: Spec) -> bool:
    """Whether ``spec`` is one of the specs shipped in the package's ``specs/``."""
    src = source_path(spec)
    return src is not None and src.parent == SPECS_DIR.resolve()


def spec_target(spec: Spec) -> str:
    """What names ``spec`` to ``optgen.create`` in any process: a built-in's name, or a user's
    spec as ``/absolute/path.py:NAME`` (its name alone may be unknown elsewhere)."""
    if spec.source is None or is_builtin(spec):
        return spec.name
    return f"{source_path(spec)}:{spec.name}"


def find_spec_file(name: str) -> Path:
    """The file defining spec ``name``: the first on the search path, as :func:`all_specs` decides."""
    for d in spec_dirs():  # the common case, ``<dir>/<name>.py``, without scanning everything
        p = d / f"{name}.py"
        if p.is_file() and any(s.name == name for s in load_file(p)):
            return p.resolve()
    spec = all_specs().get(name)
    if spec is not None:
        return source_path(spec)
    raise SpecError(f"unknown optimizer {name!r}; available: {', '.join(names())}")


def split_target(text: str) -> tuple[str, str, bool]:
    """``(path or name, spec name wanted in the file or "", whether it is a path)``.

    A path ends in ``.py`` (optionally ``:NAME``), contains a path separator, or
    is an existing directory that is not also a spec name.
    """
    path_part, wanted = text, ""
    if text.count(":") == 1 and ".py:" in text:
        path_part, _, wanted = text.partition(":")
    is_path = path_part.endswith(".py") or "/" in path_part or os.sep in path_part or path_part in (".", "..")
    return path_part, wanted, is_path


def _specs_in_file(path_part: str, wanted: str) -> list[Spec]:
    specs = load_file(path_part)
    if not wanted:
        return specs
    hits = [s for s in specs if s.name == wanted]
    if not hits:
        raise SpecError(f"{path_part}: no spec named {wanted!r}; it defines {[s.name for s in specs]}")
    return hits


def find_specs(targets) -> list[Spec]:
    """The one lookup every command uses: each target is a spec name on the search path,
    a spec file (``my/opt.py``; ``my/opt.py:NAME`` for one spec of a family) or a
    directory (every spec file in it; files that are no spec are skipped with a line).
    Raises :class:`SpecError` naming every target that matches nothing."""
    out: list[Spec] = []
    unknown: list[str] = []
    for target in targets:
        text = str(target)
        path_part, wanted, is_path = split_target(text)
        if not is_path and Path(text).is_dir() and text not in all_specs():
            is_path = True
        if not is_path:
            try:
                out.append(load_spec(text))
            except SpecError as exc:
                if not str(exc).startswith("unknown optimizer"):
                    raise
                unknown.append(text)
            continue
        if Path(path_part).is_dir():
            found = scan(spec_files([Path(path_part)]))
            if not found:
                raise SpecError(f"{path_part}: no spec files in this directory")
            out += found
        else:
            out += _specs_in_file(path_part, wanted)
    if unknown:
        raise SpecError(f"unknown optimizer(s) {', '.join(map(repr, unknown))}: not a spec name, a spec file "
                        f"or a directory; available names: {', '.join(names())}")
    return list({id(s): s for s in out}.values())


#: old name -> new name; an old name keeps working, with a DeprecationWarning, for one release
RENAMED = {"rmsprop_seed": "rmsprop_warmstart"}   # after 0.1.0: the name said where it came from, not what it is


def current_name(name: str) -> str:
    """``name``, or the name a renamed built-in spec has now (warning that the old one goes)."""
    if name in RENAMED and name not in all_specs():
        warnings.warn(f"optimizer {name!r} is now called {RENAMED[name]!r}; the old name will be removed "
                      f"in the next release", DeprecationWarning, stacklevel=3)
        return RENAMED[name]
    return name


def load_spec(name_or_path: str | Path | Spec) -> Spec:
    """A spec by name (``"adam"``), by path (``"my/opt.py"``), or ``"path.py:name"``."""
    if isinstance(name_or_path, Spec):
        return validate(name_or_path)
    text = str(name_or_path)
    path_part, wanted, is_path = split_target(text)
    if is_path:
        specs = _specs_in_file(path_part, wanted)
        if len(specs) > 1:
            raise SpecError(f"{path_part} defines several specs {[s.name for s in specs]}; "
                            f"name one as '{path_part}:NAME'")
        return specs[0]
    name = current_name(text)
    return next(s for s in load_file(find_spec_file(name)) if s.name == name)
