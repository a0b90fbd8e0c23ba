"""The chain layer: connections, transactions, typed contract bindings, events and gas accounting.

Knows nothing of torch: it speaks in digests, addresses and integers::

    from fedchain.chain import connect

    with connect("embedded") as chain:            # or "anvil", or an http(s) RPC URL
        alice = chain.dev_accounts(1)[0]
        tasks = chain.deploy("TaskManager", sender=alice)
        result = tasks.createTask(..., sender=alice, value=10**18)
        result.events, result.gas_used, chain.gas.by_label()
"""

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
