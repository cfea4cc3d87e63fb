"""Finding claims: ``derivations/*.py`` beside each spec directory, and ``Spec.claims``.

A derivations file is a Python module that defines a list ``claims`` at module
level (it may import the specs' symbols, :mod:`optgen.transforms`, SymPy). The
registry does not scan ``optgen/specs/derivations/``: these files define claims, not
specs. Claims attached to a spec (``Spec(..., claims=[...])``) are collected too.

``optgen verify`` takes what every command takes (:func:`optgen.registry.find_specs`)
and claim files besides: a name selects claims by name, by a spec they are about,
or by their file's name; a spec file selects the claims about its specs in the
``derivations/`` beside it and in the specs; a claims file (one that assigns a
module-level ``claims``, or any file in a ``derivations/`` directory) selects its
claims; a directory, the claims of its ``derivations/`` and of its specs. While
they run, the directories of the paths given are on the spec search path, so a
claim can name its neighbouring specs (``Side("mine")``).
"""
from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

from ..declarations import declared_in
from ..registry import display_path, find_specs, scan, spec_dirs, spec_files, split_target
from ..spec import SpecError
from .claims import Claim

__all__ = ["claim_files", "load_claims", "select", "claims_for", "target_dirs", "is_claims_file"]

_CLAIMS_TEXT = re.compile(r"^claims\s*[:=]", re.M)


def claim_files(directories=None) -> list[Path]:
    """The derivation files beside each directory (default: the spec search path)."""
    files = []
    for d in spec_dirs() if directories is None else directories:
        sub = Path(d) / "derivations"
        if sub.is_dir():
            files += sorted(p for p in sub.glob("*.py") if not p.name.startswith("_"))
    return files


def is_claims_file(path: Path) -> bool:
    """A file of claims, not of specs: in a ``derivations/`` directory or assigning ``claims``."""
    path = Path(path)
    return path.parent.name == "derivations" or bool(_CLAIMS_TEXT.search(path.read_text(errors="replace")))


def load_file(path: Path) -> list[Claim]:
    shown = display_path(path)
    try:
        namespace = runpy.run_path(str(path), run_name=f"optgen_claims_{path.stem}")
    except Exception as exc:  # the user's file failed: say which
        raise SpecError(f"{shown}: failed to load: {type(exc).__name__}: {exc}") from exc
    found = namespace.get("claims")
    if not isinstance(found, (list, tuple)) or not all(isinstance(c, Claim) for c in found):
        raise SpecError(f"{shown}: define a module-level list `claims` of optgen.verify claims")
    for c in found:
        c.origin = c.origin or shown
        c.declarations = c.declarations or declared_in(namespace)   # the domains its claims sample
    return list(found)


def load_claims(include_specs: bool = True) -> list[Claim]:
    """Every claim, in file order; names must be unique."""
    out: list[Claim] = []
    for f in claim_files():
        out += load_file(f)
    if include_specs:
        from ..registry import all_specs
        try:
            specs = all_specs()
        except SpecError as exc:  # another spec is broken: its own tests say so
            print(f"optgen verify: warning: spec claims skipped: {exc}", file=sys.stderr)
            specs = {}
        out += spec_claims(specs.values())
    _check_unique(out)
    return out


def spec_claims(specs) -> list[Claim]:
    """The claims attached to ``specs`` (each made to be about its spec)."""
    out = []
    for spec in specs:
        for c in spec.claims:
            c.origin = c.origin or (spec.source or spec.name)
            c.declarations = c.declarations or dict(spec.declarations)
            if spec.name not in c.about:
                c.about = (*c.about, spec.name)
            out.append(c)
    return out


def _check_unique(claims: list[Claim]) -> None:
    seen: dict[str, str] = {}
    for c in claims:
        if c.name in seen and seen[c.name] != c.origin:
            raise SpecError(f"{c.origin}: claim name {c.name!r} is also used in {seen[c.name]}")
        seen[c.name] = c.origin


def _is_path(target: str) -> bool:
    return split_target(target)[2] or Path(target).is_dir()


def target_dirs(targets) -> list[Path]:
    """The directories of the paths among ``targets`` (put on the search path while their claims run)."""
    out = []
    for t in targets or []:
        if _is_path(str(t)):
            p = Path(split_target(str(t))[0]).resolve()
            if p.is_dir():
                out.append(p)
            elif p.parent.name == "derivations":  # claims beside a directory of specs
                out.append(p.parent.parent)
            else:
                out.append(p.parent)
    return list(dict.fromkeys(out))


def _claims_of_path(target: str) -> list[Claim]:
    path = Path(split_target(target)[0])
    if path.is_dir():
        return [c for f in claim_files([path]) for c in load_file(f)] + spec_claims(scan(spec_files([path])))
    if not path.is_file():
        raise SpecError(f"{path}: no such file or directory")
    if is_claims_file(path):
        return load_file(path)
    specs = find_specs([target])
    near = [c for f in claim_files([path.resolve().parent]) for c in load_file(f)]
    wanted = {s.name for s in specs}
    found = [c for c in near if wanted & set(c.specs())] + spec_claims(specs)
    if not found:
        raise SpecError(f"no claims about {', '.join(map(repr, sorted(wanted)))} in "
                        f"{display_path(path.resolve().parent / 'derivations')}/ or in {display_path(path)}")
    return found


def claims_for(targets=None) -> list[Claim]:
    """The claims ``targets`` select (names, spec files, claim files, directories; all if none)."""
    targets = [str(t) for t in targets or []]
    names = [t for t in targets if not _is_path(t)]
    out = select(load_claims(), names) if names or not targets else []
    for t in targets:
        if _is_path(t):
            out += _claims_of_path(t)
    _check_unique(out)
    return list({c.name: c for c in out}.values())


def select(claims: list[Claim], names=None) -> list[Claim]:
    """The claims named, about, or defined in a file called one of ``names`` (all if none)."""
    if not names:
        return list(claims)
    chosen, unmatched = [], []
    for name in names:
        hits = [c for c in claims if c.name == name or name in c.specs() or Path(c.origin).stem == name]
        if not hits:
            unmatched.append(name)
        chosen += [c for c in hits if c not in chosen]
    if unmatched:
        raise SpecError(f"no claims about {', '.join(map(repr, unmatched))}; "
                        f"claims exist about {sorted({s for c in claims for s in c.specs()})}")
    return chosen
