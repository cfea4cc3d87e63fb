"""A loss landscape: a small MLP trained on a sine, and its loss on a plane through its end point.

The procedure of the blog post's last section (its Figure 2) with the filter
normalisation of Li et al. 2018, "Visualizing the loss landscape of neural nets":
train to theta*, draw two random directions d1, d2, and evaluate
L(theta* + alpha d1 + beta d2) on a grid. Each direction's rows (one row of a
weight matrix = the incoming weights of one neuron, a fully connected layer's
"filter") are rescaled to the norm of the same row of theta*, so that alpha = 1
means a perturbation as large as the weights themselves, neuron by neuron, and
landscapes around different end points can be compared. Biases get a zero
direction, as in the paper's code (its default ``ignore='biasbn'``).

The model: 1 -> H -> H -> 1 with ReLUs (W stored (out, in), so rows are
neurons), full-batch mean squared error on a noise-free sine. Gradients by
hand-written backprop; every update goes through ``optgen.create``.
"""
from __future__ import annotations

import numpy as np

import optgen

HIDDEN = 16
SAMPLES = 128
# (name, lr) of the two optimizers compared: SGD with heavy-ball momentum and Adam.
COMPARED = (("momentum", 0.02), ("adam", 0.01))


def sine_data(samples: int = SAMPLES):
    """x in [-pi, pi] as a column (samples, 1), and sin(x) with no noise."""
    x = np.linspace(-np.pi, np.pi, samples).reshape(-1, 1)
    return x, np.sin(x)


def init_params(hidden: int = HIDDEN, seed: int = 0) -> list[np.ndarray]:
    """[W1, b1, W2, b2, W3, b3], He-initialised weights and zero biases, float64."""
    rng = np.random.default_rng(seed)
    sizes = [(hidden, 1), (hidden, hidden), (1, hidden)]
    params = []
    for out, inp in sizes:
        params += [rng.normal(0.0, np.sqrt(2.0 / inp), (out, inp)), np.zeros(out)]
    return params


def forward(params, x):
    """The prediction (samples, 1) and the activations backprop needs."""
    w1, b1, w2, b2, w3, b3 = params
    z1 = x @ w1.T + b1
    h1 = np.maximum(z1, 0.0)
    z2 = h1 @ w2.T + b2
    h2 = np.maximum(z2, 0.0)
    return h2 @ w3.T + b3, (z1, h1, z2, h2)


def loss(params, x, y) -> float:
    """Mean squared error."""
    pred, _ = forward(params, x)
    return float(np.mean((pred - y) ** 2))


def loss_and_grads(params, x, y):
    """The loss and its gradient with respect to every parameter, by the chain rule."""
    w1, b1, w2, b2, w3, b3 = params
    pred, (z1, h1, z2, h2) = forward(params, x)
    n = x.shape[0]
    d_pred = 2.0 * (pred - y) / n              # dL/dpred
    g_w3, g_b3 = d_pred.T @ h2, d_pred.sum(0)
    d_z2 = (d_pred @ w3) * (z2 > 0)
    g_w2, g_b2 = d_z2.T @ h1, d_z2.sum(0)
    d_z1 = (d_z2 @ w2) * (z1 > 0)
    g_w1, g_b1 = d_z1.T @ x, d_z1.sum(0)
    return float(np.mean((pred - y) ** 2)), [g_w1, g_b1, g_w2, g_b2, g_w3, g_b3]


def train(name: str, lr: float, steps: int, x, y, seed: int = 0):
    """theta* from ``name`` (full batch, ``steps`` steps) and its loss curve."""
    params = init_params(seed=seed)
    opt = optgen.create(name, params, lr=lr)
    curve = []
    for _ in range(steps):
        value, grads = loss_and_grads(params, x, y)
        curve.append(value)
        opt.step(grads)
    return params, np.array(curve)


def filter_normalized_direction(params, rng) -> list[np.ndarray]:
    """A random direction with each weight row scaled to that row's norm in ``params``; biases zero."""
    direction = []
    for p in params:
        if p.ndim < 2:
            direction.append(np.zeros_like(p))
            continue
        d = rng.normal(size=p.shape)
        rows = np.linalg.norm(d, axis=1, keepdims=True)
        direction.append(d * np.linalg.norm(p, axis=1, keepdims=True) / np.where(rows > 0, rows, 1.0))
    return direction


def surface(params, directions, alphas, betas, x, y) -> np.ndarray:
    """L(theta + a d1 + b d2) for every (b, a) of the grid: shape (len(betas), len(alphas))."""
    d1, d2 = directions
    out = np.empty((len(betas), len(alphas)))
    for i, b in enumerate(betas):
        for j, a in enumerate(alphas):
            out[i, j] = loss([p + a * u + b * v for p, u, v in zip(params, d1, d2)], x, y)
    return out


def landscapes(steps: int, grid: int = 41, span: float = 0.5, seed: int = 1):
    """For each compared optimizer: (name, lr, theta*, loss curve, alphas, betas, surface).

    Both planes use the same random draws (the same seed), each normalised to its
    own end point's rows, so that the two pictures differ only by where training ended.
    """
    x, y = sine_data()
    coords = np.linspace(-span, span, grid)
    out = []
    for name, lr in COMPARED:
        params, curve = train(name, lr, steps, x, y)
        rng = np.random.default_rng(seed)
        directions = [filter_normalized_direction(params, rng) for _ in range(2)]
        out.append((name, lr, params, curve, coords, coords, surface(params, directions, coords, coords, x, y)))
    return out
