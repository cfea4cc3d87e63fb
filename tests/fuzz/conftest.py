"""Hypothesis profiles for the fuzzers, and a private spec folder and kernel cache.

``OPTGEN_FUZZ`` picks the profile: ``fast`` (the default, what ``make test``
runs: a few examples, the same ones every run, so the suite does not flake) or
``long`` (``make fuzz``: many random examples for minutes; failures are kept in
an example database under the kernel cache, and replayed first next time).

The fuzzed specs are written to a temporary folder and their kernels built into
a temporary ``OPTGEN_CACHE_DIR``, so that a run leaves nothing in the user's cache.
"""
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

# no shrinking in the fast profile: each example compiles a spec (~1 s), and a failing example
# is already a complete reproduction (the spec file's text and the run are printed)
settings.register_profile("fast", max_examples=6, derandomize=True, deadline=None, database=None,
                          print_blob=True, suppress_health_check=_SLOW_OK,
                          phases=[Phase.explicit, Phase.generate])
PROFILE = os.environ.get("OPTGEN_FUZZ", "fast")
if PROFILE == "long":
    settings.register_profile(
        "long", max_examples=int(os.environ.get("OPTGEN_FUZZ_EXAMPLES", "400")), deadline=None,
        print_blob=True, suppress_health_check=_SLOW_OK,
        database=DirectoryBasedExampleDatabase(
            Path(os.environ.get("OPTGEN_CACHE_DIR", Path.home() / ".cache" / "optgen")) / "fuzz-examples"))
if PROFILE not in ("fast", "long"):
    raise pytest.UsageError(f"OPTGEN_FUZZ={PROFILE!r}: use 'fast' (the default) or 'long'")
settings.load_profile(PROFILE)


@pytest.fixture(scope="session")
def fuzz_dirs(tmp_path_factory):
    """(folder for fuzzed spec files, kernel cache) for this session; OPTGEN_CACHE_DIR points at the cache."""
    root = tmp_path_factory.mktemp("fuzz")
    specs, cache = root / "specs", root / "cache"
    specs.mkdir()
    before = os.environ.get("OPTGEN_CACHE_DIR")
    os.environ["OPTGEN_CACHE_DIR"] = str(cache)
    yield specs, cache
    if before is None:
        del os.environ["OPTGEN_CACHE_DIR"]
    else:
        os.environ["OPTGEN_CACHE_DIR"] = before
