"""Deploy the FedChain contracts and save or load a deployment file.

``deploy_fedchain`` deploys, in order: ParticipantRegistry(γmax, h, C_base), ModelRegistry,
TaskManagerExtension(registry, models, slashBps), TaskManager(registry, models, slashBps,
extension); then names the TaskManager in both registries (their only writer)::

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

__all__ = ["DEPLOYMENT_FORMAT", "Deployment", "DeploymentError", "deploy_fedchain"]

#: Version tag of the deployment file format.
DEPLOYMENT_FORMAT = "fedchain-deployment/1"


class DeploymentError(ChainError, ConfigError):
    """Bad deployment parameters, or a deployment file that does not match the chain."""


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
    """

    chain: Chain
    registry: BoundContract
    models: BoundContract
    tasks: BoundContract
    extension: str
    params: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Addresses, chain id and parameters, for a deployment file."""
        return {
            "format": DEPLOYMENT_FORMAT,
            "chain_id": self.chain.chain_id,
            "participant_registry": self.registry.address,
            "model_registry": self.models.address,
            "task_manager": self.tasks.address,
            "task_manager_extension": self.extension,
            "params": dict(self.params),
        }

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
            )
        except KeyError as exc:
            raise DeploymentError(f"deployment file lacks {exc.args[0]!r}") from None


def deploy_fedchain(
    chain: Chain,
    *,
    deployer: LocalAccount,
    gamma_max: int = 100,
    threshold: int = 5,
    base_credits: int = 0,
    slash_bps: int = 5_000,
) -> Deployment:
    """Deploy and wire ParticipantRegistry, ModelRegistry and TaskManager (+ its extension).

    Args:
        chain: where to deploy.
        deployer: pays for the deployment; the only account that may name the TaskManager.
        gamma_max: γmax of the M9 reputation rule (paper 004: 100).
        threshold: h, also the initial reputation (paper 004: 5); 0 ≤ h ≤ γmax.
        base_credits: C_base of M10b eq. 12, granted at registration.
        slash_bps: share of a miner's stake slashed per offense (basis points, ≤ 10,000).

    Raises:
        DeploymentError: parameters out of range.
    """
    if not 0 < gamma_max <= 0xFFFF or not 0 <= threshold <= gamma_max:
        raise DeploymentError(
            f"need 0 <= threshold <= gamma_max <= 65535, got {threshold}, {gamma_max}"
        )
    if not 0 <= slash_bps <= 10_000:
        raise DeploymentError(f"slash_bps must be in [0, 10000], got {slash_bps}")
    if base_credits < 0:
        raise DeploymentError(f"base_credits must be >= 0, got {base_credits}")
    registry = chain.deploy(
        "ParticipantRegistry", gamma_max, threshold, base_credits, sender=deployer
    )
    models = chain.deploy("ModelRegistry", sender=deployer)
    extension = chain.deploy(
        "TaskManagerExtension", registry.address, models.address, slash_bps, sender=deployer
    )
    manager = chain.deploy(
        "TaskManager", registry.address, models.address, slash_bps, extension.address,
        sender=deployer,
    )  # fmt: skip
    registry.setTaskManager(manager.address, sender=deployer)
    models.setTaskManager(manager.address, sender=deployer)
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
        },
    )
