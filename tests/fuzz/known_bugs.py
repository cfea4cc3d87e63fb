"""Known bugs the fuzzers step around, in one place, until their fixes merge.

Each entry names a bug of issue 10 that the fuzzers find on today's code; while
an entry is here, the generators in this folder do not draw the inputs that
reach it (``known_bug(name)`` is what they ask). Whoever merges a fix deletes
its entry: the fuzzers then draw those inputs again and keep the fix honest.
Bugs the fuzzers found that were not known are regression tests in
``test_fuzz_found.py`` instead (xfail, strict).

``OPTGEN_FUZZ_IGNORE_KNOWN=1`` draws every input as if the list were empty: run
it (with ``OPTGEN_FUZZ=long``) to see which entries still fail.
"""
from __future__ import annotations

import os

KNOWN_BUGS: dict[str, str] = {}


def known_bug(name: str) -> bool:
    """True while bug ``name`` is unfixed (its entry is still in KNOWN_BUGS)."""
    return name in KNOWN_BUGS and os.environ.get("OPTGEN_FUZZ_IGNORE_KNOWN") != "1"
