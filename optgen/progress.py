"""The progress line every long command shows (build, check, bench)."""
from __future__ import annotations

import sys


def progress_bar(i: int, n: int, label: str, stream=sys.stderr) -> None:
    """A one-line progress bar on a terminal (and a line per item elsewhere)."""
    width = 30
    done = int(width * (i + 1) / max(n, 1))
    text = f"[{'#' * done}{'.' * (width - done)}] {i + 1}/{n} {label}"
    if stream.isatty():
        stream.write("\r" + text[:100].ljust(100) + ("\n" if i + 1 == n else ""))
    else:
        stream.write(text + "\n")
    stream.flush()
