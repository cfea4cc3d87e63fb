"""A corrupted Numba cache file costs a recompile, not a crash.

Generated kernels are ``cache=True``: Numba keeps an index (``.nbi``) and compiled
code (``.nbc``) per kernel next to the module (``__pycache__``) and unpickles them
on the first call. A truncated or corrupted file (a full disk, a killed process,
a copy gone wrong) makes that first call raise a raw ``UnpicklingError`` from
inside ``opt.step``. Numba keys these files on the module's content (a hash of the
source), so a stale file is never loaded; an unreadable one is the only failure
left, and this module turns it into a warning that names the files, which are
deleted so that the kernel is compiled (and cached) again.

It wraps one method of each dispatcher's cache object (Numba's ``_cache``, an
internal attribute); with a Numba that lacks it nothing is wrapped and the
behaviour is Numba's own.
"""
from __future__ import annotations

import glob
import os
import warnings


def guard_numba_cache(module) -> None:
    """Wrap the cache loader of every Numba dispatcher defined in ``module``."""
    for value in list(vars(module).values()):
        cache = getattr(value, "_cache", None)
        load = getattr(cache, "load_overload", None)
        if load is None or getattr(load, "_optgen_guarded", False):
            continue
        cache.load_overload = _guarded(cache, load)


def cache_files(cache) -> list[str]:
    """The index and data files of one dispatcher's cache (those that exist)."""
    cache_file = getattr(cache, "_cache_file", None)
    index = getattr(cache_file, "_index_path", None)
    if index is None:
        return []
    base = index[:-len(".nbi")] if index.endswith(".nbi") else index
    return sorted(p for p in [index, *glob.glob(glob.escape(base) + ".*.nbc")] if os.path.exists(p))


def _guarded(cache, load):
    def load_overload(*args, **kwargs):
        try:
            return load(*args, **kwargs)
        except Exception as exc:  # unreadable cache files: compile afresh (None = not cached)
            _discard(cache, exc)
            return None
    load_overload._optgen_guarded = True
    return load_overload


def _discard(cache, exc: Exception) -> None:
    files = cache_files(cache)
    left = []
    for path in files:
        try:
            os.unlink(path)
        except OSError:
            left.append(path)
    what = f"{type(exc).__name__}: {exc}"
    if left:
        warnings.warn(f"optgen: cannot read the Numba cache file(s) {', '.join(files)} ({what}) and cannot "
                      f"delete {', '.join(left)}: delete them by hand; the kernel is compiled afresh meanwhile",
                      RuntimeWarning, stacklevel=4)
    else:
        warnings.warn(f"optgen: could not read the Numba cache file(s) {', '.join(files) or '(none found)'} "
                      f"({what}); deleted them, the kernel is compiled again", RuntimeWarning, stacklevel=4)
