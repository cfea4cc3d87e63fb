"""The per-tensor stage's values per row and column in compiled loops (compiler/stage_loops.py)."""
from __future__ import annotations

import textwrap

import numpy as np
import pytest
import sympy

import optgen
from optgen.compiler import driver
from optgen.compiler.ssa import ColMeanOfRows
from optgen.compiler.stage_loops import split_stage
from optgen.reference import reference

HEADER = "from optgen.dsl import Spec, Max, hyper, state, w, g, row_mean, col_mean, tensor_sum\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("OPTGEN_CACHE_DIR", str(tmp_path / "cache"))


def load(tmp_path, body: str):
    path = tmp_path / "loops.py"
    path.write_text(HEADER + textwrap.dedent(body))
    return optgen.load_spec(str(path))


def test_a_stage_is_numpy_lines_and_one_loop_per_run_of_a_kind():
    """Adafactor's stage after pass 0, by hand: the per-tensor values stay numpy; the new row
    statistic is a row loop, which the row factor joins though a column loop comes between; the
    mean of the row values over each matrix stays numpy, and the column factor that reads it is
    a loop after it."""
    n, alpha, s1, s2, b2, eps = sympy.symbols("n alpha sum_1 sum_2 b2 eps1")
    rm, rv, rv1, rf = sympy.symbols("row_mean_1 row_var row_var_1 row_value_0")
    cm, cv, cv1, cm2, cf = sympy.symbols("col_mean_1 col_var col_var_1 col_mean_2 col_value_0")
    kinds = {**{x: "row" for x in (rm, rv, rv1, rf)}, **{x: "col" for x in (cm, cv, cv1, cm2, cf)}}
    per_tensor = {n, alpha, s1, s2, *kinds}
    pairs = [(n, s1), (alpha, sympy.sqrt(s2 / n)), (rv1, b2 * rm + (1 - b2) * rv), (cv1, b2 * cm + (1 - b2) * cv),
             (cm2, ColMeanOfRows(rv1)), (cf, cv1 / sympy.Max(eps, cm2)), (rf, 1 / rv1)]
    segments = split_stage(pairs, per_tensor, kinds)
    assert [type(s).__name__ for s in segments] == ["list", "AxisLoop", "AxisLoop", "list", "AxisLoop"]
    numpy_first, rows, cols, means, factors = segments
    assert [s for s, _ in numpy_first] == [n, alpha] and [s for s, _ in means] == [cm2]
    assert (rows.kind, rows.outputs, rows.axis_inputs, rows.host_inputs) == (
        "row", ["row_var_1", "row_value_0"], ["row_mean_1", "row_var"], ["b2"])
    assert (cols.kind, cols.outputs) == ("col", ["col_var_1"])
    assert (factors.outputs, factors.axis_inputs, factors.host_inputs) == (
        ["col_value_0"], ["col_mean_2", "col_var_1"], ["eps1"])
    assert rows.body() == ["row_var_1 = b2*row_mean_1[_i] + (1.0 - b2)*row_var[_i]",
                           "row_value_0 = (1.0/row_var_1)",
                           "_out_row_var_1[_i] = row_var_1", "_out_row_value_0[_i] = row_value_0"]


def test_a_value_per_tensor_read_per_column_is_its_own_tensors(tmp_path, cache):
    """A column value made of a per-tensor sum: the loop reads the sum at each column's tensor.
    Three tensors of other shapes (one with a batch axis) against the oracle, which evaluates the
    equations as written."""
    spec = load(tmp_path, """
        lr = hyper('lr', 0.5)
        c = state('c', 0, shape='col')
        spec = Spec('per_tensor_in_a_loop', [(c, 0.5 * c + 0.5 * col_mean(g**2)),
                                             (w, w - lr * g * tensor_sum(g**2) / (c + 1))])
        """)
    code = driver.compile_spec(spec).code
    assert "_t = _col_tensor[_i]" in code  # the loop reads the sum at the column's tensor
    rng = np.random.default_rng(3)
    shapes = [(3, 5), (4, 2, 7), (6, 1)]
    params = [rng.standard_normal(s) for s in shapes]
    ours, oracle = optgen.create(spec, [p.copy() for p in params]), reference(spec, [p.copy() for p in params])
    for _ in range(3):
        grads = [rng.standard_normal(s) for s in shapes]
        ours.step(grads)
        oracle.step(grads)
    for a, b in zip(ours.params, oracle.params):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    # its argument types, as the precompiler compiled it from the module: the columns' tensor
    # index, the old c and the mean per column, the sum per tensor, one host scalar (of lr), the
    # new c and the column's factor out; the steps compiled no other
    (loop, signature), = [lp for v in ours.module.VARIANTS.values() for stage in v.stage_loops for lp in stage]
    assert signature == "(int64[::1], float64[::1], float64[::1], float64[::1], float64, float64[::1], float64[::1])"
    assert len(loop.signatures) == 1


def test_a_nan_in_a_row_stays_nan_through_the_loops_maximum(tmp_path, cache):
    """max(eps, row mean) of a row whose gradient holds a NaN: NaN, as numpy's maximum in the
    oracle (Python's max(eps, nan) would give eps and hide it). The other rows are numbers."""
    spec = load(tmp_path, """
        r = state('r', 0, shape='row')
        spec = Spec('nan_row', [(r, 0.5 * r + 0.5 * Max(1e-3, row_mean(g**2))), (w, w - 0.1 * g / r)])
        """)
    g = np.ones((3, 4))
    g[1, 2] = np.nan
    ours, oracle = optgen.create(spec, [np.zeros((3, 4))]), reference(spec, [np.zeros((3, 4))])
    ours.step([g])
    oracle.step([g])
    r_ours, r_oracle = ours.state_dict()["states"][0]["r"], oracle.state_dict()["states"][0]["r"]
    np.testing.assert_array_equal(r_ours, r_oracle)
    assert np.isnan(r_ours[1, 0]) and np.all(np.isfinite(r_ours[[0, 2], 0]))


def test_show_passes_names_the_stages_loops(capsys):
    from optgen.cli import main
    assert main(["show", "adafactor", "-o", "factored=true", "--stage", "passes"]) == 0
    lines = [ln.strip() for ln in capsys.readouterr().out.splitlines()]
    after_pass_0 = lines[lines.index(next(ln for ln in lines if ln.startswith("per-tensor stage after pass 0"))) + 1]
    assert after_pass_0 == ("compiled loops (float64): over the rows: row_var_1; over the columns: col_var_1; "
                            "over the columns: col_value_0")
