"""Tests of fedchain.storage (mirrors the package)."""
