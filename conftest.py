"""Settings shared by every test run, including the notebook kernels nbval starts.

Kernels inherit this process's environment, so stored notebook outputs are compared
on NumPy with BLAS on one thread (identical last digits on every machine) unless the
caller chose a backend explicitly (e.g. NNKIT_BACKEND=strict for the lax run).
"""

import os

os.environ.setdefault("NNKIT_BACKEND", "numpy")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
