"""Fixtures shared by every test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from imagefiles import make_image


@pytest.fixture
def image_factory() -> Callable[..., Path]:
    return make_image
