"""Fixtures shared by the core tests."""

from __future__ import annotations

import pytest
from classify_data import colour_model


@pytest.fixture(scope="session")
def nested_colour_model():
    """A colour-patch classifier whose convolutions live in a sub-model "base" (as a
    transfer model's backbone does), trained once for every test that explains it."""
    return colour_model(nested=True)
