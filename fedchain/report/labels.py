"""Labels and numbers shared by the table, the summary and the plots.

A participant is named by the name it chose, where the result gives one (``result["names"]``,
address → name), else by its address in short form (``0x1234…abcd``); never by its join order,
which no process tells its participant. :func:`participant_legend` lists every label with the
full address behind it. Amounts are shown in one unit, ETH (``--json`` output keeps wei).
Also the small helpers every view needs to read a result: which clients are malicious, every
address the result names, and the 1-based round number people see.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from fedchain.errors import ConfigError

__all__ = ["client_labels", "format_wei", "participant_legend", "short_address"]

_MALICIOUS_MARK = "*"
_SIGNIFICANT = 4
_ETH_DECIMALS = 18


def short_address(addr: str, *, digits: int = 4) -> str:
    """``0x1234…abcd``: the first and last ``digits`` hex digits of an address."""
    if len(addr) <= 2 + 2 * digits + 1:
        return addr
    return f"{addr[: 2 + digits]}…{addr[-digits:]}"


def client_labels(result: Mapping[str, Any]) -> dict[str, str]:
    """Map every address the result names to the label people read.

    A participant's chosen name (``result["names"]``, address → name) where the result has one,
    else its address in short form (:func:`short_address`), made longer where two addresses would
    share a short form. Matching ignores case, and each spelling found in the result is a key.
    """
    names = {str(a).lower(): str(n) for a, n in (result.get("names") or {}).items() if n}
    addresses = _addresses_in(result)
    unnamed = {a.lower() for a in addresses if a.lower() not in names}
    digits = 4
    while digits < 20 and len({short_address(a, digits=digits) for a in unnamed}) < len(unnamed):
        digits += 2
    return {
        address: names.get(address.lower()) or short_address(address, digits=digits)
        for address in addresses
    }


def participant_legend(result: Mapping[str, Any]) -> list[dict[str, str]]:
    """Who each label is: ``{"label", "address", "role"}`` per participant, clients first, then
    miners, then the requester, in the result's order (``role`` is ``client``, ``miner`` or
    ``requester``)."""
    labels = {a.lower(): label for a, label in client_labels(result).items()}
    legend: list[dict[str, str]] = []
    seen: set[str] = set()
    requester = [result["requester"]] if result.get("requester") else []
    for role, addresses in (
        ("client", result.get("clients") or ()),
        ("miner", result.get("miners") or ()),
        ("requester", requester),
    ):
        for address in addresses:
            if not isinstance(address, str) or address.lower() in seen:
                continue
            seen.add(address.lower())
            label = labels.get(address.lower(), short_address(address))
            legend.append({"label": label, "address": address, "role": role})
    return legend


def format_wei(value: int) -> str:
    """An amount in wei read in ETH, the one unit people see: ``0 ETH``, ``0.0123 ETH``,
    ``0.00000001 ETH`` (10 gwei), ``1,235 ETH``.

    Four significant digits are kept (all digits of the integer part), trailing zeros dropped,
    so the reading is never misleading by more than the last digit shown. Machine output
    (``--json``, ``result.json``, ``transactions.csv``) keeps integers in wei.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"an amount in wei must be an integer, got {value!r}")
    if value == 0:
        return "0 ETH"
    sign = "-" if value < 0 else ""
    return f"{sign}{_significant(Decimal(abs(value)).scaleb(-_ETH_DECIMALS))} ETH"


def _significant(amount: Decimal) -> str:
    """``amount`` (> 0) rounded to four significant digits, integer part kept whole."""
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
