"""Wei amounts as people write them: ``12``, ``"12 wei"``, ``"1 gwei"``, ``"0.01 ether"``.

Light on purpose (stdlib only), so commands that only parse an amount start fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Context, Decimal, localcontext
from typing import Any, Final

from fedchain.errors import ConfigError

__all__ = ["format_wei", "parse_wei", "wei_value"]

_WEI_UNITS: Final = {"wei": 0, "gwei": 9, "ether": 18}
_AMOUNT = re.compile(r"[0-9]{1,80}(\.[0-9]{1,80})?")


def _kind(value: Any) -> str:
    """The TOML/JSON name of ``value``'s type (``"boolean"``, ``"float"``, ``"table"``...)."""
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array"}
    return "table" if isinstance(value, dict) else names.get(type(value), type(value).__name__)


def wei_value(value: Any) -> int:
    """``value`` in wei, or ValueError saying what is wrong (without any prefix)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(
            f'must be an integer number of wei or a string like "0.01 ether", got {_kind(value)}'
        )
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must be >= 0, got {value}")
        return value
    parts = value.split()
    if len(parts) not in (1, 2) or not _AMOUNT.fullmatch(parts[0]):
        raise ValueError(
            f'{value!r} is not an amount; write e.g. 12, "12 wei", "1 gwei", "0.01 ether"'
        )
    unit = parts[1].lower() if len(parts) == 2 else "wei"
    if unit not in _WEI_UNITS:
        raise ValueError(f"unknown unit {parts[1]!r} in {value!r}; use wei, gwei or ether")
    with localcontext(Context(prec=200)):
        amount = Decimal(parts[0]).scaleb(_WEI_UNITS[unit])
    if amount != amount.to_integral_value():
        raise ValueError(f"{value!r} is not a whole number of wei")
    return int(amount)


def parse_wei(
    value: int | str, *, what: str, error: Callable[[str], Exception] = ConfigError
) -> int:
    """An amount in wei from ``12``, ``"12"``, ``"12 wei"``, ``"1 gwei"`` or ``"0.01 ether"``.

    Decimals are exact (no float rounding); the result must be a whole, non-negative number of
    wei. ``what`` names the value in the error message.

    Raises:
        ConfigError (or what ``error`` builds): anything else.
    """
    try:
        return wei_value(value)
    except ValueError as exc:
        raise error(f"{what}: {exc}") from None


def format_wei(value: int) -> str:
    """``value`` wei in the largest readable unit that keeps it exact: ``"0.01 ether"``,
    ``"1 gwei"``, ``"12 wei"`` (what a task file's ``to_toml`` writes, :func:`parse_wei` reads)."""
    if value == 0 or value % 10**9:
        return f"{value} wei"
    if value < 10**15:
        return f"{value // 10**9} gwei"
    with localcontext(Context(prec=200)):
        ether = Decimal(value).scaleb(-18).normalize()
    return f"{ether:f} ether"
