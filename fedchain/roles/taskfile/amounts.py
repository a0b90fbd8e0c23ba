"""Wei amounts in task files: :mod:`fedchain.units`, raising :class:`TaskFileError`."""

from __future__ import annotations

from fedchain.roles.taskfile.errors import TaskFileError
from fedchain.units import format_wei, wei_value
from fedchain.units import parse_wei as _parse_wei

__all__ = ["format_wei", "parse_wei", "wei_value"]


def parse_wei(value: int | str, *, what: str) -> int:
    """:func:`fedchain.units.parse_wei` raising :class:`TaskFileError`."""
    return _parse_wei(value, what=what, error=TaskFileError)
