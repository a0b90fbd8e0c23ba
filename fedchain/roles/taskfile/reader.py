"""Typed reads of one TOML table (or JSON object): types, ranges, and no unknown keys."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from fedchain.roles.taskfile.amounts import format_wei, wei_value
from fedchain.roles.taskfile.errors import TaskFileError, kind_of, located_error

__all__ = ["MISSING", "Table"]

#: Default that makes a key required: :meth:`Table.get` raises "missing" instead.
MISSING: Final[Any] = object()


class Table:
    """One section's keys: checks types and ranges, and that no unknown key is present.

    Every reader takes the key and its default (:data:`MISSING` for a required key) and raises
    :class:`TaskFileError` naming the source, section and key.
    """

    def __init__(
        self, source: str, section: str | None, data: Any, allowed: tuple[str, ...] | None
    ) -> None:
        self.source, self.section = source, section
        if not isinstance(data, Mapping):
            raise located_error(source, section, None, f"must be a table, got {kind_of(data)}")
        self.data: Mapping[str, Any] = data
        unknown = sorted(set(data) - set(allowed)) if allowed is not None else []
        if unknown:
            allowed_keys = ", ".join(sorted(allowed or ()))
            raise self.error(unknown[0], f"unknown key; allowed: {allowed_keys}")

    def error(self, key: str | None, problem: str) -> TaskFileError:
        """``problem`` located at ``key`` of this table."""
        return located_error(self.source, self.section, key, problem)

    def note(self, key: str | None, text: str) -> str:
        """A remark (not an error) located at ``key`` of this table, in the errors' format."""
        return str(located_error(self.source, self.section, key, text))

    def get(self, key: str, default: Any) -> Any:
        """The raw value of ``key``, or ``default``."""
        if key in self.data:
            return self.data[key]
        if default is MISSING:
            raise self.error(key, "missing")
        return default

    def integer(self, key: str, default: Any, *, lo: int, hi: int | None = None) -> int:
        """An integer (not a boolean) in ``lo..hi``."""
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, got {kind_of(value)}")
        if value < lo or (hi is not None and value > hi):
            bound = f"in {lo}..{hi}" if hi is not None else f">= {lo}"
            raise self.error(key, f"must be {bound}, got {value}")
        return value

    def number(
        self,
        key: str,
        default: Any,
        *,
        lo: float,
        lo_open: bool = False,
        below: float | None = None,
    ) -> float:
        """A finite number at least (or, with ``lo_open``, above) ``lo`` and below ``below``."""
        value = self.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"must be a number, got {kind_of(value)}")
        v = float(value)
        ok = math.isfinite(v) and (v > lo if lo_open else v >= lo) and (below is None or v < below)
        if not ok:
            low = f"> {lo}" if lo_open else f">= {lo}"
            bound = f"finite and {low}" if below is None else f"in [{lo}, {below})"
            raise self.error(key, f"must be {bound}, got {value}")
        return v

    def text(self, key: str, default: Any, *, choices: list[str] | None = None) -> str:
        """A non-blank string, one of ``choices`` if given."""
        value = self.get(key, default)
        if not isinstance(value, str):
            raise self.error(key, f"must be a string, got {kind_of(value)}")
        if choices is not None and value not in choices:
            raise self.error(key, f"unknown value {value!r}; choose from {', '.join(choices)}")
        if not value.strip():
            raise self.error(key, "must not be empty")
        return value

    def flag(self, key: str, default: Any) -> bool:
        """A boolean."""
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, got {kind_of(value)}")
        return value

    def wei(self, key: str, default: Any, *, lo: int = 0, hi: int) -> int:
        """An amount in wei (see :func:`parse_wei`) in ``lo..hi``."""
        try:
            value = wei_value(self.get(key, default))
        except ValueError as exc:
            raise self.error(key, str(exc)) from None
        if value < lo:
            raise self.error(key, f"must be at least {format_wei(lo)}, got {format_wei(value)}")
        if value > hi:
            raise self.error(key, f"must be at most {hi} wei (the contract's field width)")
        return value
