"""Every validation error names the spec file and the equation."""
import textwrap

import pytest

import optgen
from optgen.spec import SpecError

HEADER = "from optgen.dsl import *\nfrom optgen.dsl import Spec, hyper, state, var, when, w, g, t\nimport sympy\n"


def write_spec(tmp_path, body, name="bad.py"):
    p = tmp_path / name
    p.write_text(HEADER + textwrap.dedent(body))
    return p


@pytest.mark.parametrize("body,message", [
    ("lr = hyper('lr', 0.1)\nx = var('x')\nspec = Spec('s1', [(w, w - lr * x)])\n", "unknown symbol 'x'"),
    ("m = state('m', init=None)\nspec = Spec('s2', [(w, w - m)])\n", "state 'm' is read before it is initialised"),
    ("spec = Spec('s3', [(g, 2 * g), (w, w - g)])\n", "gradient g is read-only"),
    ("spec = Spec('s4', [(t, t + 1), (w, w - g)])\n", "step counter t is read-only"),
    ("m = state('m')\nspec = Spec('s5', [(m, m + g)])\n", "never updates w"),
    ("spec = Spec('s6', [(w, w - sympy.gamma(g))])\n", "unsupported function gamma"),
    ("lr = hyper('lr', -0.1, domain='positive')\nspec = Spec('s7', [(w, w - lr * g)])\n", "outside its domain positive"),
    ("spec = Spec('s8', [])\n", "has no equations"),
    ("np = hyper('np', 0.1)\nspec = Spec('s10', [(w, w - np * g)])\n", "symbol name 'np' in 's10' is reserved"),
    ("x = var('_x')\nspec = Spec('s11', [(x, g), (w, w - x)])\n", "symbol name '_x' in 's11' is reserved"),
])
def test_invalid_specs_are_refused_with_file_and_equation(tmp_path, body, message):
    path = write_spec(tmp_path, body)
    with pytest.raises(SpecError) as err:
        optgen.load_spec(str(path))
    text = str(err.value)
    assert message in text
    assert "bad.py" in text


def test_error_names_the_equation(tmp_path):
    path = write_spec(tmp_path, "lr = hyper('lr', 0.1)\nz = var('z')\nspec = Spec('s9', [(w, w - lr * g), (w, w + z)])\n")
    with pytest.raises(SpecError, match=r"equation 2 \(w = w \+ z\)"):
        optgen.load_spec(str(path))


def test_a_file_that_fails_to_execute_names_itself(tmp_path):
    path = write_spec(tmp_path, "raise RuntimeError('boom')\n")
    with pytest.raises(SpecError, match=r"bad.py: failed to load: RuntimeError: boom"):
        optgen.load_spec(str(path))


def test_unknown_optimizer_lists_the_available_ones():
    with pytest.raises(SpecError, match="unknown optimizer 'nosuch'.*adam"):
        optgen.load_spec("nosuch")
