"""The one-line setup every chapter notebook starts with."""

from __future__ import annotations

from . import backend


def setup_notebook(seed: int = 0, precision: int = 4) -> None:
    """Make a notebook's outputs the same on every machine, then say which backend runs.

    Seeds nnkit's random generator, pins BLAS to one thread (a matrix product's last digit
    can depend on the thread count), rounds printed arrays to ``precision`` digits and sets
    matplotlib defaults: fixed figure size, a colour-blind-safe palette, labelled grids.
    """
    import os

    import matplotlib.pyplot as plt
    from threadpoolctl import threadpool_limits

    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"  # for thread pools of libraries imported later (e.g. scikit-learn's)
    threadpool_limits(1)  # for those already loaded (NumPy's BLAS)
    backend.seed(seed)
    backend.set_print_precision(precision)
    plt.style.use("tableau-colorblind10")
    plt.rcParams.update({
        "figure.figsize": (6.4, 4.0),
        "figure.dpi": 80,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
    })
    print(backend.backend_info())
