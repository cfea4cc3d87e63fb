"""Finding claims: ``derivations/*.py`` beside each spec directory, and ``Spec.claims``.

A derivations file is a Python module that defines a list ``claims`` at module
level (it may import the specs' symbols, :mod:`optgen.transforms`, SymPy). The
registry does not scan ``optgen/specs/derivations/``: these files define claims, not
specs. Claims attached to a spec (``Spec(..., claims=[...])``) are collected too.
"""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

from ..registry import display_path, spec_dirs
from ..spec import SpecError
from .claims import Claim

__all__ = ["claim_files", "load_claims", "select"]


def claim_files() -> list[Path]:
    files = []
    for d in spec_dirs():
        sub = Path(d) / "derivations"
        if sub.is_dir():
            files += sorted(p for p in sub.glob("*.py") if not p.name.startswith("_"))
    return files


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
        for spec in specs.values():
            for c in spec.claims:
                c.origin = c.origin or (spec.source or spec.name)
                if spec.name not in c.about:
                    c.about = (*c.about, spec.name)
                out.append(c)
    seen: dict[str, str] = {}
    for c in out:
        if c.name in seen:
            raise SpecError(f"{c.origin}: claim name {c.name!r} is also used in {seen[c.name]}")
        seen[c.name] = c.origin
    return out


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
