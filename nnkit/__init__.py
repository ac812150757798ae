"""nnkit: a small neural-network library whose every backward pass you can read.

Arrays run on NumPy (CPU) or CuPy (GPU); see :mod:`nnkit.backend`.
"""

import importlib
from typing import Any

from . import data, functional, init, layers, losses, optim, scalar, train
from .backend import (
    BackendError,
    asarray,
    backend_info,
    get_backend,
    seed,
    set_backend,
    set_default_dtype,
    synchronize,
    to_numpy,
    use_backend,
    use_dtype,
)
from .gradcheck import gradcheck
from .module import Module, Parameter, Sequential
from .notebook import setup_notebook
from .train import History, accuracy, confusion_matrix, evaluate, fit, predict

__version__ = "0.1.0"

_LAZY = ("viz", "widgets", "course", "book")  # these import matplotlib/ipywidgets/nbconvert


def __getattr__(name: str) -> Any:
    """Load the plotting, widget and course modules on first use: ``import nnkit`` stays fast."""
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'nnkit' has no attribute {name!r}")
