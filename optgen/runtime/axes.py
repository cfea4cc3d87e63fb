"""The rows and columns of a group's tensors, for the kernels of axis reductions (CPU).

A tensor of shape (..., R, C) is B = N / (R C) matrices; its rows are the group's rows
``first_row .. first_row + B R`` and its columns ``first_col .. first_col + B C`` (the
flat order of a row state of shape (..., R, 1) and of a column state of shape (..., 1, C)).
A kernel that adds to row or column sums runs over :attr:`AxisTable.chunk_tensor` & co.,
runs of whole rows (:func:`row_runs`): a row's sum is one chunk's; a matrix's first chunk adds
into its columns' sums and each later chunk of a split matrix into sums of its own after them
(from ``chunk_part`` on, one per column of the matrices it reaches), which :meth:`AxisTable.means`
adds per column, so that no two threads add to one sum; the per-tensor stage computes the
values per row over every row of the group at once (float64), reading a per-tensor value at
``row_tensor``. States of a reduced shape are the group's own buffers here, one flat array
per state, a view per tensor.
"""
from __future__ import annotations

import numba
import numpy as np

from ..axes import reduced_shape


#: The chunks of a pass that adds to row and column sums are runs of whole rows of about
#: :func:`chunk_elements` elements: a large matrix is split into runs of its rows (at least
#: MIN_CHUNK_ROWS a run), small ones are grouped, several whole matrices a run. One chunk per matrix
#: held GPT-2 small's Adafactor to one thread on its 38M-element embedding while the other finished
#: the rest, and a small CNN's 3x3 kernels to a chunk of nine elements each (`optgen bench adafactor
#: --model gpt2-small --paired`, `--model cnn-1m`).
CHUNK_ELEMENTS = 1 << 16
#: ... but no smaller than a 64th of the group, up to this: each chunk of a split matrix has column
#: sums of its own, which every pass clears (the chunk, in its kernel), adds and reads; at 2^16
#: elements GPT-2 small's 1881 chunks had 2.8M of them (46 MB), and clearing and adding them took
#: 14 of the step's 166 ms.
MAX_CHUNK_ELEMENTS = 1 << 20
MIN_CHUNK_ROWS = 16


def chunk_elements(total: int) -> int:
    """Elements per chunk for a group of ``total``: 64 chunks or more (enough to share among the
    threads), each of CHUNK_ELEMENTS to MAX_CHUNK_ELEMENTS."""
    return min(max(total // 64, CHUNK_ELEMENTS), MAX_CHUNK_ELEMENTS)


def chunk_rows(rows: int, cols: int, target: int = CHUNK_ELEMENTS) -> int:
    """Rows per chunk of a (rows, cols) matrix: each chunk has its own column sums (cols of them), so
    a chunk is at least MIN_CHUNK_ROWS rows, and the column sums stay a sixteenth of the elements."""
    step = max(-(-target // max(cols, 1)), MIN_CHUNK_ROWS)
    return rows if step >= rows else step


def row_runs(rows: int, cols: int, batch: int, target: int = CHUNK_ELEMENTS) -> list[tuple[int, int]]:
    """The chunks of a tensor of ``batch`` (rows, cols) matrices, of about ``target`` elements each:
    ``[(first row, stop row)]`` counted over the tensor's rows (matrix b's row r is b rows + r); each
    run lies in one matrix or covers whole ones."""
    if rows * cols >= target:
        step = chunk_rows(rows, cols, target)
        return [(b * rows + r, b * rows + min(r + step, rows)) for b in range(batch) for r in range(0, rows, step)]
    per_chunk = -(-target // max(rows * cols, 1))
    return [(b * rows, min(b + per_chunk, batch) * rows) for b in range(0, batch, per_chunk)]


@numba.njit(cache=True, error_model="numpy")
def column_means(sums, own, own_start, own_col, own_count, count, out):
    """Each column's mean into ``out``: its first chunk's sum ``sums`` plus the later chunks'
    own sums ``own`` (part k: ``own_count[k]`` columns from ``own_col[k]``, at ``own_start[k]``),
    added per column in chunk order, so the same sum every step. Slices in Python took 150 us
    for GPT-2 small's 96 later chunks (147k own sums), where the step's kernels take 75 ms.
    The part table is unsigned and a division by zero is numpy's (no check that raises), so
    both loops vectorise: over the small CNN's 33k columns and 33k own sums it took 74 us with
    signed indices and Python's division, 19.5 us so (the same values; the two alternating)."""
    out[:] = 0.0
    for k in range(own_start.shape[0]):
        start, col = own_start[k], own_col[k]
        for j in range(own_count[k]):
            out[col + j] += own[start + j]
    for c in range(out.shape[0]):
        out[c] = (sums[c] + out[c]) / count[c]


@numba.njit(cache=True, error_model="numpy", fastmath={"reassoc"})  # a sum in lanes, not a chain of adds
def spread_matrix_means(x, lengths, spread, out):
    """Matrix m's mean of its ``lengths[m]`` consecutive values of ``x`` (its rows' values, say),
    into its ``spread[m]`` consecutive places of ``out`` (its columns): an empty run's mean is
    nan, numpy's mean of nothing. Lengths are unsigned, so the loops index without the check for
    a negative index, and vectorise. A small CNN's 3x3 kernels are 10k matrices: numpy's
    ``add.reduceat`` took 90 us over their 31k rows (9 ns a run), 131 with ``repeat`` over the
    columns; this takes 30. GPT-2 small's 116k rows in 98 matrices: 19 us, as reduceat alone."""
    first = np.uint64(0)
    place = np.uint64(0)
    for m in range(lengths.shape[0]):
        total = 0.0
        for i in range(first, first + lengths[m]):
            total += x[i]
        mean = total / np.float64(lengths[m])
        for j in range(place, place + spread[m]):
            out[j] = mean
        first += lengths[m]
        place += spread[m]


class AxisTable:
    """The axis layout of one group: the ``axes`` kernel table, the matrices' chunk table, the
    row and column counts, the float64 sums the kernels add to, and the reduced-shape states."""

    def __init__(self, shapes: list, dtype, n_reductions: int, n_means: int, axis_states: dict, states=None,
                 threads: int = 1):
        counts = {"row": [], "col": []}
        table = []
        first = {"row": 0, "col": 0}
        self.batches = [int(np.prod(sh[:-2], dtype=np.int64)) for sh in shapes]  # matrices per tensor
        for shape, batch in zip(shapes, self.batches):
            rows, cols = int(shape[-2]), int(shape[-1])
            table.append((rows, cols, first["row"], first["col"]))
            counts["row"].append((batch * rows, cols))   # B R rows, each the mean of C elements
            counts["col"].append((batch * cols, rows))
            first["row"] += batch * rows
            first["col"] += batch * cols
        self.size = dict(first)  # rows, columns of the group
        # rows (columns) per matrix, over the group's matrices
        self.n_matrices = sum(self.batches)
        self.matrix_lengths = {kind: np.repeat([int(sh[axis]) for sh in shapes], self.batches).astype(np.uint64)
                               for kind, axis in (("row", -2), ("col", -1))}
        self.dtype = np.dtype(dtype)
        self.table = np.array(table, dtype=np.uint64).reshape(len(shapes), 4)
        self.n_reductions, self.n_means = n_reductions, n_means
        self.count = {kind: np.repeat(np.array([c for _, c in cs], np.float64), [n for n, _ in cs])
                      for kind, cs in counts.items()}
        self.tensor_of = {kind: np.repeat(np.arange(len(shapes)), [n for n, _ in cs]) for kind, cs in counts.items()}
        self.kinds = {name: kind for name, (kind, _) in axis_states.items()}
        self.finals = {final: name for name, (_, final) in axis_states.items()}
        self.starts = {kind: np.cumsum([0] + [n for n, _ in cs]) for kind, cs in counts.items()}
        self.shapes = [tuple(s) for s in shapes]
        self._kept: dict = {}  # the step's arrays per row and column, reused: see :meth:`_buffer`
        self._arguments_made: dict = {}  # this step's kernel arguments: see :meth:`axis_arguments`
        self.flat = {}
        for name, kind in self.kinds.items():
            self.flat[name] = np.zeros(first[kind], dtype)
            if states is not None:
                for k in range(len(shapes)):
                    self.view(name, k)[...] = np.asarray(states[k][name]).reshape(-1)
        self.balance(threads)

    def balance(self, threads: int) -> None:
        """The chunk table of runs of whole rows, each thread's share of it an equal part of the
        group's elements (as ``_Group.balance`` of runtime/cpu.py deals the elementwise chunks).

        Numba's static ``prange`` schedule gives each thread an equal *count* of consecutive
        chunks; with the runs simply in tensor order GPT-2 small's 146 were 54% and 46% of its
        elements, and pass 0 of Adafactor took the larger share's time (0.845 of the streaming
        kernel, `optgen bench adafactor --model gpt2-small --paired`). Each run lies in one
        thread's part (a run of one matrix's rows that reaches past the part's end is cut at the
        row nearest it; whole small matrices grouped in one run are not), and the shorter shares
        are padded with empty chunks. The column sums are added in chunk order, so a mean depends
        on the table in float64 rounding only."""
        threads = max(int(threads), 1)
        total = sum(rows * cols * batch for (rows, cols, _, _), batch in zip(self.table.tolist(), self.batches))
        per = -(-total // threads) if total else 1
        target = chunk_elements(total)
        shares: list[list[list[int]]] = [[] for _ in range(threads)]
        pos = 0  # offset in the group's elements, tensor after tensor
        for k, ((rows, cols, _, first_col), batch) in enumerate(zip(self.table.tolist(), self.batches)):
            for r0, r1 in row_runs(rows, cols, batch, target):
                while r0 < r1:
                    b = min(pos // per, threads - 1)
                    cut = r1
                    if b < threads - 1 and r0 // rows == (r1 - 1) // rows:
                        # one matrix's rows: end at the share's boundary, to the nearest row
                        cut = min(r1, r0 + max(-(-((b + 1) * per - pos) // max(cols, 1)), 1))
                    shares[b].append([k, r0 * cols, cut * cols, first_col + (r0 // rows) * cols,
                                      r0 % rows, (-(-cut // rows) - r0 // rows) * cols])
                    pos += (cut - r0) * cols
                    r0 = cut
        width = max(len(share) for share in shares)
        chunks = [c for share in shares for c in share + [[0, 0, 0, 0, 0, 0]] * (width - len(share))]
        n_parts = self.size["col"]
        self.parts = []  # (the later chunk's first own sum, its first column, how many): AxisTable.means
        for c in chunks:
            if c[4]:  # a matrix's later run of rows: its column sums go after the columns
                self.parts.append((n_parts - self.size["col"], c[3], c[5]))
                c[3] = n_parts
                n_parts += c[5]
        self.part_table = tuple(np.array(column, np.uint64).reshape(-1) for column in zip(*self.parts)) or (
            np.zeros(0, np.uint64),) * 3  # the parts as arrays: column_means
        self.chunk_tensor = np.array([c[0] for c in chunks], dtype=np.int64)
        self.chunk_start = np.array([c[1] for c in chunks], dtype=np.uint64)
        self.chunk_stop = np.array([c[2] for c in chunks], dtype=np.uint64)
        self.chunk_part = np.array([c[3] for c in chunks], dtype=np.uint64)
        self.n_part_sums = n_parts - self.size["col"]
        self.partials = np.zeros((len(chunks), max(self.n_reductions, 1)), np.float64)
        self.sums = np.zeros((max(self.n_means, 1), max(self.size["row"], n_parts, 1)), np.float64)
        self.threads = threads

    @staticmethod
    def compiled_loops() -> list[tuple]:
        """This module's compiled loops that a step over rows and columns calls, with the argument
        types it calls them with (float64 values, uint64 lengths and part tables): the
        precompiler compiles them with the kernels (runtime/precompile.py). From a fresh cache,
        ``spread_matrix_means`` alone was 0.29 s of Adafactor's first step."""
        f64, u64 = numba.float64[::1], numba.uint64[::1]
        return [(spread_matrix_means, (f64, u64, u64, f64)), (column_means, (f64, f64, u64, u64, u64, f64, f64))]

    def view(self, name: str, k: int) -> np.ndarray:
        """State ``name`` of the group's ``k``-th tensor: a flat view of the group's buffer."""
        kind = self.kinds[name]
        return self.flat[name][self.starts[kind][k]:self.starts[kind][k + 1]]

    def state_shape(self, name: str, k: int) -> tuple:
        return reduced_shape(self.shapes[k], self.kinds[name])

    def inputs(self) -> dict:
        """What the per-tensor stages and kernels read of the layout: each row's (column's) tensor and
        the reduced-shape states' values before the step, in float64."""
        out = {"_row_tensor": self.tensor_of["row"], "_col_tensor": self.tensor_of["col"],
               "_col_mean_of_rows": self.col_mean_of_rows, "_row_mean_of_cols": self.row_mean_of_cols,
               "_axis_output": self.stage_output, "_axis_input": self.stage_input}
        for name, buf in self.flat.items():
            out[name] = self._copy(("input", name), buf)
        self._arguments_made = {}  # a new step: no kernel argument of it made yet
        return out

    def stage_output(self, name: str, kind: str) -> np.ndarray:
        """The array a per-tensor stage's loop stores value ``name`` in, one per row (``kind``
        "row") or column, kept from step to step (compiler/stage_loops.py)."""
        return self._buffer(("stage", name), self.size[kind])

    def stage_input(self, x, kind: str) -> np.ndarray:
        """``x`` as a stage's loop reads it: a float64 array over the group's rows (columns). A
        value the same for every row arrives as a scalar and is spread over them."""
        n = self.size[kind]
        if isinstance(x, np.ndarray) and x.shape == (n,) and x.dtype == np.float64 and x.flags.c_contiguous:
            return x
        return np.ascontiguousarray(np.broadcast_to(np.asarray(x, np.float64), (n,)))

    def _buffer(self, key, size: int, dtype=np.float64) -> np.ndarray:
        """An array kept for ``key`` from step to step. A new one each step (GPT-2 small's 116k rows
        and 84k columns, a dozen of them) was memory glibc handed back to the kernel at the end of
        the step and mapped fresh in the next: 2,189 page faults a step beside the stream kernel
        (`optgen bench adafactor --model gpt2-small --paired --impl stream,optgen`)."""
        a = self._kept.get(key)
        if a is None or a.shape != (size,) or a.dtype != dtype:
            a = self._kept[key] = np.empty(size, dtype)
        return a

    def _copy(self, key, x: np.ndarray) -> np.ndarray:
        """The flat array ``x`` in float64, in the array kept for ``key``."""
        out = self._buffer(key, x.size)
        out[...] = x
        return out

    def col_mean_of_rows(self, x, name: str | None = None):
        """``col_mean`` of a value per row (an array over the group's rows): each matrix's mean of
        its rows' values, for each of its columns (compiler/ssa.py, ``ColMeanOfRows``); into an
        array kept for the stage's value ``name``, if it gives one."""
        return self._over_matrix(x, "row", "col", name)

    def row_mean_of_cols(self, x, name: str | None = None):
        return self._over_matrix(x, "col", "row", name)

    def _over_matrix(self, x, source: str, kind: str, name: str | None):
        out = self._buffer(("stage", name), self.size[kind]) if name else np.empty(self.size[kind])
        spread_matrix_means(self.stage_input(x, source), self.matrix_lengths[source], self.matrix_lengths[kind], out)
        return out

    def means(self, p, values: dict) -> None:
        """The pass's means over an axis into ``values``, from the sums its kernel added."""
        for j, r in enumerate(p.axis_reductions):
            kind = p.axis_kinds[r]
            n = self.size[kind]
            out = self._buffer(("mean", r), n)
            if kind == "col" and self.parts:  # a matrix's first chunk added to its columns, each later one to sums of its own
                column_means(self.sums[j, :n], self.sums[j, n:n + self.n_part_sums], *self.part_table,
                             self.count["col"], out)
            else:
                np.divide(self.sums[j, :n], self.count[kind], out=out)
            values[r] = out

    def keep(self, outputs: dict, values: dict) -> None:
        """Store the new values of the reduced-shape states a per-tensor stage made, in their dtype;
        what reads them later reads the stored (rounded) value, as a kernel reads a state it wrote."""
        for final, name in self.finals.items():
            if final in outputs:
                buf = self.flat[name]
                buf[...] = outputs[final]  # a value per row (column), or one for all of them
                values[final] = self._copy(("kept", final), buf)

    def axis_arguments(self, p, values: dict) -> list:
        """The pass's row and column values as its kernel takes them: one per row or column, in the
        group's dtype (what the kernel computes in; a float32 loop then loads floats, no conversions).

        A reduced-shape state's new value is the state's own buffer, which :meth:`keep` rounded it
        into; any other value is converted once a step, however many passes read it (Adafactor's
        column factor: passes 1 and 2). Converting each value for each pass, over GPT-2 small's
        116k rows and 84k columns, was 0.2 ms of the step's 2.3 ms on the host (the CPU between
        the kernels, `optgen bench adafactor --model gpt2-small --paired`)."""
        out = []
        for s in p.axis_args:
            a = self._arguments_made.get(s)
            if a is None:
                if s in self.finals:  # kept: values[s] is this buffer's value in float64
                    a = self.flat[self.finals[s]]
                else:
                    a = self._buffer(("argument", s), self.size[p.axis_kinds[s]], self.dtype)
                    a[...] = values[s]
                self._arguments_made[s] = a
            out.append(a)
        return out


__all__ = ["AxisTable"]
