"""Menus of bad inputs for ``create``, ``step`` and ``load_state_dict``.

Each entry is ``(name, make, bug)``: ``make`` turns a good input into a bad one
(it never mutates its argument), and ``bug`` names the KNOWN_BUGS entry that the
input reaches today (``None`` if it is refused cleanly). ``menu(entries)`` leaves
out the entries whose bug is still known, so the fuzzers stay green until the
fix merges and draw them again after.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from known_bugs import known_bug


def menu(entries) -> list:
    return [(name, make) for name, make, bug in entries if bug is None or not known_bug(bug)]


# --- params: one entry of a good list replaced, or the list itself -------------------------

def _replace(i, value):
    def make(params):
        out = list(params)
        out[i % len(out)] = value(out[i % len(out)]) if callable(value) else value
        return out
    return make


def _strided(p):
    """A view with stride 2: not C-contiguous whatever the shape."""
    return np.zeros(2 * max(p.size, 2), p.dtype)[::2]


def _read_only(p):
    q = p.copy()
    q.flags.writeable = False
    return q


BAD_PARAM_ENTRIES = [
    ("None", _replace(0, None), None),
    ("a string", _replace(0, "w"), None),
    ("a float", _replace(0, 1.5), None),
    ("a nested list", _replace(0, [[1.0, 2.0], [3.0, 4.0]]), None),
    ("int64 array", _replace(0, lambda p: p.astype(np.int64)), None),
    ("float16 array", _replace(0, lambda p: p.astype(np.float16)), None),
    ("complex array", _replace(0, lambda p: p.astype(np.complex128)), None),
    ("bool array", _replace(0, lambda p: p.astype(bool)), None),
    ("object array", _replace(0, lambda p: np.array([None, 1.0], dtype=object)), None),
    ("strided view", _replace(0, _strided), None),
    ("Fortran-order 2-d array", _replace(0, lambda p: np.asfortranarray(np.ones((3, 4), p.dtype))), None),
    ("read-only array", _replace(0, _read_only), None),
    ("one array, not a list", lambda params: params[0], None),
    ("None for the list", lambda params: None, None),
    ("a string for the list", lambda params: "params", None),
    # a view of params[0]'s memory with another shape (a unit axis more): not the same array, so
    # refused. The flat view drawn before was params[0] itself for a 1-D tensor, which is one
    # tied parameter (runtime/aliasing.py) and rightly accepted.
    ("overlapping views", lambda params: [*params, params[0].reshape(*params[0].shape, 1)], "duplicate-params"),
]


# --- hyperparameters: one value, given to create --------------------------------------------

BAD_HYPER_VALUES = [
    ("NaN", math.nan, None), ("inf", math.inf, None), ("-inf", -math.inf, None),
    ("negative", -5.0, None), ("numpy NaN", np.float64("nan"), None),
    ("a string", "fast", None), ("None", None, None), ("a list", [0.1], None), ("a complex", 0.1 + 1j, None),
    ("True", True, None), ("a 2-element array", np.array([0.1, 0.2]), None),
    ("a huge int", 10**400, "huge-int-hyper"),
    ("a schedule returning a string", lambda t: "x", None),
    ("a schedule returning NaN", lambda t: math.nan, None),
    ("a schedule returning None", lambda t: None, None),
    ("a schedule returning a list", lambda t: [0.1], None),
]


# --- gradients: given to step ---------------------------------------------------------------

def _grads_replace(value):
    def make(grads, params):
        out = list(grads)
        out[0] = value(out[0], params[0]) if callable(value) else value
        return out
    return make


BAD_GRAD_ENTRIES = [
    ("None for the list", lambda grads, params: None, None),
    ("one array, not a list", lambda grads, params: grads[0], None),
    ("one gradient too few", lambda grads, params: grads[:-1], None),
    ("one gradient too many", lambda grads, params: [*grads, grads[0]], None),
    ("None", _grads_replace(None), None),
    ("a string", _grads_replace("g"), None),
    ("a float", _grads_replace(0.5), None),
    ("a nested list", _grads_replace([[1.0, 2.0]]), None),
    ("a wrong shape", _grads_replace(lambda gr, p: np.zeros(p.shape + (2,), p.dtype)), None),
    ("the other float dtype", _grads_replace(
        lambda gr, p: gr.astype(np.float64 if p.dtype == np.float32 else np.float32)), None),
    ("int64 array", _grads_replace(lambda gr, p: gr.astype(np.int64)), None),
    ("bool array", _grads_replace(lambda gr, p: gr.astype(bool)), None),
    ("complex array", _grads_replace(lambda gr, p: gr.astype(np.complex64)), None),
    ("a torch tensor", _grads_replace(lambda gr, p: _torch().from_numpy(gr.copy())), None),
]


def _torch():
    return pytest.importorskip("torch")


# --- checkpoints: a good state_dict, corrupted ----------------------------------------------

def _sd(change):
    def make(sd):
        out = copy.deepcopy(sd)
        change(out)
        return out
    return make


def _drop(key):
    return _sd(lambda sd: sd.pop(key))


def _set(key, value):
    return _sd(lambda sd: sd.__setitem__(key, value))


def _first_state(change):
    def apply(sd):
        st = sd["states"][0]
        name = sorted(st)[0]
        st[name] = change(st[name])
    return _sd(apply)


def _hyper(name, value):
    return _sd(lambda sd: sd["hypers"].__setitem__(name, value))


BAD_CHECKPOINT_ENTRIES = [
    ("not a dict: None", lambda sd: None, "load-state-dict-atomic"),
    ("not a dict: a list", lambda sd: [sd], "load-state-dict-atomic"),
    ("no states", _drop("states"), "load-state-dict-atomic"),
    ("no t", _drop("t"), "load-state-dict-atomic"),
    ("t is None", _set("t", None), "load-state-dict-atomic"),
    ("t is a string", _set("t", "three"), "load-state-dict-atomic"),
    ("t is negative", _set("t", -4), "load-state-dict-atomic"),
    ("t is fractional", _set("t", 2.7), "load-state-dict-atomic"),
    ("t is NaN", _set("t", math.nan), "load-state-dict-atomic"),
    ("another spec", _set("spec", "not_this_one"), None),
    ("other options", _set("options", {"no_such_option": True}), None),
    ("one tensor too few", _sd(lambda sd: sd["states"].pop()), None),
    ("one tensor too many", _sd(lambda sd: sd["states"].append(copy.deepcopy(sd["states"][0]))), None),
    ("a state missing", _sd(lambda sd: sd["states"][0].pop(sorted(sd["states"][0])[0])), None),
    ("a state of another shape", _first_state(lambda a: np.zeros(np.shape(a) + (2,))), None),
    ("a state of another dtype", _first_state(
        lambda a: a.astype(np.float64 if a.dtype == np.float32 else np.float32)), "load-state-dict-atomic"),
    ("a state that is None", _first_state(lambda a: None), None),
    ("a state that is a string", _first_state(lambda a: "m"), None),
    ("states is None", _set("states", None), "load-state-dict-atomic"),
    ("lr is NaN", _hyper("lr", math.nan), "load-state-dict-atomic"),
    ("lr is negative", _hyper("lr", -5.0), "load-state-dict-atomic"),
    ("lr is a string", _hyper("lr", "fast"), "load-state-dict-atomic"),
    ("an unknown hyperparameter", _hyper("no_such_hyper", 0.1), "load-state-dict-atomic"),
]
