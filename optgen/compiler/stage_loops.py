"""Pass 4b: a per-tensor stage's values per row and per column, fused into compiled loops.

The per-tensor stage (compiler/stage.py) computes, between two passes, the values that are one
per tensor and, for a spec with axis reductions, one per row or column of the group's matrices:
Adafactor's new row and column statistics and the column factor the next pass reads. Printed as
numpy, each operation over GPT-2 small's 115,793 rows or 84,480 columns is a float64 temporary
of up to 0.9 MB; the stage took 0.74 ms of a 78 ms step and was most of the 3.6 MB the step
allocated, 255 us alone with its inputs in the caches (136 as loops; docs/performance.md, "The
per-tensor stage compiled"). Here the consecutive
assignments of one kind (row or column) become one loop of a ``numba.njit`` function, a local
per value and one store per output, into an array the runtime keeps from step to step
(``AxisTable.stage_output``); per-tensor values are read at the row's tensor. What stays numpy:
the per-tensor values (one per tensor, a few hundred at most) and the means over a matrix
(``col_mean`` of a row value: a sum per run of rows, runtime/axes.py).

The loops compute what the numpy lines computed, in float64, with numpy's NaN-propagating
``maximum``/``minimum`` and no fast-math, so the values are those of the numpy stage (as the
oracle's, in ``tests/test_stage_loops.py``).
"""
from __future__ import annotations

import dataclasses

import sympy

from .printers import KernelPrinter, assignment_lines
from .ssa import MeanOverMatrix

_I = sympy.Symbol("_i", integer=True)        # the loop's row (column)
_T = sympy.Symbol("_t", integer=True)        # that row's (column's) tensor
#: the per-tensor stage's index from each row (column) of the group to its tensor
TENSOR_OF = {"row": sympy.Symbol("_row_tensor", integer=True), "col": sympy.Symbol("_col_tensor", integer=True)}


class StageLoopPrinter(KernelPrinter):
    """Per-row (per-column) float64 code in a ``numba.njit`` loop, with the numpy stage's
    semantics: ``maximum``/``minimum`` propagate NaN (Python's ``max`` keeps its first argument
    when the other is NaN), and a selection evaluates to the chosen branch."""

    max_function, min_function = "np.maximum", "np.minimum"

    def __init__(self, settings=None):
        super().__init__("float64", settings)


@dataclasses.dataclass
class AxisLoop:
    """One compiled loop of a stage: ``pairs`` over every row (``kind`` "row") or column."""

    kind: str
    pairs: list                 # [(symbol, expr)] in order
    fn: str = ""                # the njit function's name
    axis_inputs: list = dataclasses.field(default_factory=list)    # arrays over the rows (columns)
    tensor_inputs: list = dataclasses.field(default_factory=list)  # arrays over tensors
    host_inputs: list = dataclasses.field(default_factory=list)    # scalars

    @property
    def outputs(self) -> list[str]:
        return [s.name for s, _ in self.pairs]

    @property
    def axis(self) -> str:
        """What the loop runs over, in words: "row" or "column"."""
        return {"row": "row", "col": "column"}[self.kind]

    def context(self) -> dict:
        """What the module template prints of this loop (templates/module.py.j2)."""
        return {"fn": self.fn, "parameters": self.parameters, "body": self.body(), "axis": self.axis,
                "size": f"_out_{self.outputs[0]}", "signature": self.signature}

    @property
    def signature(self) -> str:
        """The Numba argument types the runtime calls the loop with (runtime/axes.py): the rows'
        (columns') int64 tensor index, float64 arrays over rows (columns) and over tensors, float64
        host scalars, the float64 output arrays. The precompiler compiles it so before the first
        step (runtime/precompile.py)."""
        array, scalar = "float64[::1]", "float64"
        types = (["int64[::1]"] if self.tensor_inputs else []) + [array] * len(self.axis_inputs) \
            + [array] * len(self.tensor_inputs) + [scalar] * len(self.host_inputs) + [array] * len(self.outputs)
        return f"({', '.join(types)})"

    @property
    def runtime_inputs(self) -> list[str]:
        """What the stage function takes from the runtime for this loop (runtime/axes.py)."""
        return ["_axis_output", "_axis_input", *([TENSOR_OF[self.kind].name] if self.tensor_inputs else [])]

    @property
    def parameters(self) -> list[str]:
        tensor = [TENSOR_OF[self.kind].name] if self.tensor_inputs else []
        return [*tensor, *self.axis_inputs, *self.tensor_inputs, *self.host_inputs,
                *(f"_out_{s}" for s in self.outputs)]

    def body(self) -> list[str]:
        """The loop's body: a local per value (later ones read it), then the stores."""
        free = set().union(*(e.free_symbols for _, e in self.pairs))
        index = {**{n: _I for n in self.axis_inputs}, **{n: _T for n in self.tensor_inputs}}
        repl = {x: sympy.IndexedBase(x.name)[index[x.name]] for x in free if x.name in index}
        lines = [f"{_T} = {TENSOR_OF[self.kind]}[{_I}]"] if self.tensor_inputs else []
        lines += assignment_lines(StageLoopPrinter(), [(s, e.xreplace(repl)) for s, e in self.pairs])
        return lines + [f"_out_{s}[{_I}] = {s}" for s in self.outputs]


def values_per_tensor(v) -> set:
    """A variant's values that a stage holds as arrays (one per tensor, row or column): the stages'
    own, the passes' sums and means, and the reduced-shape states' old values."""
    return ({s for st in v.tensor_stages for s, _ in st} | {s for p in v.passes for s, _ in p.reductions}
            | set(v.axis_kinds))


def loops_summary(v, q: int) -> str:
    """``optgen show --stage passes``: what stage ``q`` of variant ``v`` computes in loops."""
    loops = [seg for seg in split_stage(v.tensor_stages[q], values_per_tensor(v), v.axis_kinds)
             if isinstance(seg, AxisLoop)]
    return "; ".join(f"over the {lp.axis}s: {', '.join(lp.outputs)}" for lp in loops)


def split_stage(pairs: list, per_tensor: set, axis_kinds: dict) -> list:
    """A stage's assignments in order as segments: ``[(symbol, expr)]`` lists of numpy lines and
    :class:`AxisLoop` s. An assignment goes into a loop when its value is one per row or column
    and it reads only values of its own kind, per-tensor values and host values, with no mean
    over a matrix: into the last loop of its kind if nothing it reads is made after that loop
    (Adafactor's row factor joins the loop of the new row statistics, though a column loop
    comes between), else into a new one."""
    segments: list = []
    for s, e in pairs:
        kind = axis_kinds.get(s)
        loop_kind = kind if kind and not e.atoms(MeanOverMatrix) and all(
            axis_kinds.get(x) in (None, kind) for x in e.free_symbols) else None
        last = segments[-1] if segments else None
        if loop_kind:
            target = _joinable_loop(segments, loop_kind, e.free_symbols)
            if target is not None:
                target.pairs.append((s, e))
            else:
                segments.append(AxisLoop(loop_kind, [(s, e)]))
        elif isinstance(last, list):
            last.append((s, e))
        else:
            segments.append([(s, e)])
    for seg in segments:
        if isinstance(seg, AxisLoop):
            _classify_inputs(seg, per_tensor, axis_kinds)
    return segments


def _joinable_loop(segments: list, kind: str, reads: set):
    """The last loop of ``kind``, if no segment after it makes a value in ``reads``."""
    made_after: set = set()
    for seg in reversed(segments):
        pairs = seg.pairs if isinstance(seg, AxisLoop) else seg
        if isinstance(seg, AxisLoop) and seg.kind == kind:
            return seg if not made_after & reads else None
        made_after |= {x for x, _ in pairs}
    return None


def _classify_inputs(loop: AxisLoop, per_tensor: set, axis_kinds: dict) -> None:
    defined = {s for s, _ in loop.pairs}
    free = set().union(*(e.free_symbols for _, e in loop.pairs)) - defined
    for x in sorted(free, key=lambda x: x.name):
        if axis_kinds.get(x) == loop.kind:
            loop.axis_inputs.append(x.name)
        elif x in per_tensor:
            loop.tensor_inputs.append(x.name)
        else:
            loop.host_inputs.append(x.name)


def call_lines(loop: AxisLoop) -> list[str]:
    """The stage function's lines around one loop: the kept output arrays, the inputs over the
    rows as arrays of the group's rows (a value the same for every row arrives as a scalar),
    the call, and the outputs bound to their names."""
    lines = [f"_out_{s} = _axis_output({s!r}, {loop.kind!r})" for s in loop.outputs]
    lines += [f"{a} = _axis_input({a}, {loop.kind!r})" for a in loop.axis_inputs]
    lines.append(f"{loop.fn}({', '.join(loop.parameters)})")
    lines += [f"{s} = _out_{s}" for s in loop.outputs]
    return lines


__all__ = ["AxisLoop", "StageLoopPrinter", "TENSOR_OF", "call_lines", "loops_summary", "split_stage",
           "values_per_tensor"]
