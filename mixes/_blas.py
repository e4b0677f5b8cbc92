"""Keep OpenBLAS single-threaded around small matrix products.

The true-peak interpolation is many small ``(rows, 64) @ (64, 224)`` products.  OpenBLAS
splits each over its threads, and on a shared 2-core machine the threads spin-wait for each
other: measured 0.67 s CPU single-threaded vs 5.8 s with 2 threads for the same products.
roomtruth already uses the cores itself (a render-check thread, a process pool in batch mode),
so BLAS gets one thread while these products run.  Done through the library's own
``*_set_num_threads`` entry points (ctypes, standard library only); a no-op when no OpenBLAS
is loaded.
"""

from __future__ import annotations

import contextlib
import ctypes
from typing import ContextManager

from mixes._nested import HeldWhileAny

_api: tuple | None = None
_saved = 0


def _find() -> tuple:
    global _api
    if _api is not None:
        return _api
    _api = (None, None)
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = sorted({ln.split()[-1] for ln in fh if "openblas" in ln.lower() and ln.split()[-1].startswith("/")})
    except OSError:
        return _api
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for setter, getter in (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
                               ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
                               ("openblas_set_num_threads", "openblas_get_num_threads")):
            if hasattr(lib, setter) and hasattr(lib, getter):
                s, g = getattr(lib, setter), getattr(lib, getter)
                s.argtypes, s.restype, g.restype = [ctypes.c_int], None, ctypes.c_int
                _api = (s, g)
                return _api
    return _api


def _one_thread() -> None:
    global _saved
    s, g = _find()
    _saved = int(g())
    s(1)


def _restore() -> None:
    s, _ = _find()
    s(_saved)


_held = HeldWhileAny(_one_thread, _restore)


def single_threaded_blas() -> ContextManager[None]:
    """Run the block with OpenBLAS on one thread; restore the previous count afterwards."""
    if _find()[0] is None:
        return contextlib.nullcontext()
    return _held()
