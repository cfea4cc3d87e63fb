"""Device arrays without copies: what the CUDA runtime reads of one (address, shape, dtype) and its checks.

Any object with ``__cuda_array_interface__`` (numba device arrays, PyTorch CUDA
tensors, CuPy arrays) is read in place; under the simulator a numba device array's
host array stands in for its device memory.
"""
from __future__ import annotations

import math

import numpy as np

from .checks import check_dtype


class DeviceTensor:
    """What the kernels need of a device array: address, shape, dtype."""

    __slots__ = ("obj", "address", "shape", "dtype", "size")

    def __init__(self, obj, address: int, shape: tuple, dtype: np.dtype):
        self.obj, self.address, self.shape, self.dtype = obj, int(address), shape, dtype
        self.size = math.prod(shape)


def interface(obj, simulator: bool):
    """The ``__cuda_array_interface__`` of ``obj`` (under the simulator also its host array's), or None."""
    cai = getattr(obj, "__cuda_array_interface__", None)
    if cai is not None:
        return cai
    if simulator:  # the simulator's device arrays wrap a host numpy array, its "device memory"
        ary = getattr(obj, "_ary", None)
        if isinstance(ary, np.ndarray):
            return ary.__array_interface__
    return None


def _c_contiguous(shape, strides, itemsize) -> bool:
    if strides is None or math.prod(shape) == 0:
        return True
    expected = itemsize
    for n, s in zip(reversed(shape), reversed(strides)):
        if n != 1 and s != expected:
            return False
        expected *= n
    return True


def device_tensor(obj, name: str, where: str, simulator: bool, writable: bool) -> DeviceTensor:
    """Check one array and read its device address; raise a clear error otherwise."""
    cai = interface(obj, simulator)
    if cai is None:
        if isinstance(obj, np.ndarray):
            raise TypeError(f"{where}: {name} is a numpy array in host memory; device='cuda' updates "
                            "device arrays in place: pass numba device arrays (numba.cuda.to_device), "
                            "PyTorch CUDA tensors or CuPy arrays (or use device='cpu' for numpy arrays)")
        raise TypeError(f"{where}: {name} is {type(obj).__name__}, which has no __cuda_array_interface__; "
                        "pass numba device arrays, PyTorch CUDA tensors or CuPy arrays")
    shape = tuple(int(n) for n in cai["shape"])
    dtype = np.dtype(cai["typestr"])
    check_dtype(dtype, name, where)
    if cai.get("mask") is not None:
        raise ValueError(f"{where}: {name} is a masked array; not supported")
    if not _c_contiguous(shape, cai.get("strides"), dtype.itemsize):
        raise ValueError(f"{where}: {name} is not C-contiguous; it is read in place, so pass a "
                         "contiguous array (a contiguous copy of a parameter would not be updated)")
    address, readonly = cai["data"]
    if writable and readonly:
        raise ValueError(f"{where}: {name} is read-only")
    return DeviceTensor(obj, address or 0, shape, dtype)


def wait_for_copies(stream) -> None:
    """Wait for the copies queued on ``stream`` to reach the host: a stream object's copies are
    asynchronous; on the default stream (0) they return when done."""
    if not isinstance(stream, int):
        stream.synchronize()


__all__ = ["DeviceTensor", "device_tensor", "interface", "wait_for_copies"]
