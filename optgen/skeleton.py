'''``optgen new NAME``: a spec skeleton and, beside it, a test the user can run.

The test checks the kernels against the spec's own equations (the reference
oracle) over odd shapes, both dtypes and every option combination (the check
``optgen check`` makes, :mod:`optgen.checking`), and has a slot for a peer
implementation (torch, optax, a paper's code) to compare against.
'''
from __future__ import annotations

from pathlib import Path

from .spec import SpecError

SPEC_TEMPLATE = '''"""{title}: one line that says what it is (and the paper: Author, year, arXiv id)."""
from optgen.dsl import Spec, hyper, option, state, var, when, w, g, t, sqrt

lr = hyper("lr", 1e-3, latex=r"\\eta", domain="positive", doc="step size")
beta = hyper("beta", 0.9, latex=r"\\beta", domain="[0, 1)", doc="decay of the moving average")
eps = hyper("eps", 1e-8, latex=r"\\epsilon", domain="positive", doc="added to the denominator")
maximize = option("maximize", False, doc="ascend instead of descend")

m = state("m", init=0, doc="moving average of the gradient")
v = state("v", init=0, doc="moving average of the squared gradient")
d = var("d")  # the direction: a named intermediate

spec = Spec("{name}", [
    (d, when(maximize, -g, g)),
    (m, beta * m + (1 - beta) * d),
    (v, beta * v + (1 - beta) * d**2),
    (w, w - lr * m / (sqrt(v) + eps)),
], doc="{title}: edit the equations above.", references=[])
'''

TEST_TEMPLATE = '''"""Tests of the {name} spec ({name}.py beside this file). Run: pytest {test_name}

The same check from the command line, with a progress bar: optgen check {name}.py
"""
from pathlib import Path

import numpy as np
import pytest

from optgen.checking import cases, check_case, compare_with_peer

SPEC = str(Path(__file__).with_name("{name}.py"))


@pytest.mark.parametrize("case", cases(SPEC), ids=str)
def test_kernel_matches_the_equations(case):
    """Every option combination, float32 and float64, odd shapes: kernel against the oracle."""
    verdict = check_case(case)
    assert verdict.ok, verdict.line()


def make_peer(params):
    """The slot for another implementation of the same optimizer, or None.

    Given a list of float64 numpy arrays, return ``step(grads)`` that updates them
    in place with the same hyperparameters as the spec's defaults, e.g. with torch:

        import torch
        tensors = [torch.from_numpy(p) for p in params]       # shares their memory
        opt = torch.optim.Adam(tensors, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
        def step(grads):
            for x, gr in zip(tensors, grads):
                x.grad = torch.from_numpy(gr)
            opt.step()
        return step
    """
    return None


def test_kernel_matches_a_peer():
    if make_peer([np.zeros(1)]) is None:
        pytest.skip("no peer implementation yet: fill in make_peer above")
    verdict = compare_with_peer(SPEC, make_peer, dtype="float64", rel=1e-9)
    assert verdict.ok, verdict.line()
'''


def write_new(name: str, directory: str | Path) -> list[Path]:
    """Write ``NAME.py`` and ``test_NAME.py`` into ``directory``; refuse to overwrite either."""
    if not name.isidentifier():
        raise SpecError(f"optgen new: {name!r} is not a valid name (letters, digits, underscores)")
    directory = Path(directory)
    spec_path, test_path = directory / f"{name}.py", directory / f"test_{name}.py"
    existing = [str(p) for p in (spec_path, test_path) if p.exists()]
    if existing:
        raise SpecError(f"optgen new: {', '.join(existing)} exist(s); nothing written")
    directory.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(SPEC_TEMPLATE.format(name=name, title=name.replace("_", " ").title()), encoding="utf-8")
    test_path.write_text(TEST_TEMPLATE.format(name=name, test_name=test_path.name), encoding="utf-8")
    return [spec_path, test_path]
