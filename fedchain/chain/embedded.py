"""The embedded chain: py-evm in-process behind web3's ``EthereumTesterProvider``.

eth-tester turns reverts into a message string, which loses a custom error's data; the backend
below keeps the raw revert data of the last failed ``eth_call`` (per thread) so the chain layer
can decode it into the named exception.

Every block's ``block.prevrandao`` is set before its transactions run (eth-tester leaves it zero
until it mines). With a ``seed`` the chain is reproducible: ``block.prevrandao`` is derived from
the seed and the block number (else it is random), the genesis timestamp is fixed and every
block is one second after its parent unless time travel moves it further (eth-tester follows the
wall clock). Committee draws and deadlines then replay exactly, which property tests need.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed
from eth_utils import ValidationError, keccak
from web3 import EthereumTesterProvider, Web3

from fedchain.chain.errors import ChainError

__all__ = ["DETERMINISTIC_GENESIS_TIMESTAMP", "EMBEDDED_GAS_LIMIT", "EmbeddedBackend",
           "create_embedded"]  # fmt: skip

#: Block gas limit of the embedded chain (eth-tester's default is the London-era 30M, kept).
EMBEDDED_GAS_LIMIT = 30_029_122
#: Genesis timestamp of a seeded embedded chain (2023-11-14T22:13:20Z).
DETERMINISTIC_GENESIS_TIMESTAMP = 1_700_000_000


class EmbeddedBackend(PyEVMBackend):
    """:class:`PyEVMBackend` that remembers the raw revert data of the last failed call."""

    def __init__(self, *args: Any, seed: int | None = None, **kwargs: Any) -> None:
        self._revert = threading.local()
        self._exec_lock = threading.RLock()
        self._vm_cache: tuple[bytes, Any, Any] | None = None
        self.seed = seed
        super().__init__(*args, **kwargs)
        self._prepare_pending_block()

    def _mix_hash(self, number: int) -> bytes:
        """PREVRANDAO of block ``number``: derived from the seed, or random without one."""
        if self.seed is None:
            return os.urandom(32)
        return keccak(self.seed.to_bytes(32, "big") + number.to_bytes(32, "big"))

    def _prepare_pending_block(self) -> None:
        """Give the pending block its PREVRANDAO before any transaction runs in it.

        eth-tester executes transactions in a pending header whose ``mix_hash`` is zero and only
        draws one when it mines, so contracts would read ``block.prevrandao == 0``. Seeded chains
        also pin the pending block one second after the head instead of wall-clock time.
        """
        head = self.chain.get_canonical_head()
        changes: dict[str, Any] = {"mix_hash": self._mix_hash(head.block_number + 1)}
        if self.seed is not None:
            changes["timestamp"] = head.timestamp + 1
        self.chain.header = self.chain.header.copy(**changes)

    def mine_blocks(self, num_blocks: int = 1, coinbase: Any = None) -> tuple[bytes, ...]:
        hashes = []
        for _ in range(num_blocks):
            # Mine with the PREVRANDAO the pending block's transactions already saw.
            kwargs: dict[str, Any] = {"mix_hash": self.chain.header.mix_hash}
            if coinbase is not None:
                kwargs["coinbase"] = coinbase
            pending = self.chain.get_block().transactions
            kwargs["blob_gas_used"] = sum(int(getattr(tx, "blob_gas", 0) or 0) for tx in pending)
            block = self.chain.mine_block(**kwargs)
            hashes.append(block.hash)
            self._prepare_pending_block()
        return tuple(hashes)

    def revert_to_snapshot(self, snapshot: Any) -> None:
        super().revert_to_snapshot(snapshot)
        self._prepare_pending_block()

    @property
    def last_revert_data(self) -> bytes | None:
        """Revert data of this thread's last failed ``call`` (None if it succeeded)."""
        return getattr(self._revert, "data", None)

    def _vm_at(self, block_number: Any) -> Any:
        """The VM of ``block_number``, cached for the latest block asked: building one (and its
        state) costs more than running a view, and a block's state never changes."""
        from eth_tester.backends.pyevm import main as pyevm_main

        block = pyevm_main._get_block_by_number(self.chain, block_number)
        cached = self._vm_cache
        if cached is not None and cached[0] == block.hash and cached[1] is self.chain:
            return cached[2]
        vm = self.chain.get_vm(at_header=block.header)
        self._vm_cache = (block.hash, self.chain, vm)
        return vm

    def _execute(self, transaction: Any, block_number: Any) -> Any:
        """Run ``transaction`` on top of ``block_number`` and throw the state away."""
        from eth_tester.backends.pyevm import main as pyevm_main

        with self._exec_lock:
            state = self._vm_at(block_number).state
            tx = dict(transaction)
            if "nonce" not in tx:
                tx["nonce"] = state.get_nonce(tx["from"])
            unsigned = self._get_normalized_and_unsigned_evm_transaction(tx, block_number)
            spoof = pyevm_main.EVMSpoofTransaction(unsigned, from_=tx["from"])
            snapshot = state.snapshot()
            try:
                computation = state.apply_transaction(spoof)
            finally:
                state.revert(snapshot)
        if computation.is_error:
            self._revert.data = bytes(computation.output or b"")
            raise TransactionFailed(str(computation._error))
        return computation

    def call(self, transaction: Any, block_number: Any = "latest") -> Any:
        self._revert.data = None
        defaulted = dict(transaction)
        defaulted.setdefault("gas", self._max_available_gas())
        try:
            computation = self._execute(defaulted, block_number)
        except (AttributeError, ImportError):  # eth-tester internals moved: plain behaviour
            return super().call(transaction, block_number)
        return computation.output

    def estimate_gas(self, transaction: Any, block_number: Any = "latest") -> int:
        """One execution with the whole block gas instead of eth-tester's binary search (13
        executions): the gas used before refunds, plus 1/64 for gas forwarded to nested calls.

        Callers add headroom (the chain layer adds 25% + 10,000); a revert raises as ``call``.
        """
        self._revert.data = None
        if block_number == "pending":
            block_number = "latest"
        budget = self._max_available_gas()
        try:
            computation = self._execute(dict(transaction, gas=budget), block_number)
        except (AttributeError, ImportError, ValidationError):
            # eth-tester internals moved, or the sender cannot prepay the whole block's gas:
            # eth-tester's own binary search (which also reports what the sender lacks).
            return int(super().estimate_gas(transaction, block_number))
        used = budget - int(computation.get_gas_remaining())
        return used + used // 63


def create_embedded(
    *, accounts: int = 10, gas_limit: int = EMBEDDED_GAS_LIMIT, seed: int | None = None
) -> tuple[Web3, EthereumTester, EmbeddedBackend, list[LocalAccount]]:
    """A fresh in-process chain with ``accounts`` funded development accounts (1M ether each);
    reproducible when ``seed`` is given (see the module docstring)."""
    if accounts < 1:
        raise ChainError("the embedded chain needs at least one account")
    overrides: dict[str, Any] = {"gas_limit": gas_limit}
    if seed is not None:
        overrides["timestamp"] = DETERMINISTIC_GENESIS_TIMESTAMP
    params = PyEVMBackend.generate_genesis_params(overrides=overrides)
    state = PyEVMBackend.generate_genesis_state(num_accounts=accounts)
    backend = EmbeddedBackend(genesis_parameters=params, genesis_state=state, seed=seed)
    tester = EthereumTester(backend)
    w3 = Web3(EthereumTesterProvider(tester))
    keys = [Account.from_key(k.to_bytes()) for k in backend.account_keys]
    return w3, tester, backend, keys
