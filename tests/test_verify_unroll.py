"""optgen.verify.unroll: k symbolic steps of a spec, checked against the reference oracle."""
import numpy as np
import pytest
import sympy

import optgen
from optgen.dsl import Spec, hyper, state, w, g
from optgen.transforms import lookahead
from optgen.verify.oracles import GRAD, Function, Sequence
from optgen.spec import Hyper as H   # the specs' symbols are the claims' (a symbol is its name and kind)
from optgen.verify.symbols import Sampler, sym
from optgen.verify.unroll import Side, intermediate, recursion, unroll

W = w


def numeric(traj, j, values, dim=1):
    """The unrolled w after step j at the given values (floats)."""
    s = Sampler(fixed={k: sympy.Rational(v).limit_denominator(10**12) for k, v in values.items()})
    return [float(s.evaluate(e)) for e in traj.value(W, j)]


@pytest.mark.parametrize("name,options,hypers", [
    ("adam", {}, dict(lr=0.1, beta1=0.8, beta2=0.9, eps=1e-3, weight_decay=0.05)),
    ("adam", {"amsgrad": True}, dict(lr=0.1, beta1=0.8, beta2=0.9, eps=1e-3, weight_decay=0.0)),
    ("momentum", {"nesterov": True}, dict(lr=0.1, momentum=0.7, dampening=0.2, weight_decay=0.1)),
    ("rmsprop_warmstart", {}, None),
])
def test_unrolled_steps_match_the_reference_oracle(name, options, hypers):
    spec = optgen.load_spec(name)
    hypers = hypers or {k: v for k, v in spec.hypers.items() if k not in spec.options}
    rng = np.random.default_rng(3)
    w0, grads = rng.standard_normal(), rng.standard_normal(4)
    traj = unroll(Side(name, options=options), 4)
    p = [np.array([w0])]
    ref = optgen.reference(name, p, **hypers, **options)
    values = {H(k): v for k, v in hypers.items()}
    values.update({sym("w_0"): w0, **{GRAD[j + 1]: grads[j] for j in range(4)}})
    for j in range(4):
        ref.step([np.array([grads[j]])])
        assert numeric(traj, j + 1, values) == pytest.approx([p[0][0]], rel=1e-9)


def test_tensor_sums_over_components_match_the_reference():
    """LARS: norms over the tensor; a 3-component parameter (two steps: SymPy's tests of
    the trust ratio's conditions on the nested norms grow steeply with more)."""
    spec = optgen.load_spec("lars")
    hypers = {k: v for k, v in spec.hypers.items() if k not in spec.options}
    hypers["trust_coefficient"] = 0.5
    rng = np.random.default_rng(5)
    w0, grads = rng.standard_normal(3), rng.standard_normal((3, 3))
    traj = unroll(Side("lars"), 2, Sequence(3), dim=3)
    p = [w0.copy()]
    ref = optgen.reference("lars", p, **hypers)
    values = {H(k): v for k, v in hypers.items()}
    values.update({sym(f"w_0{i}"): w0[i] for i in range(3)})
    values.update({GRAD[j + 1, i]: grads[j, i] for j in range(3) for i in range(3)})
    for j in range(2):
        ref.step([grads[j]])
        assert numeric(traj, j + 1, values) == pytest.approx(list(p[0]), rel=1e-9)


def test_lookahead_transform_unrolls_with_its_sync_steps():
    spec = lookahead("sgd", k=2, alpha=0.5)
    traj = unroll(Side(spec, hypers={"weight_decay": 0, "k": 2}), 4)
    lr, alpha, w0 = H("lr"), H("alpha"), sym("w_0")
    g1, g2, g3, g4 = (GRAD[j] for j in range(1, 5))
    # by hand: fast weights take two SGD steps, then phi <- phi + alpha (fast - phi), w <- phi
    fast2 = w0 - lr * g1 - lr * g2
    phi2 = w0 + alpha * (fast2 - w0)
    fast4 = phi2 - lr * g3 - lr * g4
    phi4 = phi2 + alpha * (fast4 - phi2)
    assert sympy.expand(traj.value(W, 1)[0] - (w0 - lr * g1)) == 0
    assert sympy.expand(traj.value(W, 2)[0] - phi2) == 0
    assert sympy.expand(traj.value(W, 4)[0] - phi4) == 0
    assert sympy.expand(traj.assigned(4, "w", 0) - fast4) == 0   # before the sync


def test_gradient_at_a_shifted_point_and_initial_values():
    lr, mu = hyper("lr", 0.1), hyper("momentum", 0.9)
    v = state("v", 0)
    spec = Spec("shifted_t", [(v, mu * v - lr * g), (w, w + v)])
    F = Function()
    side = Side(spec, grad_at=w + mu * v, init={"v": 2 * w})
    traj = unroll(side, 2, F)
    w0 = sym("w_0")
    LR, MU = H("lr"), H("momentum")
    assert len(F.rows) == 2
    assert sympy.expand(F.rows[0].point[0] - (w0 + MU * 2 * w0)) == 0   # v_0 = 2 w_0
    v1 = MU * 2 * w0 - LR * F.rows[0].atoms[0]
    assert sympy.expand(F.rows[1].point[0] - (w0 + v1 + MU * v1)) == 0
    assert sympy.expand(traj.value(W, 1)[0] - (w0 + v1)) == 0


def test_hyper_values_may_depend_on_t_and_states_may_start_symbolic():
    T = sym("T", integer=True, positive=True)
    traj = unroll(Side("momentum", hypers={"lr": H("lr") / sym("t_var_placeholder", positive=True)}), 1,
                  start=T + 1, states0="symbolic")
    buf0 = sym("buf_0")
    # past t = 1, torch's buffer recursion: buf = momentum buf + (1 - dampening) d
    d = GRAD[T + 1] + H("weight_decay") * sym("w_0")
    expected = H("momentum") * buf0 + (1 - H("dampening")) * d
    assert sympy.expand(traj.value("buf", 1)[0] - expected) == 0


def test_recursion_and_intermediate():
    rec, before, g_T, T = recursion(Side("adam", hypers={"weight_decay": 0}), "v")
    b2 = H("beta2")
    assert sympy.expand(rec - (b2 * before["v"] + (1 - b2) * g_T**2)) == 0
    rho = intermediate(Side("radam"), "rho_t")
    from optgen.dsl import t
    assert rho.has(t) and not rho.has(T)
    assert sympy.simplify(rho.xreplace({t: 1}).xreplace({b2: sympy.Rational(1, 2)})) == 1


def test_unknown_hyperparameter_is_refused():
    with pytest.raises(KeyError, match="no hyperparameter 'nope'"):
        unroll(Side("sgd", hypers={"nope": 1}), 1)
