"""Deploy the FedChain contracts and save or load a deployment file.

``deploy_fedchain`` deploys, in order: ParticipantRegistry(γmax, h, C_base), ModelRegistry,
TaskManagerExtension(registry, models, slashBps, limits), TaskManager(registry, models,
slashBps, limits, extension); then names the TaskManager in both registries (their only
writer) and deploys the ScoreBoard(TaskManager) of mutual supervision (M13). ``limits`` are
the protocol bounds every task must respect (:class:`Limits`)::

    from fedchain.chain import connect
    from fedchain.chain.deploy import deploy_fedchain, Deployment

    with connect("anvil") as chain:                      # or "embedded", or an RPC URL
        deployment = deploy_fedchain(chain, deployer=chain.dev_accounts(1)[0])
        Path("deployment.json").write_text(json.dumps(deployment.to_json()))
    ...
    deployment = Deployment.from_json(chain, json.loads(Path("deployment.json").read_text()))
    deployment.tasks.taskCount()

``Deployment.tasks`` is bound with the ``ITaskManager`` ABI: the TaskManager forwards what it
does not implement itself to its extension, so that one ABI covers both halves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount

from fedchain.chain.connection import Chain
from fedchain.chain.contract import BoundContract
from fedchain.chain.errors import ChainError
from fedchain.errors import ConfigError

__all__ = [
    "DEPLOYMENT_FORMAT",
    "DEVNET_LIMITS",
    "PRODUCTION_LIMITS",
    "Deployment",
    "DeploymentError",
    "Limits",
    "deploy_fedchain",
]

#: Version tag of the deployment file format.
DEPLOYMENT_FORMAT = "fedchain-deployment/1"


class DeploymentError(ChainError, ConfigError):
    """Bad deployment parameters, or a deployment file that does not match the chain."""


@dataclass(frozen=True)
class Limits:
    """Protocol bounds fixed at deployment (the contract's ``Limits``), the same for every task.

    They keep a requester from setting terms that cost others: a join window too short for
    honest miners to join (so its own sybils fill the committee), verdict windows too short for
    an honest leader to post or members to answer (so they are slashed), deadlines years away
    (hostage terms), or a stake floor so low that the committee's seats are free.

    Attributes:
        min_join_window: least seconds from creation to the join deadline.
        max_join_window: most seconds from creation to the join deadline.
        min_round_window: least submit and verdict window (seconds).
        max_round_window: most submit and verdict window (seconds).
        min_stake_floor: least ``minMinerStake`` a task may ask (wei).
    """

    min_join_window: int
    max_join_window: int
    min_round_window: int
    max_round_window: int
    min_stake_floor: int

    def check(self) -> None:
        """Raise :class:`DeploymentError` unless the bounds are consistent."""
        if not 0 < self.min_join_window <= self.max_join_window < 2**32:
            raise DeploymentError(f"need 0 < min_join_window <= max_join_window < 2^32: {self}")
        if not 0 < self.min_round_window <= self.max_round_window < 2**32:
            raise DeploymentError(f"need 0 < min_round_window <= max_round_window < 2^32: {self}")
        if self.min_stake_floor <= 0:
            raise DeploymentError(f"min_stake_floor must be positive: {self}")

    def as_struct(self) -> dict[str, int]:
        """The contract's ``Limits`` struct."""
        return {
            "minJoinWindow": self.min_join_window, "maxJoinWindow": self.max_join_window,
            "minRoundWindow": self.min_round_window, "maxRoundWindow": self.max_round_window,
            "minStakeFloor": self.min_stake_floor,
        }  # fmt: skip


#: Bounds for a public deployment: an hour to join, at least a minute per window, a week at
#: most; at least 0.01 ETH per miner.
PRODUCTION_LIMITS = Limits(
    min_join_window=3600, max_join_window=30 * 86400, min_round_window=60,
    max_round_window=7 * 86400, min_stake_floor=10**16,
)  # fmt: skip

#: Bounds for a local devnet and tests, where every participant is a process on one machine:
#: windows of a second are allowed, the stake floor is 10^12 wei.
DEVNET_LIMITS = Limits(
    min_join_window=1, max_join_window=30 * 86400, min_round_window=1,
    max_round_window=7 * 86400, min_stake_floor=10**12,
)  # fmt: skip


@dataclass
class Deployment:
    """The three FedChain contracts on one chain.

    Attributes:
        chain: the connection.
        registry: ParticipantRegistry binding.
        models: ModelRegistry binding.
        tasks: TaskManager bound with the full ``ITaskManager`` ABI.
        extension: address of the TaskManagerExtension (runs by DELEGATECALL).
        params: the deployment parameters (gamma_max, threshold, base_credits, slash_bps).
        deployed_block: the first block of the deployment: every event of its contracts comes
            at or after it, so readers of the logs (the audit, the explorer) start there.
        scores: the ScoreBoard binding (mutual supervision's score rows), or None for a
            deployment file written before it existed (such a deployment runs no mutual task).
    """

    chain: Chain
    registry: BoundContract
    models: BoundContract
    tasks: BoundContract
    extension: str
    params: dict[str, int] = field(default_factory=dict)
    deployed_block: int = 0
    scores: BoundContract | None = None

    def log_addresses(self, *, models: bool = False) -> list[str]:
        """The contracts a task's log reads (their events carry the task id first): the
        TaskManager, the ModelRegistry when ``models``, and the ScoreBoard when deployed."""
        found = [self.tasks.address]
        if models:
            found.append(self.models.address)
        if self.scores is not None:
            found.append(self.scores.address)
        return found

    def require_scores(self) -> BoundContract:
        """The ScoreBoard binding, or :class:`DeploymentError` when the deployment lacks it."""
        if self.scores is None:
            raise DeploymentError(
                "this deployment has no ScoreBoard (score_board in the deployment file): "
                "redeploy to run a task in mutual mode"
            )
        return self.scores

    def to_json(self) -> dict[str, Any]:
        """Addresses, chain id and parameters, for a deployment file."""
        data: dict[str, Any] = {
            "format": DEPLOYMENT_FORMAT,
            "chain_id": self.chain.chain_id,
            "participant_registry": self.registry.address,
            "model_registry": self.models.address,
            "task_manager": self.tasks.address,
            "task_manager_extension": self.extension,
            "params": dict(self.params),
            "deployed_block": self.deployed_block,
        }
        if self.scores is not None:
            data["score_board"] = self.scores.address
        return data

    @classmethod
    def from_json(cls, chain: Chain, data: dict[str, Any]) -> Deployment:
        """Bind a deployment file's contracts on ``chain``.

        Raises:
            DeploymentError: wrong format, another chain id, or missing fields.
        """
        if data.get("format") != DEPLOYMENT_FORMAT:
            raise DeploymentError(f"not a {DEPLOYMENT_FORMAT} file (format={data.get('format')!r})")
        if int(data.get("chain_id", -1)) != chain.chain_id:
            raise DeploymentError(
                f"the deployment is for chain id {data.get('chain_id')}, "
                f"connected to {chain.chain_id}"
            )
        try:
            return cls(
                chain=chain,
                registry=chain.at("ParticipantRegistry", data["participant_registry"]),
                models=chain.at("ModelRegistry", data["model_registry"]),
                tasks=chain.at("ITaskManager", data["task_manager"]),
                extension=str(data["task_manager_extension"]),
                params={k: int(v) for k, v in dict(data.get("params", {})).items()},
                deployed_block=_first_block(data.get("deployed_block", 0)),
                scores=chain.at("ScoreBoard", data["score_board"])
                if data.get("score_board")
                else None,
            )
        except KeyError as exc:
            raise DeploymentError(f"deployment file lacks {exc.args[0]!r}") from None


def _first_block(recorded: Any) -> int:
    """The deployment's block from a deployment file: a number, or the devnet's
    ``{"number", "hash"}`` record of it."""
    if isinstance(recorded, dict):
        recorded = recorded.get("number", 0)
    try:
        return max(0, int(recorded))
    except (TypeError, ValueError):
        raise DeploymentError(f"deployed_block {recorded!r} is not a block number") from None


def deploy_fedchain(
    chain: Chain,
    *,
    deployer: LocalAccount,
    gamma_max: int = 100,
    threshold: int = 5,
    base_credits: int = 0,
    slash_bps: int = 5_000,
    limits: Limits = DEVNET_LIMITS,
) -> Deployment:
    """Deploy and wire ParticipantRegistry, ModelRegistry and TaskManager (+ its extension).

    Args:
        chain: where to deploy.
        deployer: pays for the deployment; the only account that may name the TaskManager.
        gamma_max: γmax of the M9 reputation rule (paper 004: 100).
        threshold: h, also the initial reputation (paper 004: 5); 0 ≤ h ≤ γmax.
        base_credits: C_base of M10b eq. 12, granted at registration.
        slash_bps: share of a miner's stake slashed per offense (basis points: 0, or 40 to
            10,000, so that the 8-bit offense counter reaches the whole stake before it stops).
        limits: the protocol bounds (:data:`PRODUCTION_LIMITS` for a public chain).

    Raises:
        DeploymentError: parameters out of range.
    """
    if not 0 < gamma_max <= 0xFFFF or not 0 <= threshold <= gamma_max:
        raise DeploymentError(
            f"need 0 <= threshold <= gamma_max <= 65535, got {threshold}, {gamma_max}"
        )
    if not (slash_bps == 0 or 40 <= slash_bps <= 10_000):
        raise DeploymentError(f"slash_bps must be 0 or in [40, 10000], got {slash_bps}")
    limits.check()
    if base_credits < 0:
        raise DeploymentError(f"base_credits must be >= 0, got {base_credits}")
    first_block = chain.block_number() + 1
    registry = chain.deploy(
        "ParticipantRegistry", gamma_max, threshold, base_credits, sender=deployer
    )
    models = chain.deploy("ModelRegistry", sender=deployer)
    bounds = limits.as_struct()
    extension = chain.deploy(
        "TaskManagerExtension", registry.address, models.address, slash_bps, bounds,
        sender=deployer,
    )  # fmt: skip
    manager = chain.deploy(
        "TaskManager", registry.address, models.address, slash_bps, bounds, extension.address,
        sender=deployer,
    )  # fmt: skip
    registry.setTaskManager(manager.address, sender=deployer)
    models.setTaskManager(manager.address, sender=deployer)
    scores = chain.deploy("ScoreBoard", manager.address, sender=deployer)
    return Deployment(
        chain=chain,
        registry=registry,
        models=models,
        tasks=chain.at("ITaskManager", manager.address),
        extension=extension.address,
        params={
            "gamma_max": gamma_max,
            "threshold": threshold,
            "base_credits": base_credits,
            "slash_bps": slash_bps,
            **{f"limit_{k}": v for k, v in vars(limits).items()},
        },
        deployed_block=first_block,
        scores=scores,
    )
