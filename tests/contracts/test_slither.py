"""Slither finds no High-severity issue in the contracts (own virtualenv; skipped without it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SLITHER = Path(os.environ.get("FEDCHAIN_SLITHER") or ROOT / ".venv-slither/bin/slither")


@pytest.mark.slither
@pytest.mark.slow
def test_no_high_severity_findings() -> None:
    if not SLITHER.is_file():
        pytest.skip(f"Slither not installed at {SLITHER} (make slither, or set FEDCHAIN_SLITHER)")
    if shutil.which("npx") is None or not (ROOT / "node_modules" / "hardhat").is_dir():
        pytest.skip("hardhat is not installed (npm ci)")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_slither.py"), "--slither", str(SLITHER)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert "High: 0" in proc.stdout
