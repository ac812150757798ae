"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest

import nnkit


def _available_backends() -> list[str]:
    names = ["numpy", "strict"]
    try:
        import cupy

        if cupy.is_available():
            names.append("cupy")
    except Exception:  # not installed, or installed without a usable GPU
        pass
    return names


BACKENDS = _available_backends()


@pytest.fixture(params=BACKENDS)
def backend_name(request):
    """Run the test once per available backend, with that backend active."""
    with nnkit.use_backend(request.param):
        nnkit.seed(0)
        yield request.param
