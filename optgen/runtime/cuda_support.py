"""Whether CUDA kernels can run here, and what to install when they cannot.

Nothing here imports numba-cuda until it is asked (an optimizer made with
``device="cuda"``, ``optgen bench --device cuda``, optgen.torch on CUDA tensors), so
that the rest of optgen works without it.
"""
from __future__ import annotations

import importlib.util

INSTALL_HINT = 'pip install "optgen[cuda]" (which brings numba-cuda[cu13])'


class CudaUnavailableError(RuntimeError):
    """``device="cuda"`` cannot run here; the message says what is missing."""


def _find_spec(name: str):  # a seam for the test of the missing-package message
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def cuda_support():
    """``(numba.cuda, None)`` when CUDA kernels can run here (a GPU, or the simulator), else ``(None, why)``."""
    if _find_spec("numba_cuda") is None:
        return None, f"numba-cuda is not installed; install it with: {INSTALL_HINT}"
    try:
        import numba
        from numba import cuda
    except Exception as exc:  # a broken install: say so rather than fail later
        return None, (f"numba-cuda is installed but `from numba import cuda` failed "
                      f"({type(exc).__name__}: {exc}); reinstall with: {INSTALL_HINT}")
    if getattr(cuda, "implementation", None) != "NVIDIA":
        return None, ("`numba.cuda` is numba's deprecated built-in target, not numba-cuda; "
                      f"install numba-cuda with: {INSTALL_HINT}")
    if numba.config.ENABLE_CUDASIM:
        from .cudasim import make_shared_arrays_thread_safe
        make_shared_arrays_thread_safe()  # the simulator's own allocation races (see cudasim.py)
        return cuda, None
    if not cuda.is_available():
        detail = ""
        try:
            err = cuda.cuda_error()
            detail = f" (driver: {' '.join(str(err).split())})" if err else ""
        except Exception:  # pragma: no cover - depends on the driver
            pass
        return None, ("no CUDA GPU found: numba-cuda is installed but no NVIDIA GPU and driver are usable"
                      f"{detail}. Use device='cpu', or set NUMBA_ENABLE_CUDASIM=1 before numba is "
                      "imported to run the kernels on the (slow) CUDA simulator")
    return cuda, None


def require_cuda(where: str):
    cuda, why = cuda_support()
    if cuda is None:
        raise CudaUnavailableError(f"{where}: device='cuda' is not available: {why}")
    return cuda


__all__ = ["INSTALL_HINT", "CudaUnavailableError", "cuda_support", "require_cuda"]
