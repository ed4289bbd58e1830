"""C kernels built at first use with the system C compiler and loaded through :mod:`ctypes`.

Plain C rather than a torch C++ extension: it needs only ``cc`` (no Python headers, no ninja, no
download), builds in about a second, and a machine without a compiler keeps the pure-torch path
(every kernel here has one). Each shared object is cached under ``$MLPZOO_KERNEL_CACHE`` (default
``~/.cache/mlpzoo/kernels``), keyed by its source, the flags and the CPU's feature flags, so it is
built once per machine and reused across runs and processes. ``MLPZOO_NATIVE=0`` turns them all off.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import subprocess
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

__all__ = ["cache_root", "load", "status", "use_inductor_cache"]

# -fopenmp-simd honours the kernels' `omp simd` reductions (no OpenMP runtime is linked) and
# -fno-trapping-math lets clamps become vector selects; the sums over a vector then add in lanes
# (rounding-level differences from a sequential sum). -march=native uses the widest registers the
# CPU has; the later sets are fallbacks for compilers that refuse a flag.
_VECTOR = ["-O3", "-fopenmp-simd", "-fno-trapping-math", "-fno-math-errno"]
FLAG_SETS = ([*_VECTOR, "-march=native"], _VECTOR, ["-O3"])
_STATUS: dict[str, dict] = {}


def cache_root() -> Path:
    """mlpzoo's cache folder: ``$MLPZOO_CACHE``, else ``$XDG_CACHE_HOME/mlpzoo`` (``~/.cache/mlpzoo``)."""
    if os.environ.get("MLPZOO_CACHE"):
        return Path(os.environ["MLPZOO_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mlpzoo"


def use_inductor_cache() -> None:
    """Keep torch.compile's (inductor's) compiled kernels in ``cache_root()/inductor`` across runs,
    unless ``TORCHINDUCTOR_CACHE_DIR`` is set; later processes load them instead of compiling."""
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_root() / "inductor"))


def _cache_dir() -> Path:
    if os.environ.get("MLPZOO_KERNEL_CACHE"):
        return Path(os.environ["MLPZOO_KERNEL_CACHE"])
    return cache_root() / "kernels"


def _cpu_flags() -> str:
    """The CPU's feature flags: a library built with -march=native must not run on another CPU."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return os.uname().machine


def _build(source: Path, flags: list[str]) -> Path:
    text = source.read_text()
    key = hashlib.sha256("\n".join([text, *flags, _cpu_flags()]).encode()).hexdigest()[:16]
    target = _cache_dir() / f"{source.stem}_{key}.so"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Build beside the target, then rename: processes building at once never load a half-written file.
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        partial = Path(tmp) / target.name
        compiler = os.environ.get("CC", "cc")
        cmd = [compiler, *flags, "-fPIC", "-shared", "-o", str(partial), str(source), "-lm", "-lpthread"]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        os.replace(partial, target)
    return target


@functools.cache
def load(source: Path, declare: Callable[[ctypes.CDLL], None]) -> ctypes.CDLL | None:
    """The library built from ``source`` (``declare`` sets its functions' argument types), or None.

    None, with one warning, where no flag set compiles (no compiler) or ``MLPZOO_NATIVE=0``.
    """
    name = source.stem
    if os.environ.get("MLPZOO_NATIVE", "1") == "0":
        _STATUS[name] = {"built": False, "reason": "turned off by MLPZOO_NATIVE=0"}
        return None
    errors = []
    for flags in FLAG_SETS:
        try:
            lib = ctypes.CDLL(str(_build(source, flags)))
            declare(lib)
            _STATUS[name] = {"built": True, "reason": f"built with {' '.join(flags)}"}
            return lib
        except (OSError, subprocess.SubprocessError, AttributeError) as err:
            detail = getattr(err, "stderr", b"") or b""
            errors.append(f"{' '.join(flags)}: {err} {detail.decode(errors='replace')[:300]}".strip())
    _STATUS[name] = {"built": False, "reason": "; ".join(errors)}
    warnings.warn(
        f"mlpzoo: the C kernel {name} could not be built, using the pure-torch path ({errors[-1]})",
        RuntimeWarning,
        stacklevel=3,
    )
    return None


def status(source: Path) -> dict:
    """``{"built": bool, "reason": str}`` for ``source``'s kernel (after a :func:`load`)."""
    return dict(_STATUS.get(source.stem, {"built": None, "reason": "not loaded yet"}))
