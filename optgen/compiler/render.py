"""Pass 5: rendering the Jinja2 templates in ``optgen/templates/`` into module source.

The render step only lays out code that the printers produced; what a kernel
computes is decided by the passes before it.
"""
from __future__ import annotations

import jinja2

from ..registry import TEMPLATES_DIR

_env = None


def environment() -> jinja2.Environment:
    global _env
    if _env is None:
        _env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
            undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
            trim_blocks=False, lstrip_blocks=False, autoescape=False)
        _env.filters["pyrepr"] = repr
    return _env


def render(template: str, **context) -> str:
    text = environment().get_template(template).render(**context)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"
