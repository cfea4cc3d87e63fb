"""Checks on the arrays a user passes: clear errors, and nothing touched before them."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..abi import DTYPES

SUPPORTED_DTYPES = tuple(np.dtype(d) for d in DTYPES)  # what the generated kernels exist for


def check_dtype(dtype, what: str, where: str) -> None:
    """A TypeError naming ``what`` unless ``dtype`` is one the kernels exist for (optgen/abi.py)."""
    if dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"{where}: {what} has dtype {dtype}; supported: {', '.join(DTYPES)}")


def check_params(params: Sequence, where: str) -> list[np.ndarray]:
    if isinstance(params, np.ndarray):
        raise TypeError(f"{where}: params must be a list of arrays, not one array (wrap it: [w])")
    params = list(params)
    for i, p in enumerate(params):
        if not isinstance(p, np.ndarray):
            raise TypeError(f"{where}: params[{i}] is {type(p).__name__}; a numpy array is required "
                            "(for GPU arrays use device='cuda')")
        check_dtype(p.dtype, f"params[{i}]", where)
        if not p.flags.c_contiguous:
            raise ValueError(f"{where}: params[{i}] is not C-contiguous; it is updated in place, "
                             "so pass a contiguous array (np.ascontiguousarray makes a copy you then own)")
        if not p.flags.writeable:
            raise ValueError(f"{where}: params[{i}] is read-only")
    return params


def _kind(value) -> str:
    """'None', 'a torch.Tensor', 'a list': what a user passed, for an error message."""
    if value is None:
        return "None"
    cls = type(value)
    module = cls.__module__.split(".")[0]
    return f"a {module}.{cls.__name__}" if module not in ("builtins", "__main__") else f"a {cls.__name__}"


def check_grads(grads: Sequence, params: Sequence[np.ndarray], where: str) -> list:
    if isinstance(grads, np.ndarray):
        raise TypeError(f"{where}: grads must be a list of arrays, not one array")
    grads = list(grads)
    if len(grads) != len(params):
        raise ValueError(f"{where}: got {len(grads)} gradients for {len(params)} parameters")
    for i, (gr, p) in enumerate(zip(grads, params)):
        if not isinstance(gr, np.ndarray):
            raise TypeError(f"{where}: grads[{i}] is {_kind(gr)}; a numpy array of shape {p.shape} and dtype "
                            f"{p.dtype} is required (a CPU torch tensor: pass tensor.numpy(); a parameter "
                            "without a gradient: pass zeros)")
        if gr.shape != p.shape:  # both numpy's: tuples, dtypes (no conversions: a step checks every gradient)
            raise ValueError(f"{where}: grads[{i}] has shape {gr.shape}, params[{i}] has {p.shape}")
        if gr.dtype != p.dtype:
            raise TypeError(f"{where}: grads[{i}] has dtype {gr.dtype}, params[{i}] has {p.dtype}")
    return grads


def check_states(states: Sequence, params: Sequence[np.ndarray], names: Sequence[str], where: str) -> list:
    """Caller-owned state arrays: one dict per parameter, each state C-contiguous, writable,
    of the parameter's size and dtype (the kernels write them in place)."""
    states = list(states)
    if len(states) != len(params):
        raise ValueError(f"{where}: got {len(states)} state dicts for {len(params)} parameters")
    for i, (st, p) in enumerate(zip(states, params)):
        for s in names:
            a = st.get(s) if isinstance(st, dict) else None
            if not isinstance(a, np.ndarray) or a.dtype != p.dtype or a.size != p.size:
                raise ValueError(f"{where}: states[{i}][{s!r}] must be a {p.dtype} array of {p.size} elements")
            if not a.flags.c_contiguous or not a.flags.writeable:
                raise ValueError(f"{where}: states[{i}][{s!r}] must be C-contiguous and writable")
    return states
