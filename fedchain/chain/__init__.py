"""The chain layer: connections, transactions, typed contract bindings, events and gas accounting.

Knows nothing of torch: it speaks in digests, addresses and integers::

    from fedchain.chain import connect

    with connect("embedded") as chain:            # or "anvil", or an http(s) RPC URL
        alice = chain.dev_accounts(1)[0]
        tasks = chain.deploy("TaskManager", sender=alice)
        result = tasks.createTask(..., sender=alice, value=10**18)
        result.events, result.gas_used, chain.gas.by_label()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedchain.lazy import lazy_exports

if TYPE_CHECKING:
    from fedchain.chain import errors
    from fedchain.chain.anvil import DEFAULT_MNEMONIC, AnvilNode, find_anvil_binary
    from fedchain.chain.artifacts import (
        Artifact,
        all_artifacts,
        artifact_names,
        load_artifact,
        register_artifact,
    )
    from fedchain.chain.connection import Chain, connect, derive_accounts
    from fedchain.chain.contract import BoundContract
    from fedchain.chain.errors import (
        ChainConnectionError,
        ChainError,
        ContractError,
        PanicError,
        RevertError,
        TransactionError,
    )
    from fedchain.chain.events import DecodedEvent, decode_logs
    from fedchain.chain.gas import GasMeter, GasRecord
    from fedchain.chain.transact import TxResult

__all__ = [
    "DEFAULT_MNEMONIC",
    "AnvilNode",
    "Artifact",
    "BoundContract",
    "Chain",
    "ChainConnectionError",
    "ChainError",
    "ContractError",
    "DecodedEvent",
    "GasMeter",
    "GasRecord",
    "PanicError",
    "RevertError",
    "TransactionError",
    "TxResult",
    "all_artifacts",
    "artifact_names",
    "connect",
    "decode_logs",
    "derive_accounts",
    "errors",
    "find_anvil_binary",
    "load_artifact",
    "register_artifact",
]

# Public name -> the module that defines it, imported on first use (PEP 562).
_EXPORTS: dict[str, str] = {
    "errors": "fedchain.chain.errors",
    "DEFAULT_MNEMONIC": "fedchain.chain.anvil",
    "AnvilNode": "fedchain.chain.anvil",
    "find_anvil_binary": "fedchain.chain.anvil",
    "Artifact": "fedchain.chain.artifacts",
    "all_artifacts": "fedchain.chain.artifacts",
    "artifact_names": "fedchain.chain.artifacts",
    "load_artifact": "fedchain.chain.artifacts",
    "register_artifact": "fedchain.chain.artifacts",
    "Chain": "fedchain.chain.connection",
    "connect": "fedchain.chain.connection",
    "derive_accounts": "fedchain.chain.connection",
    "BoundContract": "fedchain.chain.contract",
    "ChainConnectionError": "fedchain.chain.errors",
    "ChainError": "fedchain.chain.errors",
    "ContractError": "fedchain.chain.errors",
    "PanicError": "fedchain.chain.errors",
    "RevertError": "fedchain.chain.errors",
    "TransactionError": "fedchain.chain.errors",
    "DecodedEvent": "fedchain.chain.events",
    "decode_logs": "fedchain.chain.events",
    "GasMeter": "fedchain.chain.gas",
    "GasRecord": "fedchain.chain.gas",
    "TxResult": "fedchain.chain.transact",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
