"""The array backend: the one module of nnkit that imports numpy or cupy.

Four backends can be active:

``numpy``   arrays live on the CPU (the default when no GPU is usable).
``cupy``    arrays live on an NVIDIA GPU; asking for it when it cannot work raises
            :class:`BackendError` naming the cause and the fix.
``strict``  array-api-strict on a non-default device. It refuses implicit
            conversion to NumPy exactly as CuPy does, so a CPU-only test run
            catches the bugs that would break on a GPU.
``auto``    CuPy when a GPU is usable, otherwise NumPy.

Pick one with the ``NNKIT_BACKEND`` environment variable, :func:`set_backend`
or the :func:`use_backend` context manager. Library code never asks which
backend is active to do maths: it uses :func:`namespace` of its input arrays.
Only array *creation* (parameters, data) goes through the active backend.

Randomness is drawn on the host with ``numpy.random.default_rng`` and then moved, so
every backend sees the same numbers for the same seed. Random numbers needed on every
training step (dropout masks) are computed on the device instead, by
:func:`device_uniform`: one key from the host generator, no copy.

GPU work runs in the background: a call returns once the work is queued. Reading a value
back (``float``, :func:`to_numpy`) waits for it; :func:`synchronize` waits without reading,
for timing device work honestly.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import array_api_compat
import numpy as np

__all__ = [
    "BackendError", "Backend", "set_backend", "use_backend", "get_backend", "xp",
    "namespace", "asarray", "to_numpy", "is_array", "seed", "rng", "randn", "rand",
    "permutation", "seeded", "default_dtype", "set_default_dtype", "use_dtype", "backend_info",
    "BACKEND_NAMES", "float_dtype", "dtype_name", "set_print_precision", "host_xp", "synchronize",
    "device_uniform",
]

BACKEND_NAMES = ("auto", "numpy", "cupy", "strict")
_GPU_FIX = "pip install -r requirements-gpu.txt"


class BackendError(RuntimeError):
    """A backend was asked for that this machine cannot provide, or arrays were mixed."""


@dataclass(frozen=True)
class Backend:
    """The active array library.

    name:   "numpy", "cupy" or "strict" (never "auto": that is resolved on selection).
    xp:     its array-API namespace (array_api_compat's wrapper for numpy/cupy).
    device: where new arrays are created (``None`` means the library's default).
    reason: one sentence on why this backend is active (shown by backend_info()).
    """

    name: str
    xp: Any
    device: Any
    reason: str


# ----------------------------------------------------------------------------- selection

def _cupy_problem() -> str | None:
    """Why CuPy cannot be used here, or None when it can."""
    try:
        import cupy  # noqa: F401  (the only place nnkit imports cupy)
    except ImportError:
        return f"CuPy is not installed (to use a GPU: {_GPU_FIX})"
    except Exception as exc:  # a broken install: wrong CUDA version, missing libraries
        return f"CuPy failed to import ({type(exc).__name__}: {exc}); reinstall with {_GPU_FIX}"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return "CuPy is installed but no NVIDIA GPU was found"
        if not cupy.is_available():
            return "CuPy is installed but cannot use the GPU (is the NVIDIA driver installed?)"
        cupy.zeros(1)  # touches the driver: fails here if it is too old for CuPy's CUDA
    except Exception as exc:  # CUDARuntimeError is a RuntimeError; never match on message
        text = str(exc)
        hint = ("no NVIDIA GPU was found" if "no CUDA-capable device" in text or "cudaErrorNoDevice" in text
                else "the NVIDIA driver is missing or too old for this CuPy" if "driver" in text.lower()
                else "CuPy cannot use the GPU")
        return f"CuPy is installed but {hint} ({type(exc).__name__}: {text})"
    return None


def _make(name: str) -> Backend:
    if name == "numpy":
        return Backend("numpy", array_api_compat.array_namespace(np.empty(0)), None,
                       "NumPy was requested")
    if name == "strict":
        import array_api_strict
        return Backend("strict", array_api_strict, array_api_strict.Device("device1"),
                       "array-api-strict was requested (a CPU stand-in that behaves like a GPU backend)")
    if name == "cupy":
        problem = _cupy_problem()
        if problem:
            raise BackendError(f"The 'cupy' backend cannot be used: {problem}. "
                               "Use set_backend('numpy') (or 'auto') to run on the CPU.")
        import cupy
        return Backend("cupy", array_api_compat.array_namespace(cupy.empty(0)), None,
                       "CuPy was requested and a GPU is usable")
    if name == "auto":
        problem = _cupy_problem()
        if problem is None:
            backend = _make("cupy")
            return Backend("cupy", backend.xp, backend.device, "a usable GPU was found ('auto')")
        backend = _make("numpy")
        return Backend("numpy", backend.xp, None, f"no GPU backend, because {problem}")
    raise BackendError(f"Unknown backend {name!r}: choose one of {', '.join(BACKEND_NAMES)}.")


def _from_environment() -> Backend:
    name = os.environ.get("NNKIT_BACKEND", "auto").strip().lower() or "auto"
    backend = _make(name)
    if name != "auto":
        return Backend(backend.name, backend.xp, backend.device,
                       backend.reason.replace("was requested", "was requested by NNKIT_BACKEND"))
    return backend


_active: Backend | None = None


def get_backend() -> Backend:
    """The active :class:`Backend` (chosen from ``NNKIT_BACKEND`` on first use)."""
    global _active
    if _active is None:
        _active = _from_environment()
    return _active


def set_backend(name: str) -> Backend:
    """Make ``name`` ("auto", "numpy", "cupy" or "strict") the active backend.

    Arrays made before the switch stay where they are; build models after switching.
    Raises BackendError for an unknown name or a "cupy" this machine cannot run.
    """
    global _active
    if not isinstance(name, str):
        raise BackendError(f"Backend name must be a string, one of {BACKEND_NAMES}; got {name!r}.")
    _active = _make(name.strip().lower())
    return _active


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """``with use_backend("strict"): ...`` runs the block on that backend, then restores."""
    global _active
    previous = get_backend()
    try:
        yield set_backend(name)
    finally:
        _active = previous


def xp() -> Any:
    """The active backend's array namespace (for creating arrays)."""
    return get_backend().xp


def synchronize() -> None:
    """Wait until the device has finished all the work queued so far; a no-op on CPU backends.

    On a GPU an array operation returns as soon as its work is queued, so a clock read right
    after it measures only the queueing: call ``synchronize()`` before reading the clock.
    """
    if get_backend().name == "cupy":
        import cupy
        cupy.cuda.Device().synchronize()


# ----------------------------------------------------------------------------- dtypes

_default_dtype = "float64"


def default_dtype() -> str:
    """Name of the floating dtype new parameters and data get: "float64" unless changed."""
    return _default_dtype


def set_default_dtype(name: str) -> None:
    """Set the floating dtype ("float64" or "float32") of new parameters and data."""
    global _default_dtype
    if name not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {name!r}.")
    _default_dtype = name


@contextlib.contextmanager
def use_dtype(name: str) -> Iterator[None]:
    """``with use_dtype("float32"): ...`` creates parameters and data in that dtype."""
    previous = _default_dtype
    set_default_dtype(name)
    try:
        yield
    finally:
        set_default_dtype(previous)


def float_dtype(name: str | None = None, xp_: Any = None) -> Any:
    """The dtype object called ``name`` (default: :func:`default_dtype`) in a namespace."""
    return getattr(xp_ if xp_ is not None else xp(), name or _default_dtype)


def dtype_name(dtype: Any) -> str:
    """The plain name ("float64", "int64", ...) of a dtype of any backend."""
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype).rsplit(".", 1)[-1]


# ----------------------------------------------------------------------------- conversion

# The namespace of an array depends only on its type. Every layer asks for it on every
# call, so the answer is remembered per type: a dict lookup instead of array_api_compat's
# full inspection of the arguments.
_namespace_of_type: dict[type, Any] = {}


def namespace(*arrays: Any) -> Any:
    """The array namespace shared by ``arrays``; raises a clear error when they are mixed."""
    kinds = set(map(type, arrays))
    one_kind = next(iter(kinds)) if len(kinds) == 1 else None
    if one_kind in _namespace_of_type:
        return _namespace_of_type[one_kind]
    try:
        xp = array_api_compat.array_namespace(*arrays)
    except TypeError as exc:
        names = ", ".join(sorted(f"{kind.__module__}.{kind.__name__}" for kind in kinds))
        raise BackendError(f"Arrays from different libraries were mixed ({names}). Move data onto the "
                           "active backend with nnkit.asarray(...) first.") from exc
    if one_kind is not None:
        _namespace_of_type[one_kind] = xp
    return xp


def is_array(obj: Any) -> bool:
    """True for an array of any supported library (numpy, cupy, array-api-strict)."""
    return array_api_compat.is_array_api_obj(obj) and not isinstance(obj, (int, float, complex, bool))


def _is_host(obj: Any) -> bool:
    return isinstance(obj, (np.ndarray, np.generic, list, tuple, int, float, bool))


def asarray(obj: Any, dtype: str | None = None) -> Any:
    """``obj`` (list, NumPy array, or an array of any backend) as an array of the active backend.

    Like ``numpy.asarray``, it does not copy what is already there: an array of the active
    backend with the requested dtype comes back as it is, and NumPy input may be shared on
    the numpy backend. Anything else is converted (through the host when it changes library).
    dtype: a name such as "float64", "float32", "int64"; floating input gets the default
    float dtype when dtype is None, integer and boolean input keeps its kind.
    """
    backend = get_backend()
    if not _is_host(obj) and is_array(obj) and backend.name != "numpy":
        same_library = array_api_compat.array_namespace(obj) is backend.xp
        if same_library and (backend.device is None or obj.device == backend.device) and (
                dtype is None and dtype_name(obj.dtype).startswith(("int", "bool", _default_dtype))
                or dtype is not None and dtype_name(obj.dtype) == dtype):
            return obj
    host = obj if _is_host(obj) else to_numpy(obj)
    host = np.asarray(host)
    if dtype is None:
        if np.issubdtype(host.dtype, np.floating):
            dtype = _default_dtype
        elif np.issubdtype(host.dtype, np.integer):
            dtype = "int64"
        elif host.dtype == np.bool_:
            dtype = "bool"
        else:
            raise TypeError(f"Cannot put an array of dtype {host.dtype} on the {backend.name} backend.")
    host = np.asarray(host, dtype=dtype, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
    if backend.name == "numpy":
        return host
    target = getattr(backend.xp, dtype)
    if backend.device is None:
        return backend.xp.asarray(host, dtype=target)
    return backend.xp.asarray(host, dtype=target, device=backend.device)


def to_numpy(a: Any) -> np.ndarray:
    """A NumPy copy (or view) of ``a`` on the host: the one road to matplotlib and printing."""
    if isinstance(a, np.ndarray):
        return a
    if _is_host(a):
        return np.asarray(a)
    if array_api_compat.is_cupy_array(a):
        return a.get()
    module = type(a).__module__
    if module.startswith("array_api_strict"):
        import array_api_strict
        return np.asarray(a.to_device(array_api_strict.Device("CPU_DEVICE")))
    return np.asarray(a)


# ----------------------------------------------------------------------------- host data
# Added for nnkit.data and nnkit.viz: data sets and plotting grids are made on the CPU as
# NumPy arrays, with array-API maths through this namespace, and moved to the active
# backend only when a model needs them.

def host_xp() -> Any:
    """The array namespace of host NumPy arrays (for data prepared on the CPU)."""
    return array_api_compat.array_namespace(np.empty(0))


# ----------------------------------------------------------------------------- randomness

_rng = np.random.default_rng(0)


def seed(n: int) -> None:
    """Reseed nnkit's host random generator: every backend then sees the same numbers."""
    global _rng
    _rng = np.random.default_rng(n)


@contextlib.contextmanager
def seeded(n: int) -> Iterator[None]:
    """``with seeded(n): ...`` draws from a generator seeded with n inside the block.

    Afterwards nnkit's random stream goes on exactly where it was, so a demo that trains its
    own model leaves the rest of a notebook's random numbers alone.
    """
    global _rng
    outer = _rng
    _rng = np.random.default_rng(n)
    try:
        yield
    finally:
        _rng = outer


def rng(seed: int | None = None) -> np.random.Generator:
    """nnkit's host random generator (for shuffling and sampling on the CPU).

    With a ``seed``, a fresh generator of its own instead (used by the toy data sets, so
    that ``spirals(seed=0)`` is the same data whatever was drawn before).
    """
    return _rng if seed is None else np.random.default_rng(seed)


def randn(*shape: int, std: float = 1.0, dtype: str | None = None) -> Any:
    """Normal(0, std²) samples of ``shape`` drawn on the host and moved to the active backend."""
    return asarray(_rng.standard_normal(shape) * std, dtype=dtype)


def rand(*shape: int, low: float = 0.0, high: float = 1.0, dtype: str | None = None) -> Any:
    """Uniform[low, high) samples of ``shape`` drawn on the host and moved to the active backend."""
    return asarray(_rng.uniform(low, high, size=shape), dtype=dtype)


def permutation(n: int) -> np.ndarray:
    """A random permutation of range(n), as a host integer array (for indexing host data)."""
    return _rng.permutation(n)


# SplitMix64's constants: the step γ (2**64 divided by the golden ratio, made odd), then the
# two multipliers of its output hash.
_SPLITMIX64 = (0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB)


def _uint64(xp: Any, device: Any, value: int) -> Any:
    """``value`` (below 2**64) as a 0-d uint64 array on ``device``, built from its 32-bit halves.

    CuPy turns a Python int operand into an int64 and overflows above 2**63 − 1
    (cupy/cupy#9753), so large constants go in as arrays.
    """
    return (xp.full((), value >> 32, dtype=xp.uint64, device=device) << 32) | (value & 0xFFFFFFFF)


def device_uniform(shape: tuple[int, ...], like: Any, rng: np.random.Generator | None = None) -> Any:
    """Uniform [0, 1) float64 numbers of ``shape``, computed on the device of ``like``: no host copy.

    A counter-based generator: one 63-bit key is drawn from ``rng`` (default nnkit's generator,
    so ``nnkit.seed`` fixes it), and number i is the i-th output of SplitMix64 seeded with that
    key (Steele, Lea and Flood, OOPSLA 2014): a hash of key + (i + 1)·γ made of integer
    multiplies, shifts and xors modulo 2**64. Integer arithmetic is exact, so every backend
    computes the same numbers for the same seed.
    shape: the output's shape; like: an array whose namespace and device the output shares.
    """
    xp, device = namespace(like), array_api_compat.device(like)
    key = int((rng or _rng).integers(0, 2**63))
    gamma, mul1, mul2 = (_uint64(xp, device, c) for c in _SPLITMIX64)
    z = xp.arange(1, math.prod(shape) + 1, dtype=xp.uint64, device=device) * gamma
    z += key
    for shift, multiplier in ((30, mul1), (27, mul2)):  # in place: no new arrays per step
        z ^= z >> shift
        z *= multiplier
    z ^= z >> 31
    return xp.reshape(xp.astype(z >> 11, xp.float64) * 2.0**-53, shape)  # the top 53 bits, exactly


# ----------------------------------------------------------------------------- reporting

def backend_info() -> str:
    """One line saying which array library computes, on which device, and why."""
    backend = get_backend()
    if backend.name == "numpy":
        where = f"NumPy {np.__version__} on the CPU"
    elif backend.name == "cupy":
        import cupy
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        gpu = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
        where = f"CuPy {cupy.__version__} on the GPU ({gpu})"
    else:
        import array_api_strict
        where = f"array-api-strict {array_api_strict.__version__} on a simulated device"
    return f"nnkit is using {where}, default dtype {_default_dtype}: {backend.reason}."


def set_print_precision(precision: int = 4) -> None:
    """Print host arrays rounded to ``precision`` digits, so stored notebook outputs are stable."""
    np.set_printoptions(precision=precision, suppress=True, floatmode="maxprec")
