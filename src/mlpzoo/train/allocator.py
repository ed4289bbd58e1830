"""Let a CPU training process reuse the memory it frees (glibc malloc thresholds).

PyTorch's CPU allocator calls ``malloc`` for every tensor. glibc serves blocks above its mmap
threshold (128 KiB, raised dynamically) by ``mmap`` and hands the top of the heap back to the
system above its trim threshold, so the multi-megabyte activations and gradients of each step come
back as fresh pages that the kernel zero-fills on first touch. Measured for FinalMLP on Frappe
(batch 4096, one thread, ``benchmarks/bench_ctr.py``'s compute-limit loop): 5,000-7,000 page faults
per step, about 1 s of system time per epoch; with the thresholds below, 10-45 faults per step and
43.6k -> 49.6k samples/s. PyTorch's CPU performance guide gives the same advice (there by
preloading jemalloc or tcmalloc, which a library cannot do for its user).

:func:`reuse_freed_memory` sets the mmap threshold to glibc's maximum (32 MiB: bigger blocks are
still mapped and unmapped) and the trim threshold to 1 GiB, so the freed blocks stay in the heap for
the next step. The cost: up to 1 GiB of freed memory stays with the process instead of returning to
the system. The Trainer calls it when it trains on CPU; ``MLPZOO_MALLOC_TUNING=0`` leaves malloc
alone. Elsewhere than glibc (musl, macOS, Windows) it does nothing.
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["reuse_freed_memory"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h> parameter numbers
MMAP_THRESHOLD = 32 << 20  # glibc's upper limit for M_MMAP_THRESHOLD on 64-bit
TRIM_THRESHOLD = 1 << 30
_STATE: dict = {}


def reuse_freed_memory() -> dict:
    """Set glibc's malloc thresholds once per process; ``{"applied": bool, "reason": str}``."""
    if _STATE:
        return dict(_STATE)
    if os.environ.get("MLPZOO_MALLOC_TUNING", "1") == "0":
        _STATE.update(applied=False, reason="turned off by MLPZOO_MALLOC_TUNING=0")
    elif "glibc" not in (_libc_version() or ""):
        _STATE.update(applied=False, reason="not glibc")
    else:
        mallopt = ctypes.CDLL(None).mallopt
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
        _STATE.update(
            applied=ok,
            reason=f"mmap threshold {MMAP_THRESHOLD >> 20} MiB, trim threshold {TRIM_THRESHOLD >> 20} MiB"
            if ok
            else "glibc refused mallopt",
        )
    return dict(_STATE)


def _libc_version() -> str | None:
    """``"glibc 2.36"`` and the like, or None where the C library does not say (or is not glibc)."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):  # no os.confstr on Windows
        return None
