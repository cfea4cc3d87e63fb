"""The progress line every long command shows (build, check, bench)."""
from __future__ import annotations

import sys


def progress_bar(i: int, n: int, label: str, stream=None) -> None:
    """A one-line progress bar on a terminal (and a line per item elsewhere); on ``sys.stderr``
    as it is at the call (a default bound at import wrote to whatever stderr was then: a
    redirected or closed one)."""
    stream = sys.stderr if stream is None else stream
    width = 30
    done = int(width * (i + 1) / max(n, 1))
    text = f"[{'#' * done}{'.' * (width - done)}] {i + 1}/{n} {label}"
    if stream.isatty():
        stream.write("\r" + text[:100].ljust(100) + ("\n" if i + 1 == n else ""))
    else:
        stream.write(text + "\n")
    stream.flush()
