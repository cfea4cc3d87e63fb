"""The demo's pieces on tiny sizes: derivatives against finite differences, the filter
normalisation property, the landscape's centre, the why-lines on hand-made paths, and
that the PNGs are written. No timing is checked."""
import numpy as np
import pytest

from optgen.demo import __main__ as demo_main
from optgen.demo import explain, landscape, plots, rosenbrock
from optgen.demo.rosenbrock import Run


def central_difference(f, x, h=1e-6):
    """df/dx_i for every element of the float array x, by (f(x + h e_i) - f(x - h e_i)) / 2h."""
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        keep = x[i]
        x[i] = keep + h
        up = f()
        x[i] = keep - h
        down = f()
        x[i] = keep
        out[i] = (up - down) / (2 * h)
    return out


@pytest.mark.parametrize("point", [(-1.5, 2.0), (0.3, -0.7), (1.0, 1.0), (2.0, 3.5)])
def test_rosenbrock_gradient_and_hessian_match_finite_differences(point):
    theta = np.array(point, dtype=np.float64)
    numeric = central_difference(lambda: rosenbrock.rosenbrock(*theta), theta)
    np.testing.assert_allclose(rosenbrock.rosenbrock_grad(*theta), numeric, rtol=1e-6, atol=1e-5)
    hessian = np.stack([central_difference(lambda: rosenbrock.rosenbrock_grad(*theta)[k], theta) for k in (0, 1)])
    np.testing.assert_allclose(rosenbrock.rosenbrock_hessian(*theta), hessian, rtol=1e-6, atol=1e-4)


def test_rosenbrock_minimum_is_zero_with_zero_gradient():
    assert rosenbrock.rosenbrock(1.0, 1.0) == 0.0
    assert rosenbrock.rosenbrock_grad(1.0, 1.0) == (0.0, 0.0)


def test_mlp_backprop_matches_finite_differences():
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, (7, 1))
    y = np.sin(x)
    params = landscape.init_params(hidden=4, seed=5)
    params = [p + 0.1 * rng.normal(size=p.shape) for p in params]  # biases non-zero: every ReLU branch used
    _, grads = landscape.loss_and_grads(params, x, y)
    for p, g in zip(params, grads):
        np.testing.assert_allclose(g, central_difference(lambda: landscape.loss(params, x, y), p), rtol=1e-5, atol=1e-8)


def test_mlp_forward_matches_a_per_sample_evaluation():
    params = landscape.init_params(hidden=3, seed=2)
    w1, b1, w2, b2, w3, b3 = params
    x = np.array([[-1.0], [0.5], [2.0]])
    relu = lambda v: [max(a, 0.0) for a in v]  # noqa: E731
    expected = []
    for (xi,) in x:
        h1 = relu([w1[j, 0] * xi + b1[j] for j in range(3)])
        h2 = relu([sum(w2[k, j] * h1[j] for j in range(3)) + b2[k] for k in range(3)])
        expected.append(sum(w3[0, k] * h2[k] for k in range(3)) + b3[0])
    np.testing.assert_allclose(landscape.forward(params, x)[0][:, 0], expected, rtol=1e-12)


def test_filter_normalised_direction_has_the_weights_row_norms_and_zero_biases():
    params = landscape.init_params(hidden=5, seed=1)
    params[2][3] = 0.0  # a dead neuron: its direction row must be zero too, not nan
    direction = landscape.filter_normalized_direction(params, np.random.default_rng(0))
    for p, d in zip(params, direction):
        assert d.shape == p.shape
        if p.ndim == 1:
            assert not d.any()
        else:
            np.testing.assert_allclose(np.linalg.norm(d, axis=1), np.linalg.norm(p, axis=1), rtol=1e-12)
            assert not np.allclose(d, p)  # a random direction, not the weights themselves


def test_landscape_centre_is_the_trained_models_loss():
    x, y = landscape.sine_data(16)
    params, curve = landscape.train("adam", 0.01, 5, x, y)
    assert curve[-1] < curve[0]
    rng = np.random.default_rng(0)
    directions = [landscape.filter_normalized_direction(params, rng) for _ in range(2)]
    coords = np.array([-0.5, 0.0, 0.5])
    surf = landscape.surface(params, directions, coords, coords, x, y)
    pred, _ = landscape.forward(params, x)
    assert surf[1, 1] == pytest.approx(float(np.mean((pred - y) ** 2)), rel=1e-14)
    assert surf[0, 0] != pytest.approx(surf[1, 1])


def _run(path, lr=1e-3):
    return Run("sgd", lr, np.asarray(path, dtype=np.float64), 0.0, 0.0)


def test_why_line_says_diverged_at_the_step_that_left():
    path = [[-1.5, 2.0], [3.0, -1.0], [1e4, 5.0], [np.inf, np.nan]]
    assert explain.diverged_at(np.array(path)) == 2
    assert explain.why(_run(path)).startswith("diverged at step 2")
    assert explain.facts(_run([[-1.5, 2.0], [np.inf, 0.0]])).startswith("diverged at step 1;")


def test_why_line_says_reached_and_when():
    path = [[0.7, 0.7], [0.9, 0.9], [0.95, 0.95], [0.999, 0.999]]
    assert explain.facts(_run(path)).startswith("reached (1, 1): within 0.1 from step 2")
    jumped = [[-1.5, 2.0], [0.9, 0.9], [0.95, 0.95], [0.999, 0.999]]
    assert explain.facts(_run(jumped)).startswith("its first steps jumped up to 2.6; reached (1, 1)")


def test_why_line_measures_the_last_steps_and_a_zigzag():
    # back and forth across the valley: steps of 0.1, net progress 0.01 per step
    path = [[0.0, 0.1 * (k % 2)] for k in range(20)]
    path = [[x + 0.01 * k, y] for k, (x, y) in enumerate(path)]
    text = explain.facts(_run(path, lr=0.05))
    assert "last steps are 1.0e-01 long (2 x lr)" in text
    assert "zigzagging across the valley" in text
    assert "zigzag" not in explain.facts(_run([[0.01 * k, 0.0] for k in range(20)]))


def test_demo_writes_both_pngs(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert demo_main.main(["sgd", "adam", "radam", "--steps", "30", "--landscape-steps", "3",
                           "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "radam" in out and "diverged at step" in out
    for name in ("rosenbrock.png", "landscape.png"):
        data = (tmp_path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_without_matplotlib_the_table_prints_and_says_how_to_get_the_plots(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(plots, "matplotlib_or_none", lambda: None)
    assert demo_main.main(["sgd", "--steps", "5", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert 'pip install "optgen[plot]"' in out and "sgd" in out
    assert not list(tmp_path.iterdir())


def test_bad_steps_are_refused():
    with pytest.raises(SystemExit):
        demo_main.parse(["--steps", "1"])
