"""runtime/lockstep.py: steps whose sums over every tensor are added between their passes.

The drivers on steps written here (the numbers by hand), then a spec whose two per-tensor
branches make their sum over every tensor after different passes, against the oracle.
"""
from __future__ import annotations

import textwrap

import numpy as np
import pytest

import optgen
from optgen.runtime import lockstep


def _step(log: list, name: str, sums: list, reads: list):
    """A step that yields each of ``sums`` (one sum over every tensor each) and logs the totals it is sent."""
    for i, x in enumerate(sums):
        log.append((name, "pass", i))
        total = yield ("s%d" % i,), np.array([x])
        reads.append((name, float(total[0])))
    log.append((name, "done"))


def test_run_alone_sends_its_own_sums_or_the_hooks():
    reads = []
    lockstep.run_alone(_step([], "a", [2.0, 3.0], reads))
    assert reads == [("a", 2.0), ("a", 3.0)]
    reads.clear()
    lockstep.run_alone(_step([], "a", [2.0], reads), all_reduce=lambda local: local * 10)
    assert reads == [("a", 20.0)]


def test_run_together_adds_every_steps_sums_before_any_goes_on():
    log, reads = [], []
    seen = []
    lockstep.run_together([_step(log, "a", [1.0, 4.0], reads), _step(log, "b", [2.0, 8.0], reads)],
                          lambda local: seen.append(local.copy()) or local + 100, "opt")
    assert [x[0] for x in seen] == [3.0, 12.0]  # each sum over both, once, to the hook
    assert reads == [("a", 103.0), ("b", 103.0), ("a", 112.0), ("b", 112.0)]
    # both ran their first pass before either read the first total
    assert log.index(("b", "pass", 0)) < log.index(("a", "pass", 1))
    assert log[-2:] == [("a", "done"), ("b", "done")]


def test_run_together_refuses_steps_that_sum_at_different_points_and_closes_them():
    closed = []

    def step(names):
        try:
            yield names, np.zeros(len(names))
        finally:
            closed.append(names)

    with pytest.raises(RuntimeError, match=r"opt: its parts sum over every tensor at different points"):
        lockstep.run_together([step(("x",)), step(("y",))], None, "opt")
    assert sorted(closed) == [("x",), ("y",)]  # a guard a step holds is let go


def test_sums_after_different_passes_in_two_branches_match_the_oracle(tmp_path, monkeypatch):
    """The matrices' u needs their row means (pass 0), so their sum of u^2 comes after pass 1;
    the vectors' u is g, summed in pass 0. Each branch yields the one sum, and the two step
    together: the norm is over every tensor (against the oracle, 5 steps)."""
    monkeypatch.setenv("OPTGEN_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "late_sum.py"
    path.write_text(textwrap.dedent("""
        from optgen.dsl import Spec, state, var, w, g, row_mean, factored, when, global_sum
        f = factored('f')
        r = state('r', 0, shape='row')
        u, s = var('u'), var('s')
        spec = Spec('late_sum', [(r, when(f, 0.5 * r + row_mean(g**2), r)), (u, when(f, r * g, g)),
                                 (s, global_sum(u**2)), (w, w - 0.1 * u / (1 + s))])
        """))
    spec = optgen.load_spec(str(path))
    rng = np.random.default_rng(9)
    shapes = [(5, 4), (6,), (2, 3, 4)]
    params = [rng.standard_normal(sh) for sh in shapes]
    opt = optgen.create(spec, params)
    ref = optgen.reference(spec, [p.copy() for p in params])
    assert len(opt.parts) == 2
    after = sorted(next(q for q, p in enumerate(v.passes) if p.global_reductions)
                   for _, part in opt.parts for v in part.module.VARIANTS.values())
    assert after == [0, 1]  # the vectors' sum after their pass 0, the matrices' after their pass 1
    for _ in range(5):
        grads = [rng.standard_normal(sh) for sh in shapes]
        opt.step(grads)
        ref.step(grads)
    for mine, theirs in zip(params, ref.params):
        np.testing.assert_allclose(mine, theirs, rtol=1e-13, atol=1e-15)
