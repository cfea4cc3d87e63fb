"""The compiler: a pipeline of small named passes (see docs/design.md, "The pipeline").

ssa → stage → optimize → printers → render, driven by :mod:`.driver`.
"""
from .driver import Build, build, compile_spec, load_module, option_combinations

__all__ = ["Build", "build", "compile_spec", "load_module", "option_combinations"]
