"""Settings shared by every test run, including the notebook kernels nbval starts.

Kernels inherit this process's environment, so stored notebook outputs are compared on
NumPy with BLAS on one thread unless the caller chose a backend explicitly (e.g.
NNKIT_BACKEND=strict for the lax run). One thread makes a run repeat itself exactly on
the same machine. It does not make two machines agree: OpenBLAS picks its kernels by CPU
and NumPy its SIMD code, so matrix products, exp and log can differ in the last bit from
one computer to the next. The stored outputs are written to survive that (rounded
printing, bounds instead of rounding-level digits, no chaotic trajectories), and to prove
it the kernels that nbval compares run with NumPy's top SIMD level switched off, so they
round differently from the machine that stored the outputs (``NNKIT_SIMD=native`` compares
with the CPU's own code instead). The browser test runs every chapter as is.
"""

import os


def numpy_simd_off() -> tuple[str, str]:
    """(value for NPY_DISABLE_CPU_FEATURES, what it means): NumPy's top SIMD level switched off.

    NumPy picks, per function, the best of its dispatch targets this CPU supports (on x86:
    X86_V3 = AVX2, X86_V4 = AVX-512, ...). Switching off every available target above the
    lowest makes NumPy round like an older or smaller CPU would; with one target, that one
    goes. The value is "" when nothing can be switched off (only baseline SIMD here).
    """
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath as umath
    available = [name for name in umath.__cpu_dispatch__ if umath.__cpu_features__.get(name)]
    switched_off = available[1:] or available
    if not switched_off:
        return "", "not run: NumPy has no SIMD level above its baseline on this CPU"
    kept = available[0] if len(available) > 1 else "baseline " + " ".join(umath.__cpu_baseline__)
    return " ".join(switched_off), f"switched off {' '.join(switched_off)} (NumPy keeps {kept})"


os.environ.setdefault("NNKIT_BACKEND", "numpy")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
if os.environ.get("NNKIT_SIMD", "off") == "off" and "NPY_DISABLE_CPU_FEATURES" not in os.environ:
    SIMD_FEATURES, SIMD_MEANING = numpy_simd_off()   # read before any kernel starts: they inherit it
    if SIMD_FEATURES:
        os.environ["NPY_DISABLE_CPU_FEATURES"] = SIMD_FEATURES
else:
    SIMD_FEATURES, SIMD_MEANING = "", "not run: NNKIT_SIMD=native compares with the CPU's own SIMD code"


def pytest_report_header(config):
    return f"notebook kernels compared against stored outputs: NumPy's top SIMD level {SIMD_MEANING}"
