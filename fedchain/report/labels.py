"""Labels and numbers shared by the table, the summary and the plots.

Short names for addresses (``c0``, ``m1``, ``0x1234…abcd``), a human reading of wei amounts,
and the small helpers every view needs to read a result: which clients are malicious, every
address the result names, and the 1-based round number people see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fedchain.errors import ConfigError

__all__ = ["client_labels", "format_wei", "short_address"]

_MALICIOUS_MARK = "*"
# (exponent, unit name, smallest magnitude shown in this unit)
_UNITS = ((18, "ETH", 10**15), (9, "gwei", 10**6))
_SIGNIFICANT = 4


def short_address(addr: str) -> str:
    """``0x1234…abcd``: the first four and last four hex digits of an address."""
    if len(addr) <= 12:
        return addr
    return f"{addr[:6]}…{addr[-4:]}"


def client_labels(result: Mapping[str, Any]) -> dict[str, str]:
    """Map every address the result names to a short label.

    Clients are ``c0, c1, …`` by their index in ``result["clients"]``, miners ``m0, m1, …`` by
    their index in ``result["miners"]``; any other address (the requester, say) maps to
    :func:`short_address`. Matching ignores case, and each spelling found in the result is a key.
    """
    known: dict[str, str] = {}
    for prefix, key in (("c", "clients"), ("m", "miners")):
        for index, address in enumerate(result.get(key) or ()):
            known.setdefault(address.lower(), f"{prefix}{index}")
    labels: dict[str, str] = {}
    for address in _addresses_in(result):
        labels[address] = known.get(address.lower(), short_address(address))
    return labels


def format_wei(value: int) -> str:
    """A short human reading of an amount in wei: ``0``, ``123 wei``, ``1.5 gwei``, ``0.0123 ETH``.

    Amounts of at least 0.001 ETH are shown in ETH, amounts of at least 0.001 gwei in gwei, smaller
    ones in wei. Four significant digits are kept (all digits of the integer part), trailing zeros
    dropped, so the reading is exact-ish, never misleading by more than the last digit shown.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"an amount in wei must be an integer, got {value!r}")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    # The unit follows the rounded amount, so 999,999.9999 gwei reads 0.001 ETH, not 1,000,000 gwei.
    digits = len(str(magnitude))
    step = 10 ** max(0, digits - _SIGNIFICANT)
    rounded = (magnitude + step // 2) // step * step
    for exponent, unit, smallest in _UNITS:
        if rounded >= smallest:
            return f"{sign}{_significant(Decimal(magnitude).scaleb(-exponent))} {unit}"
    return f"{sign}{magnitude:,} wei"


def _significant(amount: Decimal) -> str:
    """``amount`` (≥ 0.001) rounded to four significant digits, integer part kept whole."""
    integer_digits = amount.adjusted() + 1  # 0.0123 -> -1, 1.5 -> 1, 1234.5 -> 4
    decimals = max(0, _SIGNIFICANT - integer_digits)
    rounded = amount.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    text = f"{rounded:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _addresses_in(result: Mapping[str, Any]) -> list[str]:
    """Every address the result names, first appearance first."""
    seen: dict[str, None] = {}

    def add(addresses: Iterable[str] | None) -> None:
        for address in addresses or ():
            if isinstance(address, str):
                seen.setdefault(address, None)

    add(result.get("clients"))
    add(result.get("miners"))
    add([result["requester"]] if result.get("requester") else None)
    add(result.get("malicious"))
    add(result.get("behaviours"))
    add(result.get("reputation"))
    add(result.get("payouts"))
    for record in result.get("rounds") or ():
        add([record["leader"]] if record.get("leader") else None)
        for key in ("committee", "accepted", "rejected", "missing", "rewards"):
            add(record.get(key))
    return list(seen)


def _labeller(result: Mapping[str, Any]) -> Callable[[str], str]:
    """A case-insensitive label lookup that falls back to :func:`short_address`."""
    lowered = {a.lower(): label for a, label in client_labels(result).items()}
    return lambda address: lowered.get(address.lower(), short_address(address))


def _malicious(result: Mapping[str, Any]) -> set[str]:
    """Lower-cased addresses of the clients that do not behave honestly."""
    return {
        a.lower() for a in (*(result.get("malicious") or ()), *(result.get("behaviours") or ()))
    }


def _ordered_malicious(result: Mapping[str, Any]) -> list[str]:
    malicious = _malicious(result)
    ordered = [a for a in result.get("clients") or () if a.lower() in malicious]
    listed = {a.lower() for a in ordered}
    extra = (*(result.get("malicious") or ()), *(result.get("behaviours") or ()))
    for address in extra:
        if address.lower() not in listed:
            ordered.append(address)
            listed.add(address.lower())
    return ordered


def _lowered(addresses: Iterable[str] | None) -> list[str]:
    return [a.lower() for a in addresses or ()]


def _display_round(record: Mapping[str, Any], position: int) -> int:
    """The 1-based round number shown to people (on-chain index + 1)."""
    number = record.get("round")
    return (int(number) if number is not None else position) + 1
