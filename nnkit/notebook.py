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


def store(paths: list[str], timeout: int = 600) -> None:
    """Execute notebooks in place, top to bottom, as a student's fresh install would run them.

    The outputs stored in the repository are what nbval compares and what the book shows,
    so they must be what a student sees after the README's first command: the ``auto``
    backend (``NNKIT_BACKEND`` unset), no CuPy installed, BLAS on one thread. Run it from
    such an environment::

        python3 -m venv .venv-student && .venv-student/bin/pip install -r requirements.txt
        .venv-student/bin/python -m nnkit.course store notebooks/04_training_mlp.ipynb
    """
    import importlib.util
    import os
    import pathlib

    import nbformat
    from nbconvert.preprocessors import ExecutePreprocessor

    if importlib.util.find_spec("cupy") is not None:
        raise SystemExit("CuPy is installed in this environment, so stored outputs would not show what a "
                         "student without it sees. Store from an environment installed with requirements.txt "
                         "only: see `python -m nnkit.course store --help`.")
    os.environ.pop("NNKIT_BACKEND", None)
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    for name in paths:
        path = pathlib.Path(name).resolve()
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            cell.metadata.pop("execution", None)  # timestamps: noise in every diff
        ExecutePreprocessor(timeout=timeout, kernel_name="python3", record_timing=False).preprocess(
            notebook, {"metadata": {"path": str(path.parent)}})
        nbformat.write(notebook, path)
        print(f"stored {path.name}")

