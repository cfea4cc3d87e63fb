"""The fuzzers' hypothesis profile (fuzz_profiles.py), and a private spec folder and kernel cache.

The fuzzed specs are written to a temporary folder and their kernels built into
a temporary ``OPTGEN_CACHE_DIR``, so that a run leaves nothing in the user's cache.
"""
import os

import pytest

import fuzz_profiles

PROFILE = fuzz_profiles.load()


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
