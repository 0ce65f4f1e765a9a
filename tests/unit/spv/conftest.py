"""Fixtures of the SPV unit tests (builders live in ``spv_testkit``)."""

from __future__ import annotations

import pytest
from spv_testkit import VECTORS, Vectors


@pytest.fixture(scope="session")
def vectors() -> Vectors:
    if not VECTORS.is_dir():
        pytest.fail(f"SPV vectors not found at {VECTORS} (set ETM_SPV_VECTORS)")
    return Vectors()
