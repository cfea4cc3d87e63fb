"""Hypothesis profiles of the fuzzers, chosen by ``OPTGEN_FUZZ`` (imported by the conftests that fuzz).

``fast`` (the default, what ``make test`` runs): a few examples, the same ones every
run, so the suite does not flake, and no shrinking (each example compiles a spec, ~1 s,
and a failing example is already a complete reproduction: the spec file's text and
the run are printed). ``long`` (``make fuzz``): ``OPTGEN_FUZZ_EXAMPLES`` random
examples per test (400 by default), shrunk to a minimal one on failure (unless
``OPTGEN_FUZZ_SHRINK=0``), kept in an example database under the kernel cache and
replayed first on the next run.
"""
from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
           HealthCheck.function_scoped_fixture]   # fixtures here set up folders, not per-example state
NO_SHRINK = [Phase.explicit, Phase.reuse, Phase.generate]


def load() -> str:
    """Register the profiles and load the one ``OPTGEN_FUZZ`` names; returns its name."""
    profile = os.environ.get("OPTGEN_FUZZ", "fast")
    if profile not in ("fast", "long"):
        raise ValueError(f"OPTGEN_FUZZ={profile!r}: use 'fast' (the default) or 'long'")
    settings.register_profile("fast", max_examples=6, derandomize=True, deadline=None, database=None,
                              print_blob=True, suppress_health_check=SLOW_OK,
                              phases=[Phase.explicit, Phase.generate])
    if profile == "long":
        cache = Path(os.environ.get("OPTGEN_CACHE_DIR", Path.home() / ".cache" / "optgen"))
        shrink = os.environ.get("OPTGEN_FUZZ_SHRINK", "1") != "0"
        settings.register_profile(
            "long", max_examples=int(os.environ.get("OPTGEN_FUZZ_EXAMPLES", "400")), deadline=None,
            print_blob=True, suppress_health_check=SLOW_OK,
            database=DirectoryBasedExampleDatabase(cache / "fuzz-examples"),
            **({} if shrink else {"phases": NO_SHRINK}))
    settings.load_profile(profile)
    return profile
