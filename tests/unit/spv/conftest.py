"""Fixtures of the SPV unit tests (builders live in ``spv_testkit``)."""

from __future__ import annotations

import pytest
from spv_testkit import Vectors


@pytest.fixture(scope="session")
def vectors() -> Vectors:
    return Vectors()
