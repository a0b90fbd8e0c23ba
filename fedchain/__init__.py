"""FedChain: blockchain-verified federated learning for IoT data sharing.

Subpackages, following the layering of ``DESIGN.md``:

- :mod:`fedchain.learning` — data, models, local training with DP, attacks (no chain);
- :mod:`fedchain.verification` — FedAvg, Multi-KRUM, contribution, mutual validation (pure);
- :mod:`fedchain.storage` — Kubo-exact CIDs, local and Kubo stores, the safe tensor codec;
- :mod:`fedchain.chain` — connection, deployment, typed contract bindings, events (no torch);
- :mod:`fedchain.incentives` — Python mirror of the on-chain reputation / reward / penalty rules;
- :mod:`fedchain.cli` — the ``fedchain`` command.
"""

from fedchain.errors import FedChainError

__version__ = "0.1.0"

__all__ = ["FedChainError", "__version__"]
