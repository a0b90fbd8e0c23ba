"""ABI helpers: canonical types, selectors, and encoding/decoding with friendly Python values.

Python side conventions: ``uint``/``int`` -> ``int``, ``address`` -> checksummed ``str``,
``bytesN``/``bytes`` -> ``bytes`` (``0x``-hex strings are accepted as input), ``bool``,
``string`` -> ``str``, arrays -> ``list``, tuples (structs) -> ``dict`` keyed by component name
(inputs may also be tuples, NamedTuples or dicts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import eth_abi
from eth_abi.exceptions import DecodingError, EncodingError
from eth_utils import keccak, to_checksum_address

from fedchain.chain.errors import AbiArgumentError

__all__ = [
    "decode_values",
    "digest32",
    "encode_values",
    "entry_signature",
    "event_topic",
    "from_abi_value",
    "param_type",
    "selector",
    "to_abi_value",
]


def digest32(digest: bytes | str) -> bytes:
    """A 32-byte digest from bytes or a (``0x``-)hex string; ``ValueError`` for any other length."""
    raw = bytes.fromhex(digest.removeprefix("0x")) if isinstance(digest, str) else bytes(digest)
    if len(raw) != 32:
        raise ValueError(f"a model digest is 32 bytes, got {len(raw)}")
    return raw


def param_type(param: Mapping[str, Any]) -> str:
    """The canonical ABI type of one parameter: ``uint256``, ``(uint64,address)[]``..."""
    typ = str(param["type"])
    if typ.startswith("tuple"):
        inner = ",".join(param_type(c) for c in param.get("components", []))
        return f"({inner}){typ[len('tuple') :]}"
    return typ


def entry_signature(entry: Mapping[str, Any]) -> str:
    """``name(type1,type2)`` of a function, event or error ABI entry."""
    types = ",".join(param_type(p) for p in entry.get("inputs", []))
    return f"{entry['name']}({types})"


def selector(entry: Mapping[str, Any]) -> bytes:
    """The 4-byte selector of a function or error entry."""
    return keccak(text=entry_signature(entry))[:4]


def event_topic(entry: Mapping[str, Any]) -> bytes:
    """topic0 of an event entry (keccak of its signature)."""
    return keccak(text=entry_signature(entry))


def _array_dims(typ: str) -> tuple[str, str | None]:
    """Split ``T[3]`` into (``T``, ``"3"``); (``T``, None) when not an array."""
    if typ.endswith("]"):
        base, _, dim = typ[:-1].rpartition("[")
        return base, dim
    return typ, None


def to_abi_value(param: Mapping[str, Any], value: Any) -> Any:
    """Convert a friendly Python value into what ``eth_abi`` encodes for ``param``."""
    typ = str(param["type"])
    base, dim = _array_dims(typ)
    if dim is not None:
        if not isinstance(value, Sequence) or isinstance(value, str | bytes):
            raise AbiArgumentError(f"{param.get('name') or typ}: expected a list, got {value!r}")
        inner = dict(param, type=base)
        return [to_abi_value(inner, v) for v in value]
    if base == "tuple":
        components = param.get("components", [])
        if isinstance(value, Mapping):
            try:
                value = [value[c["name"]] for c in components]
            except KeyError as exc:
                raise AbiArgumentError(f"struct field {exc} missing in {value!r}") from None
        if not isinstance(value, Sequence) or len(value) != len(components):
            raise AbiArgumentError(
                f"{param.get('name') or 'tuple'}: expected {len(components)} fields, got {value!r}"
            )
        return tuple(to_abi_value(c, v) for c, v in zip(components, value, strict=True))
    if base.startswith("bytes"):
        if isinstance(value, str):
            try:
                value = bytes.fromhex(value.removeprefix("0x"))
            except ValueError:
                raise AbiArgumentError(f"{base}: not a hex string: {value!r}") from None
        if isinstance(value, bytearray | memoryview):
            value = bytes(value)
        size = base[len("bytes") :]
        if size and isinstance(value, bytes) and len(value) != int(size):
            raise AbiArgumentError(f"{base} needs exactly {size} bytes, got {len(value)}")
        return value
    if base == "address" and hasattr(value, "address"):  # a LocalAccount or a bound contract
        return value.address
    return value


def from_abi_value(param: Mapping[str, Any], value: Any) -> Any:
    """Convert a value decoded by ``eth_abi`` into the friendly Python form (see module doc)."""
    typ = str(param["type"])
    base, dim = _array_dims(typ)
    if dim is not None:
        inner = dict(param, type=base)
        return [from_abi_value(inner, v) for v in value]
    if base == "tuple":
        components = param.get("components", [])
        return {
            (c.get("name") or f"field{i}"): from_abi_value(c, v)
            for i, (c, v) in enumerate(zip(components, value, strict=True))
        }
    if base == "address":
        return to_checksum_address(value)
    return value


def encode_values(params: Sequence[Mapping[str, Any]], values: Sequence[Any]) -> bytes:
    """ABI-encode ``values`` for ``params`` (friendly Python values accepted)."""
    if len(values) != len(params):
        names = ", ".join(f"{param_type(p)} {p.get('name', '')}".strip() for p in params)
        raise AbiArgumentError(f"expected {len(params)} arguments ({names}), got {len(values)}")
    converted = [to_abi_value(p, v) for p, v in zip(params, values, strict=True)]
    try:
        return eth_abi.encode([param_type(p) for p in params], converted)
    except (EncodingError, TypeError, ValueError, OverflowError) as exc:
        raise AbiArgumentError(f"cannot ABI-encode arguments {values!r}: {exc}") from None


def decode_values(params: Sequence[Mapping[str, Any]], data: bytes) -> list[Any]:
    """ABI-decode ``data`` for ``params`` into friendly Python values (in order)."""
    try:
        raw = eth_abi.decode([param_type(p) for p in params], data)
    except (DecodingError, ValueError, OverflowError) as exc:
        raise AbiArgumentError(f"cannot ABI-decode 0x{data.hex()}: {exc}") from None
    return [from_abi_value(p, v) for p, v in zip(params, raw, strict=True)]


def decode_call(
    abi: Sequence[Mapping[str, Any]], data: bytes | str
) -> tuple[str, dict[str, Any]] | None:
    """``(function name, arguments by name)`` of call data against ``abi``, or None when its
    selector names no function of the ABI. Structs decode as dicts, addresses checksummed."""
    raw = (
        bytes.fromhex(data[2:] if data.startswith("0x") else data)
        if isinstance(data, str)
        else bytes(data)
    )
    if len(raw) < 4:
        return None
    entry = _functions_by_selector(abi).get(raw[:4])
    if entry is None:
        return None
    params = entry.get("inputs", [])
    values = decode_values(params, raw[4:])
    return str(entry["name"]), {
        (p.get("name") or f"arg{i}"): v for i, (p, v) in enumerate(zip(params, values, strict=True))
    }


_selector_tables: dict[int, tuple[Sequence[Mapping[str, Any]], dict[bytes, Mapping[str, Any]]]] = {}


def _functions_by_selector(abi: Sequence[Mapping[str, Any]]) -> dict[bytes, Mapping[str, Any]]:
    cached = _selector_tables.get(id(abi))
    if cached is not None and cached[0] is abi:
        return cached[1]
    table = {selector(e): e for e in abi if e.get("type") == "function"}
    _selector_tables[id(abi)] = (abi, table)
    return table
