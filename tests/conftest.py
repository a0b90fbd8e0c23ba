"""Suite-wide settings: one torch thread, fixed seeds, no network beyond loopback."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_configure(config: pytest.Config) -> None:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_everything() -> None:
    random.seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the project (development and CI)."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"{SHARED_DIR} not found")
    return SHARED_DIR
