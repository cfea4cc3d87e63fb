"""row_mean / col_mean, reduced-shape states and the per-tensor option factored
(docs/axis-reductions.md): the language's checks, the compiler's IR, both targets' builds, and
hand-computed values of small specs (each number below is derived in its test).
"""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

import optgen
from optgen.compiler import driver
from optgen.compiler.ssa import COL, ROW, ColMeanOfRows, to_ssa
from optgen.compiler.stage import stage
from optgen.reference import reference
from optgen.spec import SpecError

HEADER = ("from optgen.dsl import Spec, hyper, state, var, w, g, t, row_mean, col_mean, factored, when, "
          "global_sum, tensor_sum\n")


def write_spec(tmp_path, body, name="axes.py"):
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return str(path)


def refused(tmp_path, body) -> str:
    with pytest.raises(SpecError) as err:
        optgen.load_spec(write_spec(tmp_path, body))
    assert "axes.py" in str(err.value)
    return str(err.value)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTGEN_CACHE_DIR", str(tmp_path / "cache"))


# A row-normalised step: w -= lr g / sqrt(r[i] + eps), r the EMA of the rows' mean of g^2.
ROWNORM = """
lr = hyper('lr', 0.5)
r = state('r', 0, shape='row')
r2 = state('r2', 0, shape='col')
spec = Spec('rownorm', [(r, 0.5 * r + 0.5 * row_mean(g**2)), (r2, 0.5 * r2 + 0.5 * col_mean(g**2)),
                        (w, w - lr * g / (r + r2 + 1))])
"""


def test_hand_values_of_one_and_two_steps(tmp_path, cache):
    """g = [[1, 2], [3, 4]] twice: step 1 r = 0.5 [2.5, 12.5] = [1.25, 6.25] (row means of g^2: (1+4)/2,
    (9+16)/2), r2 = 0.5 [5, 10] = [2.5, 5] (column means: (1+9)/2, (4+16)/2); step 2 r = [1.875, 9.375],
    r2 = [3.75, 7.5]. Each step w -= 0.5 g / (r[i] + r2[j] + 1)."""
    spec = optgen.load_spec(write_spec(tmp_path, ROWNORM))
    g = np.array([[1.0, 2.0], [3.0, 4.0]])
    w0 = np.zeros((2, 2))
    want = w0.copy()
    for r, r2 in (([1.25, 6.25], [2.5, 5.0]), ([1.875, 9.375], [3.75, 7.5])):
        want -= 0.5 * g / (np.array(r)[:, None] + np.array(r2)[None, :] + 1)
    for make in (optgen.create, reference):
        opt = make(spec, [w0.copy()])
        opt.step([g])
        opt.step([g])
        np.testing.assert_allclose(opt.params[0], want, rtol=1e-14)
        st = opt.state_dict()["states"][0]
        np.testing.assert_allclose(st["r"], [[1.875], [9.375]], rtol=1e-14)
        np.testing.assert_allclose(st["r2"], [[3.75, 7.5]], rtol=1e-14)


def test_batch_axes_reduce_each_matrix_on_its_own(tmp_path, cache):
    """A (2, 2, 2) tensor is two matrices: the row and column means of each are its own."""
    spec = optgen.load_spec(write_spec(tmp_path, ROWNORM))
    g = np.arange(1.0, 9.0).reshape(2, 2, 2)
    opt = optgen.create(spec, [np.zeros((2, 2, 2))])
    opt.step([g])
    st = opt.state_dict()["states"][0]
    np.testing.assert_allclose(st["r"][..., 0], 0.5 * (g**2).mean(axis=-1))
    np.testing.assert_allclose(st["r2"][:, 0, :], 0.5 * (g**2).mean(axis=-2))
    assert st["r"].shape == (2, 2, 1) and st["r2"].shape == (2, 1, 2)


def test_a_tall_matrix_runs_in_chunks_of_rows_and_its_column_means_are_whole(tmp_path, cache):
    """A (9000, 20) tensor is split into chunks of whole rows (runtime/axes.py chunk_rows), each with
    column sums of its own; the means the state keeps are numpy's over all 9000 rows."""
    from optgen.runtime.axes import AxisTable, chunk_rows, row_runs
    assert chunk_rows(9000, 20) < 9000 and chunk_rows(3, 20) == 3 and len(row_runs(3, 3, 8192)) < 8192
    table = AxisTable([(9000, 20), (2, 9000, 20)], np.float64, 1, 2, {})
    assert len(table.chunk_tensor) > 3 and table.chunk_stop[-1] == 2 * 9000 * 20
    spec = optgen.load_spec(write_spec(tmp_path, ROWNORM))
    g = np.random.default_rng(4).standard_normal((9000, 20))
    opt = optgen.create(spec, [np.zeros((9000, 20))])
    opt.step([g])
    st = opt.state_dict()["states"][0]
    np.testing.assert_allclose(st["r2"][0], 0.5 * (g**2).mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(st["r"][:, 0], 0.5 * (g**2).mean(axis=1), rtol=1e-13)
    # 10000 matrices of 3 x 3: grouped, several whole matrices a chunk (two chunks here)
    assert len(row_runs(3, 3, 10000)) == 2
    g = np.random.default_rng(5).standard_normal((10000, 3, 3))
    opt = optgen.create(spec, [np.zeros((10000, 3, 3))])
    opt.step([g])
    st = opt.state_dict()["states"][0]
    np.testing.assert_allclose(st["r2"][:, 0, :], 0.5 * (g**2).mean(axis=1), rtol=1e-13)
    np.testing.assert_allclose(st["r"][..., 0], 0.5 * (g**2).mean(axis=2), rtol=1e-13)


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 8e-6), (np.float64, 1e-12)])
def test_column_sums_over_runs_of_rows_are_numpys(tmp_path, cache, monkeypatch, dtype, rtol):
    """A float32 pass adds a column's g^2 over at most COL_RUN rows in float32, then into its float64
    sum (compiler/printers.py): runs end at COL_RUN rows, at a matrix's end, at a chunk's end (chunks
    of 2^12 elements here, so most end inside a run) and in rows split into runs of ROW_RUN; each
    column's mean is numpy's float64 mean of the same float32 squares to float32 rounding over a
    run (COL_RUN additions: at most 128 x 2^-24 = 7.6e-6 relative). Each chunk clears the sums it
    adds to: the second step's means are its own gradient's (r = 0.5 r + 0.5 mean, by hand)."""
    from optgen.compiler.printers import COL_RUN, ROW_RUN
    from optgen.runtime import axes
    monkeypatch.setattr(axes, "CHUNK_ELEMENTS", 1 << 12)
    monkeypatch.setattr(axes, "MAX_CHUNK_ELEMENTS", 1 << 12)
    spec = optgen.load_spec(write_spec(tmp_path, ROWNORM))
    shapes = [(3 * COL_RUN + 5, 20), (2, COL_RUN + 3, 7), (COL_RUN + 2, ROW_RUN + 300), (5, 3)]
    rng = np.random.default_rng(6)
    steps = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(2)]
    opt = optgen.create(spec, [np.zeros(s, dtype) for s in shapes])
    for grads in steps:
        opt.step(grads)
    for k, st in enumerate(opt.state_dict()["states"]):
        first, second = (grads[k].astype(np.float64) ** 2 for grads in steps)
        for name, axis in (("r2", -2), ("r", -1)):
            want = 0.25 * first.mean(axis=axis, keepdims=True) + 0.5 * second.mean(axis=axis, keepdims=True)
            np.testing.assert_allclose(st[name], want, rtol=rtol)


def test_a_sum_of_a_constant_counts_each_tensors_elements(tmp_path, cache):
    """tensor_sum(1) is a tensor's size, counted once per chunk rather than added per element
    (KernelPrinter.counted_summand), in an elementwise pass and in a pass over rows."""
    plain = write_spec(tmp_path, "lr = hyper('lr', 0.5)\n"
                       "spec = Spec('count', [(w, w - lr * tensor_sum(1) * g)])\n", "count.py")
    by_rows = write_spec(tmp_path, "lr = hyper('lr', 0.5)\nr = state('r', 0, shape='row')\n"
                         "spec = Spec('count_rows', [(r, row_mean(g**2)),\n"
                         "                           (w, w - lr * tensor_sum(1) * g / (r + 1))])\n", "count_rows.py")
    shapes = [(3, 5), (70000,), (2, 300, 7)]
    for path in (plain, by_rows):
        spec = optgen.load_spec(path)
        for dtype in (np.float32, np.float64):
            opt = optgen.create(spec, [np.zeros(s, dtype) for s in (shapes if path == plain else shapes[::2])])
            grads = [np.ones(p.shape, dtype) for p in opt.params]
            opt.step(grads)
            for p in opt.params:  # w = -0.5 n g (/ (1 + 1) where r = row_mean(1) = 1)
                n = p.size
                np.testing.assert_allclose(p, -0.5 * n / (2 if path == by_rows else 1), rtol=1e-7)


def test_a_large_group_has_few_chunks_and_few_column_sums_of_its_own():
    """A split matrix's later chunks each add to column sums of their own, which every pass clears
    and adds up: for GPT-2 small's embedding they stay a few hundredth of a percent of its elements
    (chunks of 2^16 elements gave it 585 chunks and 449k such sums, 1/86 of the elements), while
    the group still has 64 chunks to share among the threads."""
    from optgen.runtime.axes import AxisTable
    table = AxisTable([(50257, 768), (768,) * 2], np.float32, 1, 2, {})
    assert len(table.chunk_tensor) >= 64
    assert table.n_part_sums * 256 < 50257 * 768


def test_each_threads_share_of_the_runs_of_rows_is_half_the_elements():
    """Numba's static prange gives each thread an equal count of consecutive chunks: the runs of rows
    are cut and padded so that each count is an equal part of the elements, to a row (in tensor
    order GPT-2 small's were 54% and 46%); every row is in exactly one chunk, and the split
    matrix's later run has column sums of its own."""
    from optgen.bench.models import MODELS
    from optgen.runtime.axes import AxisTable
    shapes = [s for s in MODELS["gpt2-small"]() if len(s) == 2]
    table = AxisTable(shapes, np.float32, 1, 2, {}, threads=2)
    n = (table.chunk_stop - table.chunk_start).astype(np.int64)
    total = sum(a * b for a, b in shapes)
    assert n.sum() == total and len(n) % 2 == 0
    assert abs(int(n[:len(n) // 2].sum()) - total / 2) <= max(c for _, c in shapes)
    for k, (rows, cols) in enumerate(shapes):  # each tensor's chunks tile its elements
        mine = np.flatnonzero((table.chunk_tensor == k) & (n > 0))
        starts, stops = table.chunk_start[mine], table.chunk_stop[mine]
        order = np.argsort(starts)
        assert starts[order][0] == 0 and stops[order][-1] == rows * cols
        assert (starts[order][1:] == stops[order][:-1]).all() and (starts % cols == 0).all()


def test_a_matrix_cut_between_the_threads_keeps_numpys_means(tmp_path, cache, monkeypatch):
    """A (4001, 7) matrix on two threads (run in parallel however small): the boundary falls inside
    it, and its column means (a first run's sums plus the later run's own) and row means are numpy's."""
    import numba
    from optgen.runtime import cpu
    from optgen.runtime.axes import AxisTable
    assert AxisTable([(4001, 7)], np.float64, 1, 2, {}, threads=2).n_part_sums > 0
    monkeypatch.setattr(cpu, "SERIAL_BELOW", 0)
    numba.set_num_threads(2)  # CI's machines have two cores
    spec = optgen.load_spec(write_spec(tmp_path, ROWNORM))
    g = np.random.default_rng(7).standard_normal((4001, 7))
    opt = optgen.create(spec, [np.zeros((4001, 7))])
    opt.step([g])
    assert opt.groups[0].axes.threads == 2 and opt.groups[0].axes.n_part_sums > 0
    st = opt.state_dict()["states"][0]
    np.testing.assert_allclose(st["r2"][0], 0.5 * (g**2).mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(st["r"][:, 0], 0.5 * (g**2).mean(axis=1), rtol=1e-13)


def test_the_ir_classifies_and_places_axis_reductions():
    spec = optgen.load_spec("adafactor").resolve(factored=True, maximize=False)
    ssa = to_ssa(spec)
    assert sorted(ssa.axis_reductions.values()) == [COL, ROW]
    # col_mean(r) of the row values r: no pass, the per-tensor stage's mean of each matrix's rows
    (mean_of_rows,) = [s for s, e in ssa.nodes.items() if isinstance(e, ColMeanOfRows)]
    assert ssa.level[mean_of_rows] == COL and mean_of_rows not in ssa.reductions
    assert ssa.axis_states == {"row_var": ROW, "col_var": COL}
    assert "variance" not in ssa.arrays and "row_var" not in ssa.arrays  # unread in this branch; not arrays
    (variant,) = stage(ssa).variants.values()
    means = [[r.name for r, _ in p.reductions if r in ssa.axis_reductions] for p in variant.passes]
    # the row and column means of g^2 end pass 0; then the sum of u^2, then the update
    assert [len(m) for m in means] == [2, 0, 0]
    assert mean_of_rows in {s for s, _ in variant.tensor_stages[0]}
    assert [f.name for f in (ssa.finals["row_var"], ssa.finals["col_var"])] == [
        s.name for s, _ in variant.tensor_stages[0] if s.name.startswith(("row_var", "col_var"))]
    unfactored = to_ssa(optgen.load_spec("adafactor").resolve(factored=False, maximize=False))
    assert unfactored.axis_states == {} and "variance" in unfactored.arrays


def test_values_per_column_are_computed_once_per_column():
    """Adafactor's r c / max(mean(r), eps1): the part c / max(mean(r), eps1) has one value per
    column, so the stage before pass 1 computes it and the kernels no longer read mean(r)."""
    from optgen.compiler.optimize import optimise
    staged = stage(to_ssa(optgen.load_spec("adafactor").resolve(factored=True, maximize=False)))
    (variant,) = optimise(staged).values()
    hoisted = [s for s, _ in variant.tensor_stages[0] if s.name.startswith("col_value")]
    assert len(hoisted) == 1 and variant.axis_kinds[hoisted[0]] == COL
    for p in variant.passes[1:]:
        assert hoisted[0] in p.axis_args and p.axis_kinds[hoisted[0]] == COL
        assert not any(s.name.startswith("col_mean") for s in p.axis_args)


# Each matrix's mean of its rows' r, and of its columns' c: the stage's, with no pass; three
# matrices of other sizes in one group (one with a batch axis)
MEANS_OVER_MATRIX = """
r = state('r', 0, shape='row')
c = state('c', 0, shape='col')
spec = Spec('over_matrix', [(r, r + row_mean(g**2)), (c, c + col_mean(g)),
                            (w, w - col_mean(r) * g - row_mean(c))])
"""


def test_the_mean_of_row_values_is_each_matrixs_own(tmp_path, cache):
    """Hand values: after one step r = row means of g^2 and c = column means of g, so
    w = -(mean of r over the matrix) g - (mean of c over the matrix), per matrix of each tensor."""
    spec = optgen.load_spec(write_spec(tmp_path, MEANS_OVER_MATRIX))
    rng = np.random.default_rng(6)
    shapes = [(3, 4), (2, 5, 2), (6, 1)]
    grads = [rng.standard_normal(s) for s in shapes]
    opt = optgen.create(spec, [np.zeros(s) for s in shapes])
    assert len(opt.module.VARIANTS[()].passes) == 2  # the means of g^2 and g; then w
    opt.step(grads)
    for p, g in zip(opt.params, grads):
        want = -(g**2).mean(axis=(-2, -1), keepdims=True) * g - g.mean(axis=(-2, -1), keepdims=True)
        np.testing.assert_allclose(p, want, rtol=1e-13, atol=1e-15)


# A column value made of a per-tensor sum (each column reads its own tensor's) and a row value
# that is not one (r + r2 mixes a row and a column: per element).
MIXED = """
lr = hyper('lr', 0.5)
r = state('r', 0, shape='row')
r2 = state('r2', 0, shape='col')
spec = Spec('mixed', [(r, 0.5 * r + 0.5 * row_mean(g**2)), (r2, 0.5 * r2 + 0.5 * col_mean(g**2)),
                      (w, w - lr * g * tensor_sum(g**2) / (r2 + 1) / (r + r2 + 2))])
"""


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_hoisted_axis_values_match_the_oracle_on_tensors_of_several_shapes(tmp_path, cache, dtype, rtol):
    """Each column's value reads its own tensor's sum (three tensors of other shapes, one with a
    batch axis); the kernels' result is the oracle's, which evaluates the equations as written."""
    spec = optgen.load_spec(write_spec(tmp_path, MIXED))
    rng = np.random.default_rng(3)
    shapes = [(3, 5), (4, 2, 7), (6, 1)]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours, oracle = optgen.create(spec, [p.copy() for p in params]), reference(spec, [p.astype(np.float64) for p in params])
    for _ in range(3):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        ours.step(grads)
        oracle.step([x.astype(np.float64) for x in grads])
    for a, b in zip(ours.params, oracle.params):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


# --- what is refused, and how it is said ------------------------------------------------

def test_a_1d_parameter_for_a_spec_without_the_factored_option(tmp_path, cache):
    spec = optgen.load_spec(write_spec(tmp_path, ROWNORM))
    for make in (optgen.create, reference):
        with pytest.raises(SpecError) as err:
            make(spec, [np.zeros((2, 2)), np.zeros(3)])
        text = str(err.value)
        assert "shape (3,)" in text and "axes.py" in text and "equation 1" in text
        assert "at least two axes" in text and "factored" in text


def test_an_axis_reduction_inside_a_global_or_tensor_sum(tmp_path):
    for kind in ("global_sum", "tensor_sum"):
        text = refused(tmp_path, f"lr = hyper('lr', 0.5)\nx = var('x')\n"
                                 f"spec = Spec('s', [(x, {kind}(row_mean(g**2))), (w, w - lr * x * g)])\n")
        assert "equation 1" in text and f"inside {kind}" in text and "the operand itself" in text


def test_a_row_state_assigned_a_value_per_element_or_per_column(tmp_path):
    for rhs, shape in (("0.9 * r + g", "full"), ("col_mean(g**2)", "col")):
        text = refused(tmp_path, f"lr = hyper('lr', 0.5)\nr = state('r', 0, shape='row')\n"
                                 f"spec = Spec('s', [(r, {rhs}), (w, w - lr * r * g)])\n")
        assert "equation 1" in text and f"the row state 'r' is assigned a value of shape '{shape}'" in text
        assert "row_mean(...)" in text


def test_a_reduced_state_that_starts_from_w(tmp_path):
    text = refused(tmp_path, "lr = hyper('lr', 0.5)\nr = state('r', w, shape='row')\n"
                             "spec = Spec('s', [(r, row_mean(g**2)), (w, w - lr * r * g)])\n")
    assert "the row state 'r'" in text and "starts from a constant or a hyperparameter" in text


def test_a_shape_that_is_not_one_of_the_three(tmp_path):
    text = refused(tmp_path, "r = state('r', 0, shape='diagonal')\nspec = Spec('s', [(w, w - r * g)])\n")
    assert "shape='diagonal'" in text and "'row'" in text and "'col'" in text


def test_the_per_tensor_option_is_not_given_at_create():
    with pytest.raises(SpecError, match="'factored' is set per tensor from its shape"):
        optgen.create("adafactor", [np.zeros((2, 2))], factored=False)


def test_min_dim_size_to_factor_must_be_a_positive_integer(tmp_path):
    text = refused(tmp_path, "f = factored('f', min_dim_size_to_factor=0)\nspec = Spec('s', [(w, w - g)])\n")
    assert "min_dim_size_to_factor=0" in text and "positive integer" in text


def test_min_dim_size_to_factor_chooses_the_branch(tmp_path, cache):
    """With min_dim_size_to_factor=3 a (2, 5) tensor is not factored (its rows axis is 2 < 3): it
    takes the unfactored branch with the full state; a (3, 5) tensor is factored."""
    spec = optgen.load_spec(write_spec(tmp_path, """
        f = factored('f', min_dim_size_to_factor=3)
        r = state('r', 0, shape='row')
        v = state('v', 0)
        spec = Spec('s', [(r, when(f, 0.5 * r + row_mean(g**2), r)), (v, when(f, v, 0.5 * v + g**2)),
                          (w, w - when(f, r, v) * g)])
        """))
    for make in (optgen.create, reference):
        opt = make(spec, [np.ones((2, 5)), np.ones((3, 5))])
        opt.step([np.full((2, 5), 2.0), np.full((3, 5), 2.0)])
        states = opt.state_dict()["states"]
        assert set(states[0]) == {"v"} and states[0]["v"].shape == (2, 5)
        assert set(states[1]) == {"r"} and states[1]["r"].shape == (3, 1)
        np.testing.assert_allclose(opt.params[0], 1 - 4 * 2)  # from zero states: w - g^2 g
        np.testing.assert_allclose(opt.params[1], 1 - 4 * 2)


def test_both_targets_build_every_adafactor_module(capsys):
    """The CUDA target compiles axis reductions (tests/cuda_sim/test_axis_reductions_cuda.py runs
    them): `optgen build` skips no pair; until now it skipped cuda:adafactor, saying why."""
    from optgen.cli import main
    assert main(["build", "adafactor", "adafactor_optax", "--check"]) == 0
    assert "skipped" not in capsys.readouterr().out
    text = driver.compile_spec(optgen.load_spec("adafactor"), {"factored": True}, "cuda").code
    assert "_axis_sums" in text and "def tensor_v0_0(_values):" in text  # kernels over rows, host stages


def test_a_global_sum_above_a_per_tensor_option_spans_both_branches(tmp_path, cache):
    """A global sum above a per-tensor branch: the two branches run different kernels (two compiled
    optimizers), stepped in lockstep so that the sum is over every tensor (runtime/lockstep.py).
    It was refused. One step by hand: s = sum of every g^2; the matrix moves by its rows' mean of
    g^2, the vector by its own g^2."""
    spec = optgen.load_spec(write_spec(tmp_path, """
        f = factored('f')
        r = state('r', 0, shape='row')
        v = state('v', 0)
        s = var('s')
        spec = Spec('s', [(s, global_sum(g**2)), (r, when(f, 0.5 * r + row_mean(g**2), r)),
                          (v, when(f, v, 0.5 * v + g**2)), (w, w - when(f, r, v) * g / (1 + s))])
        """))
    rng = np.random.default_rng(4)
    start = [rng.standard_normal((3, 5)), rng.standard_normal(4)]
    grads = [rng.standard_normal((3, 5)), rng.standard_normal(4)]
    rows = np.mean(grads[0] ** 2, axis=1, keepdims=True)
    for n in (2, 1):  # both branches; the matrix alone (one compiled optimizer)
        params = [p.copy() for p in start[:n]]
        opt = optgen.create(spec, params)
        assert len(opt.parts) == n
        opt.step(grads[:n])
        total = sum(float(np.sum(x ** 2)) for x in grads[:n])
        np.testing.assert_allclose(params[0], start[0] - rows * grads[0] / (1 + total), rtol=1e-14)
        if n == 2:
            np.testing.assert_allclose(params[1], start[1] - grads[1] ** 2 * grads[1] / (1 + total), rtol=1e-14)


def test_a_global_sum_in_a_pass_over_rows_sums_that_pass(tmp_path, cache):
    """A pass over runs of whole rows leaves its chunk partials in the axis table's own array: the
    sum over every tensor is taken from there (it was taken from the elementwise chunks' array,
    zeros: a norm of 0), and is one value per tensor, the same for each, as a row's loop reads it
    (it was a scalar, and the loop did not compile). One matrix, one step, by hand."""
    spec = optgen.load_spec(write_spec(tmp_path, """
        r = state('r', 0, shape='row')
        s = var('s')
        spec = Spec('rows_and_all', [(s, global_sum(g**2)), (r, 0.5 * r + row_mean(g**2)),
                                     (w, w - r * g / (1 + s))])
        """))
    rng = np.random.default_rng(5)
    w0, g0 = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    w1 = w0.copy()
    optgen.create(spec, [w1]).step([g0])
    rows = np.mean(g0 ** 2, axis=1, keepdims=True)
    np.testing.assert_allclose(w1, w0 - rows * g0 / (1 + np.sum(g0 ** 2)), rtol=1e-14)


def test_the_mean_of_each_matrixs_rows_is_repeated_over_its_columns():
    """col_mean_of_rows (the per-tensor stage's col_mean of a value per row): each matrix's mean of
    its rows' values, once per column, for batched tensors and around matrices without rows (whose
    mean is numpy's of nothing, nan); row_mean_of_cols the same across. By hand."""
    from optgen.runtime.axes import AxisTable
    table = AxisTable([(3, 4), (2, 0, 3), (2, 3, 2), (4, 1)], np.float64, 1, 2, {})
    rows = np.arange(1.0, 14.0)  # 3 + 2 x 0 + 2 x 3 + 4 rows
    want = [2.0] * 4 + [np.nan] * 6 + [5.0] * 2 + [8.0] * 2 + [11.5]
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(table.col_mean_of_rows(rows), want, rtol=1e-15)
    cols = np.arange(1.0, 16.0)  # 4 + 2 x 3 + 2 x 2 + 1 columns
    want = [2.5] * 3 + [11.5] * 3 + [13.5] * 3 + [15.0] * 4
    np.testing.assert_allclose(table.row_mean_of_cols(cols), want, rtol=1e-15)


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 2e-6), (np.float64, 1e-12)])
def test_small_matrices_in_one_flat_loop_are_the_row_loops_sums(tmp_path, cache, dtype, rtol):
    """A pass that adds to row and column sums walks a chunk of whole matrices of at most
    SMALL_MATRIX elements as one flat loop each (compiler/printers.py): a column counter ends each
    row, where its sum is added and the next row's values are read. Here pass 1 sums a column mean
    of g^2 r, r the new row statistic, over 3x3, 4x5 and 1x7 matrices (flat) beside a 9x10 one and
    a 70x1 one (row by row), one chunk or several, against the oracle's numpy means."""
    from optgen.compiler.printers import SMALL_MATRIX
    spec = optgen.load_spec(write_spec(tmp_path, """
        lr = hyper('lr', 0.1)
        r = state('r', 0, shape='row')
        c = state('c', 0, shape='col')
        spec = Spec('weighted_cols', [(r, 0.5 * r + 0.5 * row_mean(g**2)), (c, 0.5 * c + 0.5 * col_mean(g**2 * r)),
                                      (w, w - lr * g / (c + 1))])
        """))
    code = driver.compile_spec(spec).code
    assert code.count("a row's first element: its values") == 2  # pass 1's flat loop, per dtype
    shapes = [(3, 3), (500, 3, 3), (2, 4, 5), (3, 1, 7), (9, 10), (70, 1)]
    assert {int(np.prod(s[-2:])) <= SMALL_MATRIX for s in shapes} == {True, False}
    rng = np.random.default_rng(8)
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ours, oracle = optgen.create(spec, [p.copy() for p in params]), optgen.reference(spec, [p.copy() for p in params])
    for _ in range(3):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        ours.step(grads)
        oracle.step(grads)
    for a, b, in zip(ours.state_dict()["states"], oracle.state_dict()["states"]):
        for name in ("r", "c"):
            np.testing.assert_allclose(a[name], b[name], rtol=rtol, atol=0)
    for a, b in zip(ours.params, oracle.params):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)
