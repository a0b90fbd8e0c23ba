"""Verification and aggregation rules: pure functions over arrays (no chain, no IPFS, no torch).

- :func:`multikrum` — Multi-KRUM with an exact, machine-independent selection (M7, 004);
- :func:`fedavg`, :func:`fedavg_state_dicts` — FedAvg weighted by sample count (003 eq. 5);
- :mod:`~fedchain.verification.contribution` — angles, ``e^(−θ)``, softmax weights (002 eq. 7-9);
- :func:`mutual_validation` — scores others gave each client, drop the worst (M13, 003);
- :func:`elect_leader` and the leader-rule registry — sortition order, PoQ (001 eq. 7),
  accuracy, contribution (M8);
- :func:`committee` — stake-weighted sortition from a public seed, as the contract draws it (M8);
- :func:`ring_schedule`, :func:`run_ring` — peer-to-peer ring training (M14, 002 Alg. 2);
- :func:`select_team`, :func:`team_eligible` — team formation (M12, 002 Alg. 1);
- :func:`verify` and the rule registry (``"multikrum"``, ``"none"``/``"fedavg"``,
  ``"mutual_validation"``).

torch tensors are accepted wherever arrays are (converted with ``.numpy()``; torch is never
imported here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedchain.lazy import lazy_exports

if TYPE_CHECKING:
    from fedchain.verification.contribution import (
        contribution_angles,
        contribution_bps,
        contribution_weights,
        weights_to_bps,
    )
    from fedchain.verification.errors import (
        ByzantineBoundError,
        NonFiniteUpdateError,
        ScoreMatrixError,
        ShapeMismatchError,
        UnknownRuleError,
        VerificationError,
        WeightError,
    )
    from fedchain.verification.fedavg import fedavg, fedavg_state_dicts
    from fedchain.verification.leader import elect_leader, poq_scores, register_leader_rule
    from fedchain.verification.multikrum import MultiKrumResult, multikrum
    from fedchain.verification.mutual import MutualValidationResult, mutual_validation
    from fedchain.verification.ring import Handover, ring_schedule, run_ring
    from fedchain.verification.rules import (
        Verdict,
        aggregate_accepted,
        available_rules,
        get_rule,
        register_rule,
        verify,
    )
    from fedchain.verification.sortition import committee
    from fedchain.verification.teams import select_team, team_eligible

__all__ = [
    "ByzantineBoundError",
    "Handover",
    "MultiKrumResult",
    "MutualValidationResult",
    "NonFiniteUpdateError",
    "ScoreMatrixError",
    "ShapeMismatchError",
    "UnknownRuleError",
    "Verdict",
    "VerificationError",
    "WeightError",
    "aggregate_accepted",
    "available_rules",
    "committee",
    "contribution_angles",
    "contribution_bps",
    "contribution_weights",
    "elect_leader",
    "fedavg",
    "fedavg_state_dicts",
    "get_rule",
    "multikrum",
    "mutual_validation",
    "poq_scores",
    "register_leader_rule",
    "register_rule",
    "ring_schedule",
    "run_ring",
    "select_team",
    "team_eligible",
    "verify",
    "weights_to_bps",
]

# Public name -> the module that defines it, imported on first use (PEP 562).
_EXPORTS: dict[str, str] = {
    "contribution_angles": "fedchain.verification.contribution",
    "contribution_bps": "fedchain.verification.contribution",
    "contribution_weights": "fedchain.verification.contribution",
    "weights_to_bps": "fedchain.verification.contribution",
    "ByzantineBoundError": "fedchain.verification.errors",
    "NonFiniteUpdateError": "fedchain.verification.errors",
    "ScoreMatrixError": "fedchain.verification.errors",
    "ShapeMismatchError": "fedchain.verification.errors",
    "UnknownRuleError": "fedchain.verification.errors",
    "VerificationError": "fedchain.verification.errors",
    "WeightError": "fedchain.verification.errors",
    "fedavg": "fedchain.verification.fedavg",
    "fedavg_state_dicts": "fedchain.verification.fedavg",
    "elect_leader": "fedchain.verification.leader",
    "poq_scores": "fedchain.verification.leader",
    "register_leader_rule": "fedchain.verification.leader",
    "MultiKrumResult": "fedchain.verification.multikrum",
    "multikrum": "fedchain.verification.multikrum",
    "MutualValidationResult": "fedchain.verification.mutual",
    "mutual_validation": "fedchain.verification.mutual",
    "Handover": "fedchain.verification.ring",
    "ring_schedule": "fedchain.verification.ring",
    "run_ring": "fedchain.verification.ring",
    "Verdict": "fedchain.verification.rules",
    "aggregate_accepted": "fedchain.verification.rules",
    "available_rules": "fedchain.verification.rules",
    "get_rule": "fedchain.verification.rules",
    "register_rule": "fedchain.verification.rules",
    "verify": "fedchain.verification.rules",
    "committee": "fedchain.verification.sortition",
    "select_team": "fedchain.verification.teams",
    "team_eligible": "fedchain.verification.teams",
}


# ``fedavg`` and ``multikrum`` share their modules' names, and importing a submodule binds the
# module on the package: whoever imported ``fedchain.verification.multikrum`` first would turn
# ``from fedchain.verification import multikrum`` into the module. Bind the functions now.
from fedchain.verification.fedavg import fedavg  # noqa: E402
from fedchain.verification.multikrum import multikrum  # noqa: E402

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
