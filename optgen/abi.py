"""The kernel ABI: the one definition of what a generated module hands the runtime.

A generated module (``templates/module.py.j2`` and the targets' templates that
extend it) defines ``VARIANTS``: for each outcome of the host conditions (the key
``select_variant(t, hyper)`` returns) one :class:`Variant`, built from these
dataclasses, so the contract is data that the runtime, the precompiler, the bench
and ``optgen show`` all read, and not a dict layout each of them restates.

A pass kernel's arguments, in order (``runtime/cpu.py`` and ``runtime/cuda.py``
pass them, ``runtime/precompile.py`` types them):

=====================  ======================================================
CPU (``numba.njit``)   ``chunk_tensor, chunk_start, chunk_stop, sizes``, one
                       address table per name of :attr:`Pass.arrays`, the
                       :attr:`Pass.host_args` as scalars of the kernel's dtype,
                       one 1-D array of the kernel's dtype per
                       :attr:`Pass.tensor_args` (a value per tensor), and the
                       float64 ``partials[chunk, reduction]``; a pass that
                       :attr:`Pass.uses_axes` also takes, before the partials,
                       one array of the kernel's dtype per :attr:`Pass.axis_args` and the
                       uint64 ``axes`` table (and, with :attr:`Pass.axis_reductions`, the
                       uint64 ``chunk_part``: each chunk's first column sum), and after them
                       the float64 ``axis_sums[axis reduction, row or column sum]``.
CUDA (``cuda.jit``)    ``chunk_tensor, chunk_start, chunk_stop``, the address
                       tables, the host scalars, then the per-tensor table
                       ``[tensor, column]`` if the pass reads per-tensor values
                       and ``partials`` if it sums (:attr:`Pass.signatures`).
=====================  ======================================================

The traffic model is :func:`bytes_per_element`: every element of every array a
pass loads is read once and of every array it stores written once; nothing else
touches memory per element (the per-tensor stage and the chunk partials are
per tensor or per chunk). The bench's streaming floor moves exactly these bytes.

Designed to grow (docs/design.md, "The kernel ABI"): host values that differ per
tensor (param groups, per-parameter step counts) become :attr:`Pass.tensor_args`
filled per group, which every kernel already takes; a reduction over an axis, a
block is a new kind of entry next to :attr:`Pass.reductions` (as the sums over all
tensors already are: :attr:`Pass.global_reductions`); a step that is not elementwise
runs between passes on an array of its own (:class:`MatrixStep`, Muon's Newton–Schulz); a
state whose dtype or shape differs from the parameter's is a new field of
:class:`Variant` beside ``arrays``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Mapping

#: Raised whenever the layout below changes: a generated module carries it in its
#: header (``ABI_VERSION``), and one of another version is rebuilt, never run.
VERSION = 2

#: The dtypes a module has kernels for (``Pass.kernels`` keys): the parameters'
#: and states' storage dtypes. The printers, the array checks of both runtimes and
#: the templates all read this one tuple; a storage dtype is added here first.
DTYPES = ("float32", "float64")


@dataclasses.dataclass(frozen=True)
class Finish:
    """CUDA only: the kernel after a reducing pass that adds each tensor's chunk partials
    and computes the per-tensor stage on the device (one thread per tensor, float64)."""

    host_args: tuple[str, ...]
    kernels: Mapping[str, Callable] = dataclasses.field(default_factory=dict)  # dtype -> kernel
    signatures: Mapping[str, str] = dataclasses.field(default_factory=dict)    # dtype -> numba signature


@dataclasses.dataclass(frozen=True)
class Pass:
    """One loop over every element of every tensor of a dtype: one kernel launch."""

    index: int
    loads: tuple[str, ...]        # arrays read per element (``w``, ``g``, states)
    stores: tuple[str, ...]       # arrays written per element
    host_args: tuple[str, ...]    # host scalars (hyperparameters, host values, t), in argument order
    tensor_args: tuple[str, ...]  # per-tensor values the kernel reads (trust ratios)
    reductions: tuple[str, ...]   # per-tensor sums the kernel accumulates into the partials
    #: those of ``reductions`` that are summed over every tensor of every group (``global_sum``):
    #: the runtime adds their partials over the whole step before the next pass
    global_reductions: tuple[str, ...] = ()
    kernels: Mapping[str, Callable] = dataclasses.field(default_factory=dict)  # dtype -> kernel
    signatures: Mapping[str, str] = dataclasses.field(default_factory=dict)    # CUDA: dtype -> signature
    finish: Finish | None = None  # CUDA: the finishing kernel after a reducing pass
    #: CPU, a pass that reads or makes values per row or column (docs/axis-reductions.md): the
    #: row / column values it reads (float64, one array over the group's rows or columns each),
    #: the means over an axis it accumulates (``row_mean``, ``col_mean``), and the kind ("row" /
    #: "col") of each of both
    axis_args: tuple[str, ...] = ()
    axis_reductions: tuple[str, ...] = ()
    axis_kinds: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def uses_axes(self) -> bool:
        """Whether the kernel takes the axis arguments: it runs over whole matrices (one chunk
        each, so that no two threads add to one row's or column's sum) and takes, after the
        per-tensor values, its axis values, the ``axes[tensor, (rows, cols, first row, first
        column)]`` table (uint64) and, after the partials, ``axis_sums[reduction, row or column]``.
        A CUDA kernel takes them after its partials: the axis values, the table (int64), then, for
        a pass with axis reductions, the chunks' first column sums and ``axis_sums``."""
        return bool(self.axis_args or self.axis_reductions)

    @property
    def arrays(self) -> tuple[str, ...]:
        """The address tables the kernel takes, in argument order: the loads, then the stores."""
        return tuple(dict.fromkeys((*self.loads, *self.stores)))


@dataclasses.dataclass(frozen=True)
class MatrixStep:
    """A step on each tensor viewed as a matrix (its first dimension by the rest), between two
    passes: it reads and overwrites the array ``array`` (optgen/matrix.py, runtime/matrix.py)."""

    array: str                  # the step's own array: the pass before stores its input there
    kind: str                   # "newton_schulz"
    steps: int
    coefficients: tuple[float, ...]
    eps: float
    equation: str               # the spec file and equation, for errors
    dtype: str | None = None    # the iteration's precision ("bfloat16"), None: the array's own


@dataclasses.dataclass(frozen=True)
class Variant:
    """The step for one outcome of the host conditions: a host stage, then the passes."""

    key: tuple
    host: Callable[[int, Mapping[str, Any]], dict]  # (t, hyperparameters) -> host values, float64
    passes: tuple[Pass, ...]
    tensor_stages: tuple[Callable, ...] = ()  # CPU: after pass q, per-tensor values (float64 arrays)
    stage_loops: tuple[tuple, ...] = ()       # stage q's compiled loops: ((function, Numba signature), ...)
    columns: tuple[str, ...] = ()             # CUDA: the per-tensor table's columns
    matrix_steps: tuple[tuple[MatrixStep, ...], ...] = ()  # CPU: after pass q, its matrix steps


def bytes_per_element(passes: Iterable, itemsize: int) -> int:
    """Bytes a step moves per parameter element: each pass reads its loads and writes its stores.

    ``passes`` may be any passes with ``loads`` and ``stores`` (this module's, or the
    compiler's intermediate ones, ``compiler/stage.py`` and ``compiler/optimize.py``):
    the one traffic model of the compiler's summaries, the runtime and the bench."""
    return itemsize * sum(len(p.loads) + len(p.stores) for p in passes)


def max_reductions(variants: Iterable[Variant]) -> int:
    """The most per-tensor sums any pass of any variant accumulates (the partials' width)."""
    return max((len(p.reductions) for v in variants for p in v.passes), default=0)


def sums_over_all_tensors(variants: Iterable[Variant]) -> bool:
    """Whether any pass of any variant sums over every tensor (``global_sum``)."""
    return any(p.global_reductions for v in variants for p in v.passes)


def matrix_arrays(variants: Iterable[Variant]) -> tuple[str, ...]:
    """The arrays of the matrix steps of any variant: scratch the runtime allocates, not states."""
    return tuple(dict.fromkeys(m.array for v in variants for after in v.matrix_steps for m in after))


def axis_states(module) -> dict:
    """A module's reduced-shape states, ``name -> (kind, new value)`` (``{}`` for a module without)."""
    return getattr(module, "AXIS_STATES", {})


def reads_shapes(module) -> bool:
    """Whether a module's kernels need each tensor's shape, not only its size: matrix steps
    (Muon views a tensor as its matrix) and axis reductions (Adafactor's rows and columns)."""
    variants = module.VARIANTS.values()
    return bool(matrix_arrays(variants) or axis_states(module)
                or any(p.uses_axes for v in variants for p in v.passes))


__all__ = ["VERSION", "DTYPES", "Finish", "MatrixStep", "Pass", "Variant", "bytes_per_element", "max_reductions",
           "sums_over_all_tensors", "matrix_arrays", "axis_states", "reads_shapes"]

