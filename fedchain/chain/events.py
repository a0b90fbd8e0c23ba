"""Decode logs against every known ABI (by topic0) into :class:`DecodedEvent` records."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address

from fedchain.chain import abi as abi_utils
from fedchain.chain.artifacts import all_artifacts, registry_version
from fedchain.chain.errors import AbiArgumentError

__all__ = ["DecodedEvent", "decode_log", "decode_logs", "event_entries", "topic_filters"]


@dataclass(frozen=True)
class DecodedEvent:
    """One decoded log.

    Attributes:
        name: the event name (``"UpdateSubmitted"``).
        args: the event's arguments keyed by ABI name (indexed dynamic values are their keccak).
        address: the emitting contract (checksummed).
        tx_hash: ``0x``-hex transaction hash.
        block_number: the block it was mined in.
        log_index: its index within the block.
    """

    name: str
    args: dict[str, Any]
    address: str
    tx_hash: str
    block_number: int
    log_index: int
    signature: str = field(default="", compare=False)

    def __getitem__(self, key: str) -> Any:
        return self.args[key]

    @property
    def sort_key(self) -> tuple[int, int]:
        """(block_number, log_index): the chain's order."""
        return self.block_number, self.log_index


_lock = threading.RLock()
_by_topic: dict[tuple[bytes, int], dict[str, Any]] = {}
_by_name: dict[str, list[dict[str, Any]]] = {}
_built_for: object = None


def _ensure_built() -> None:
    global _built_for
    version = registry_version()
    if version == _built_for:
        return
    with _lock:
        _by_topic.clear()
        _by_name.clear()
        for artifact in all_artifacts():
            for entry in artifact.abi:
                if entry.get("type") != "event" or entry.get("anonymous"):
                    continue
                n_indexed = sum(1 for p in entry.get("inputs", []) if p.get("indexed"))
                key = (abi_utils.event_topic(entry), 1 + n_indexed)
                if key not in _by_topic:
                    _by_topic[key] = entry
                    _by_name.setdefault(str(entry["name"]), []).append(entry)
        _built_for = version


def event_entries(
    name: str, abi: Sequence[Mapping[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """ABI entries of events called ``name`` (from ``abi`` if given, else from all known ABIs)."""
    if abi is not None:
        return [dict(e) for e in abi if e.get("type") == "event" and e.get("name") == name]
    _ensure_built()
    with _lock:
        return list(_by_name.get(name, []))


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if hasattr(value, "hex") and not isinstance(value, str):
        return bytes(value)
    return bytes.fromhex(str(value).removeprefix("0x"))


def _hex(value: Any) -> str:
    return "0x" + _as_bytes(value).hex()


def _decode_with(entry: Mapping[str, Any], topics: list[bytes], data: bytes) -> dict[str, Any]:
    inputs = entry.get("inputs", [])
    indexed = [p for p in inputs if p.get("indexed")]
    plain = [p for p in inputs if not p.get("indexed")]
    values: dict[str, Any] = {}
    for param, topic in zip(indexed, topics[1:], strict=True):
        typ = abi_utils.param_type(param)
        dynamic = typ in ("string", "bytes") or typ.endswith("]") or typ.startswith("(")
        if dynamic:  # only the keccak of the value is in the topic
            values[param["name"]] = topic
        else:
            (values[param["name"]],) = abi_utils.decode_values([param], topic)
    for param, value in zip(plain, abi_utils.decode_values(plain, data), strict=True):
        values[param["name"]] = value
    return {p["name"]: values[p["name"]] for p in inputs}


def decode_log(log: Mapping[str, Any]) -> DecodedEvent | None:
    """Decode one log (a receipt log or a ``get_logs`` entry); None if no known ABI matches."""
    topics = [_as_bytes(t) for t in log.get("topics", [])]
    if not topics:
        return None
    _ensure_built()
    with _lock:
        entry = _by_topic.get((topics[0], len(topics)))
    if entry is None:
        return None
    try:
        args = _decode_with(entry, topics, _as_bytes(log.get("data", b"")))
    except (AbiArgumentError, ValueError):
        return None
    return DecodedEvent(
        name=str(entry["name"]),
        args=args,
        address=to_checksum_address(log["address"]),
        tx_hash=_hex(log["transactionHash"]),
        block_number=int(log["blockNumber"]),
        log_index=int(log["logIndex"]),
        signature=abi_utils.entry_signature(entry),
    )


def decode_logs(logs: Iterable[Mapping[str, Any]]) -> list[DecodedEvent]:
    """Decode every recognised log, ordered by (block, log index); unknown logs are skipped."""
    decoded = [event for event in map(decode_log, logs) if event is not None]
    decoded.sort(key=lambda e: e.sort_key)
    return decoded


def topic_filters(entry: Mapping[str, Any], filters: Mapping[str, Any] | None) -> list[Any]:
    """``eth_getLogs`` topics for an event entry, matching indexed arguments to ``filters``.

    A filter value may be a single value or a list of alternatives.
    """
    topics: list[Any] = ["0x" + abi_utils.event_topic(entry).hex()]
    filters = dict(filters or {})
    indexed = [p for p in entry.get("inputs", []) if p.get("indexed")]
    for param in indexed:
        if param["name"] not in filters:
            topics.append(None)
            continue
        wanted = filters.pop(param["name"])
        options = wanted if isinstance(wanted, list | tuple) else [wanted]
        encoded = ["0x" + abi_utils.encode_values([param], [v]).hex() for v in options]
        topics.append(encoded[0] if len(encoded) == 1 else encoded)
    if filters:
        names = ", ".join(p["name"] for p in indexed) or "none"
        raise AbiArgumentError(
            f"event {entry['name']} has no indexed argument(s) {sorted(filters)}; indexed: {names}"
        )
    while topics and topics[-1] is None:
        topics.pop()
    return topics
