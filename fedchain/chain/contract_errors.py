"""One Python exception class per Solidity custom error found in the known ABIs.

Every ``error X(...)`` declared in any artifact under ``fedchain/contracts/`` (or registered with
:func:`fedchain.chain.artifacts.register_artifact`) becomes a subclass of
:class:`~fedchain.chain.errors.ContractError` named ``X``, importable as an attribute::

    from fedchain.chain.contract_errors import TaskManagerRoundClosed

    try:
        tasks.submitUpdate(...)
    except TaskManagerRoundClosed as err:
        err.error_args["deadline"]

Classes are created once and kept, so ``lookup("X")`` always returns the same class. Two errors
with the same name but different argument types get the second one suffixed with its selector.
"""

from __future__ import annotations

import threading
from typing import Any

from fedchain.chain import abi as abi_utils
from fedchain.chain.artifacts import all_artifacts, registry_version
from fedchain.chain.errors import (
    AbiArgumentError,
    ArtifactError,
    ContractError,
    PanicError,
    RevertError,
    UnknownRevertError,
)

__all__ = ["all_errors", "decode_revert", "lookup", "lookup_selector"]

_lock = threading.RLock()
_classes: dict[str, type[ContractError]] = {}  # key: signature
_by_selector: dict[bytes, type[ContractError]] = {}
_by_name: dict[str, type[ContractError]] = {"Error": RevertError, "Panic": PanicError}
_built_for: object = None


def _make_class(name: str, entry: dict[str, Any], doc: str) -> type[ContractError]:
    signature = abi_utils.entry_signature(entry)
    attrs = {
        "__module__": __name__,
        "__qualname__": name,
        "__doc__": doc or f"Solidity custom error ``{signature}``.",
        "error_name": entry["name"],
        "selector": abi_utils.selector(entry),
        "signature": signature,
        "abi": entry,
    }
    return type(name, (ContractError,), attrs)


def _ensure_built() -> None:
    global _built_for
    version = registry_version()
    if version == _built_for:
        return
    with _lock:
        if version == _built_for:
            return
        for artifact in all_artifacts():
            notices = artifact.userdoc.get("errors", {}) if artifact.userdoc else {}
            for entry in artifact.abi:
                if entry.get("type") != "error":
                    continue
                signature = abi_utils.entry_signature(entry)
                if signature in _classes:
                    continue
                name = str(entry["name"])
                if name in _by_name:  # same name, different argument types
                    name = f"{name}_{abi_utils.selector(entry).hex()}"
                docs = notices.get(signature) or []
                doc = docs[0].get("notice", "") if docs and isinstance(docs[0], dict) else ""
                cls = _make_class(name, entry, doc)
                _classes[signature] = cls
                _by_selector[cls.selector] = cls
                _by_name[name] = cls
        _built_for = version


def all_errors() -> dict[str, type[ContractError]]:
    """Every known contract error class by name (``Error`` and ``Panic`` included)."""
    _ensure_built()
    with _lock:
        return dict(_by_name)


def lookup(name: str) -> type[ContractError]:
    """The exception class for the Solidity error ``name``.

    Raises:
        ArtifactError: no known ABI declares an error of that name.
    """
    _ensure_built()
    with _lock:
        cls = _by_name.get(name)
    if cls is None:
        raise ArtifactError(
            f"no contract error named {name!r} in the known ABIs "
            f"(known: {', '.join(sorted(_by_name)) or 'none'})"
        )
    return cls


def lookup_selector(sel: bytes) -> type[ContractError] | None:
    """The custom error class with this 4-byte selector, or None."""
    _ensure_built()
    with _lock:
        return _by_selector.get(bytes(sel))


def decode_revert(data: bytes | None, *, context: str = "") -> ContractError:
    """Turn raw revert data into the matching named exception (not raised, returned)."""
    data = bytes(data or b"")
    sel, payload = data[:4], data[4:]
    try:
        if sel == RevertError.selector:
            (message,) = abi_utils.decode_values([{"type": "string"}], payload)
            return RevertError({"message": message}, data=data, context=context)
        if sel == PanicError.selector:
            (code,) = abi_utils.decode_values([{"type": "uint256"}], payload)
            return PanicError({"code": code}, data=data, context=context)
        cls = lookup_selector(sel) if len(sel) == 4 else None
        if cls is not None:
            inputs = cls.abi.get("inputs", [])  # type: ignore[attr-defined]
            values = abi_utils.decode_values(inputs, payload)
            args = {
                (p.get("name") or f"arg{i}"): v
                for i, (p, v) in enumerate(zip(inputs, values, strict=True))
            }
            return cls(args, data=data, context=context)
    except AbiArgumentError:  # malformed payload: report the raw data instead
        pass
    return UnknownRevertError(data=data, context=context)


def _rebuild(name: str, args: dict[str, Any], data: bytes, context: str) -> ContractError:
    """Unpickling helper (exceptions cross process boundaries in pytest-xdist and roles)."""
    try:
        cls = lookup(name)
    except ArtifactError:
        cls = UnknownRevertError
    return cls(args, data=data, context=context)


def __getattr__(name: str) -> type[ContractError]:
    if name.startswith("__"):
        raise AttributeError(name)
    try:
        return lookup(name)
    except ArtifactError as exc:
        raise AttributeError(str(exc)) from None


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(all_errors()))
