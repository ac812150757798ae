"""nnkit: a small neural-network library whose every backward pass you can read.

Arrays run on NumPy (CPU) or CuPy (GPU); see :mod:`nnkit.backend`.
"""

from . import data, functional, init, layers, losses, optim, train, viz
from . import scalar  # the scalar autograd of chapter 5
from .backend import (
    BackendError,
    asarray,
    backend_info,
    get_backend,
    seed,
    set_backend,
    set_default_dtype,
    to_numpy,
    use_backend,
    use_dtype,
)
from .gradcheck import gradcheck
from .module import Module, Parameter, Sequential
from .notebook import setup_notebook
from .train import History, accuracy, confusion_matrix, evaluate, fit, predict

__version__ = "0.1.0"
