"""Threads: which kernel launches may overlap, and one step at a time per optimizer.

*Launches.* Numba runs ``parallel=True`` kernels on a threading layer: ``omp``
(OpenMP) or ``tbb`` when present, else its own ``workqueue``. The first two accept
parallel regions launched from several Python threads at once; ``workqueue`` is not
thread-safe, and a second concurrent launch terminates the process ("Concurrent
access has been detected"). Which layer a process gets is known only after its
first parallel launch (``numba.threading_layer()`` raises before), so launches are
serialised by one process-wide lock until then, and for good when the layer is
not one of :data:`CONCURRENT_LAYERS`.

*Steps.* An optimizer updates its parameters and states in place; two threads
inside ``step`` (or ``load_state_dict``) of the same optimizer would interleave
those writes. That is a bug in the caller, so it is refused with an error rather
than serialised: :func:`exclusive` takes a non-blocking lock on the optimizer.
docs/threads.md says all this for users.
"""
from __future__ import annotations

import contextlib
import threading

import numba

CONCURRENT_LAYERS = frozenset({"omp", "tbb"})  # thread-safe layers (Numba's threading-layer docs)

_launch_lock = threading.Lock()
_layer: str | None = None  # the process's threading layer, once a parallel launch has chosen it


def _current_layer() -> str | None:
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel region has run yet: no layer is chosen
        return None


class _SerialLaunches:
    """The process-wide launch lock, held around a step's kernel launches (a class rather than a
    generator-based context manager: ``contextlib.contextmanager`` costs about 2 µs to enter and
    leave on the 2-core machine, a fortieth of a 4-tensor MLP's step)."""

    __slots__ = ()

    def __enter__(self):
        _launch_lock.acquire()

    def __exit__(self, *exc):
        global _layer
        try:
            if _layer is None:
                _layer = _current_layer()
        finally:
            _launch_lock.release()


_SERIAL, _CONCURRENT = _SerialLaunches(), contextlib.nullcontext()


def kernel_launches():
    """``with kernel_launches():`` around a step's kernel launches: the process-wide lock unless
    the threading layer is thread-safe."""
    return _CONCURRENT if _layer in CONCURRENT_LAYERS else _SERIAL


class ConcurrentStepError(RuntimeError):
    """The same optimizer was entered from two threads at once."""


class StepGuard:
    """A non-blocking lock on one optimizer: a second thread gets an error, not a wait."""

    def __init__(self, where: str):
        self._where = where
        self._lock = threading.Lock()
        self._holder: tuple | None = None  # (method, the holding thread)

    def exclusive(self, method: str) -> "_Held":
        """``with guard.exclusive("step"):``: the optimizer held by this thread, or ConcurrentStepError."""
        return _Held(self, method)

    def _refuse(self, method: str) -> ConcurrentStepError:
        inside, thread = self._holder or ("?", None)
        held = (inside, "another thread" if thread is None else thread.name)
        return ConcurrentStepError(
            f"{self._where}: {method}() called from thread {threading.current_thread().name!r} while "
            f"thread {held[1]!r} is inside {held[0]}() of the same optimizer. An optimizer updates its "
            "parameters and states in place, so it cannot step from two threads at once: call it from "
            "one thread (or hold a lock around it), or give each thread its own optimizer "
            "(docs/threads.md). Nothing was changed by this call.")


class _Held:
    """One hold of a :class:`StepGuard` (a class, not a generator: entered once a step)."""

    __slots__ = ("guard", "method")

    def __init__(self, guard: StepGuard, method: str):
        self.guard, self.method = guard, method

    def __enter__(self):
        guard = self.guard
        if not guard._lock.acquire(blocking=False):
            raise guard._refuse(self.method)
        guard._holder = (self.method, threading.current_thread())  # its name only if refused

    def __exit__(self, *exc):
        self.guard._holder = None
        self.guard._lock.release()


def _thread_count_calls():
    """``(set, get)``: Numba's raw calls for the calling thread's thread count.

    ``numba.set_num_threads`` and ``numba.get_num_threads`` check that the thread pool
    is launched (a lock) and their argument on every call, about 2 µs each on the 2-core
    machine; a step of a small model sets the count twice per launch (one thread, then
    the caller's count back). The pool is launched here once, after which Numba's own
    ctypes entry points (``numba.np.ufunc.parallel._set_num_threads`` and
    ``_get_num_threads``, private) do the same in well under a microsecond. Where a
    Numba release lacks them, the public functions."""
    try:
        from numba.np.ufunc import parallel
        parallel._launch_threads()
        raw = (parallel._set_num_threads, parallel._get_num_threads)
    except (ImportError, AttributeError):
        return numba.set_num_threads, numba.get_num_threads
    if not all(callable(f) for f in raw):
        return numba.set_num_threads, numba.get_num_threads
    return raw


_thread_calls = None


def set_threads(n: int) -> None:
    """Numba's thread count for the calling thread; ``n`` is between 1 and the pool's size
    (the callers pass 1 or what :func:`get_threads` returned)."""
    global _thread_calls
    if _thread_calls is None:
        _thread_calls = _thread_count_calls()
    _thread_calls[0](n)


def get_threads() -> int:
    """Numba's thread count for the calling thread (``numba.get_num_threads()``)."""
    global _thread_calls
    if _thread_calls is None:
        _thread_calls = _thread_count_calls()
    return _thread_calls[1]()
