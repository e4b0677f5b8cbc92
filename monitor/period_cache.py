"""numba's on-disk cache for kernels that call kernels of other modules.

numba keeps a cached kernel as long as ITS source file is unchanged; the machine code of the
kernels it calls from other modules is compiled into it.  So when a called module changes
(``monitor/kernels.py``, ``conv_kernels.py``, ``limkernels.py``), a caller in another file
would load its stale copy and run the old callee against the new data layout (seen while
developing :mod:`monitor.period_kernel`: wrong output from the one-call period after a
change to the convolution kernel).

:func:`depend_on` registers a cache locator for one module whose source stamp also covers the
listed files' contents: any change to them recompiles the module's kernels once.  It uses
numba's cache-locator classes (``numba.core.caching``; public names since 0.6x, private
before); where they are not found, nothing is registered and numba's default applies.
"""

from __future__ import annotations

import functools
import hashlib
import os

__all__ = ["depend_on"]


@functools.lru_cache(maxsize=64)
def _file_hash(path: str, mtime_ns: int, size: int) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _stamp(paths) -> tuple:
    """Content hashes of ``paths`` ("" for a missing file), re-read when a file changes."""
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append(_file_hash(p, st.st_mtime_ns, st.st_size))
        except OSError:
            out.append("")
    return tuple(out)


def depend_on(module_file: str, dependencies) -> bool:
    """Make the numba cache of the kernels defined in ``module_file`` (call before they are
    decorated) depend on the contents of ``dependencies`` (paths) too.  True when registered."""
    try:
        from numba.core import caching as nc
    except Exception:  # noqa: BLE001 - no numba: nothing to cache
        return False
    impl = getattr(nc, "CacheImpl", None) or getattr(nc, "_CacheImpl", None)
    names = ("UserProvidedCacheLocator", "_UserProvidedCacheLocator", "InTreeCacheLocator",
             "_InTreeCacheLocator", "UserWideCacheLocator", "_UserWideCacheLocator")
    bases = []
    for n in names:
        b = getattr(nc, n, None)
        if b is not None and b not in bases:
            bases.append(b)
    if impl is None or not hasattr(impl, "_locator_classes") or not bases:
        return False
    this = os.path.realpath(module_file)
    deps = tuple(os.path.realpath(p) for p in dependencies)
    made = []
    for base in bases:
        class _Locator(base):
            def get_source_stamp(self):
                return (super().get_source_stamp(), _stamp(deps))

            @classmethod
            def from_function(cls, py_func, py_file):
                if os.path.realpath(py_file) != this:
                    return None
                return super().from_function(py_func, py_file)

        _Locator.__name__ = f"Dependent{base.__name__.lstrip('_')}"
        made.append(_Locator)
    impl._locator_classes[:0] = made
    return True
