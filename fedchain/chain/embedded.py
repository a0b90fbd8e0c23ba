"""The embedded chain: py-evm in-process behind web3's ``EthereumTesterProvider``.

eth-tester turns reverts into a message string, which loses a custom error's data; the backend
below keeps the raw revert data of the last failed ``eth_call`` (per thread) so the chain layer
can decode it into the named exception.
"""

from __future__ import annotations

import threading
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed
from web3 import EthereumTesterProvider, Web3

from fedchain.chain.errors import ChainError

__all__ = ["EMBEDDED_GAS_LIMIT", "EmbeddedBackend", "create_embedded"]

#: Block gas limit of the embedded chain (eth-tester's default is the London-era 30M, kept).
EMBEDDED_GAS_LIMIT = 30_029_122


class EmbeddedBackend(PyEVMBackend):
    """:class:`PyEVMBackend` that remembers the raw revert data of the last failed call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._revert = threading.local()
        super().__init__(*args, **kwargs)

    @property
    def last_revert_data(self) -> bytes | None:
        """Revert data of this thread's last failed ``call`` (None if it succeeded)."""
        return getattr(self._revert, "data", None)

    def call(self, transaction: Any, block_number: Any = "latest") -> Any:
        self._revert.data = None
        try:
            from eth_tester.backends.pyevm import main as pyevm_main

            defaulted = dict(transaction)
            defaulted.setdefault("gas", self._max_available_gas())
            unsigned = self._get_normalized_and_unsigned_evm_transaction(defaulted, block_number)
            spoof = pyevm_main.EVMSpoofTransaction(unsigned, from_=transaction["from"])
            computation = pyevm_main._execute_and_revert_transaction(
                self.chain, spoof, block_number
            )
        except (AttributeError, ImportError):  # eth-tester internals moved: plain behaviour
            return super().call(transaction, block_number)
        if computation.is_error:
            self._revert.data = bytes(computation.output or b"")
            raise TransactionFailed(str(computation._error))
        return computation.output


def create_embedded(
    *, accounts: int = 10, gas_limit: int = EMBEDDED_GAS_LIMIT
) -> tuple[Web3, EthereumTester, EmbeddedBackend, list[LocalAccount]]:
    """A fresh in-process chain with ``accounts`` funded development accounts (1M ether each)."""
    if accounts < 1:
        raise ChainError("the embedded chain needs at least one account")
    params = PyEVMBackend.generate_genesis_params(overrides={"gas_limit": gas_limit})
    state = PyEVMBackend.generate_genesis_state(num_accounts=accounts)
    backend = EmbeddedBackend(genesis_parameters=params, genesis_state=state)
    tester = EthereumTester(backend)
    w3 = Web3(EthereumTesterProvider(tester))
    keys = [Account.from_key(k.to_bytes()) for k in backend.account_keys]
    return w3, tester, backend, keys
