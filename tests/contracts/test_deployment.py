"""Deployment wiring, the two-halves ABI, the registries' access control and profile errors."""

from __future__ import annotations

import dataclasses

import pytest

from fedchain.chain import load_artifact
from fedchain.chain.abi import entry_signature
from fedchain.chain.deploy import DEVNET_LIMITS, Deployment, DeploymentError, deploy_fedchain
from fedchain.chain.testing import reverts

from .conftest import CATEGORY, World, digest


def _signatures(name: str) -> set[str]:
    return {entry_signature(e) for e in load_artifact(name).abi if e["type"] == "function"}


def test_itaskmanager_abi_is_exactly_the_two_halves() -> None:
    main, ext, full = (
        _signatures("TaskManager"),
        _signatures("TaskManagerExtension"),
        _signatures("ITaskManager"),
    )
    assert not (main & ext) - {"eip712Domain()"}, "a selector must live in one half only"
    assert full <= main | ext
    assert (main | ext) - full <= {"extension()", "eip712Domain()"}


def test_deployment_file_roundtrip_and_checks(eworld: World) -> None:
    data = eworld.d.to_json()
    again = Deployment.from_json(eworld.chain, data)
    assert again.tasks.address == eworld.tasks.address and again.params == eworld.d.params
    assert eworld.tasks.registry() == eworld.registry.address
    assert eworld.tasks.models() == eworld.models.address
    assert eworld.tasks.slashBps() == 5_000
    with pytest.raises(DeploymentError, match="chain id"):
        Deployment.from_json(eworld.chain, dict(data, chain_id=1))
    with pytest.raises(DeploymentError, match="format"):
        Deployment.from_json(eworld.chain, dict(data, format="other"))
    with pytest.raises(DeploymentError):
        deploy_fedchain(eworld.chain, deployer=eworld.requester, threshold=101)
    # The 8-bit offense counter must reach the whole stake: slash_bps is 0 or at least 40.
    for bps in (1, 39, 10_001):
        with pytest.raises(DeploymentError, match="slash_bps"):
            deploy_fedchain(eworld.chain, deployer=eworld.requester, slash_bps=bps)
    with pytest.raises(DeploymentError, match="min_stake_floor"):
        deploy_fedchain(eworld.chain, deployer=eworld.requester,
                        limits=dataclasses.replace(DEVNET_LIMITS, min_stake_floor=0))  # fmt: skip
    for bps in (0, 40):
        assert deploy_fedchain(eworld.chain, deployer=eworld.requester,
                               slash_bps=bps).tasks.slashBps() == bps  # fmt: skip
    assert eworld.tasks.limits() == tuple(DEVNET_LIMITS.as_struct().values())
    assert eworld.d.params["slash_bps"] == 5_000


def test_extension_only_runs_through_the_manager(eworld: World) -> None:
    ext = eworld.chain.at("TaskManagerExtension", eworld.d.extension)
    with reverts("TaskManagerExtensionDirectCall"):
        ext.createTask(eworld.spec(), sender=eworld.requester, value=3 * 10**15)
    bounds = DEVNET_LIMITS.as_struct()

    def manager(slash_bps: int, limits: dict, extension: str = eworld.d.extension) -> None:
        eworld.chain.deploy("TaskManager", eworld.registry.address, eworld.models.address,
                            slash_bps, limits, extension, sender=eworld.requester)  # fmt: skip

    with reverts("TaskManagerInvalidDeployment", slashBps=1):
        manager(1, bounds)  # below 40 bps: 255 offenses would not reach the stake
    with reverts("TaskManagerInvalidDeployment", slashBps=5_000):
        manager(5_000, dict(bounds, minStakeFloor=10**13))  # the extension's limits differ
    with reverts("TaskManagerInvalidDeployment", slashBps=40):
        manager(40, bounds)  # the extension was deployed with 5,000 bps
    with reverts("TaskManagerInvalidDeployment", slashBps=5_000):
        manager(5_000, bounds, extension=eworld.outsider.address)  # no code there
    with reverts("TaskManagerInvalidDeployment", slashBps=5_000):
        manager(5_000, dict(bounds, minJoinWindow=0))
    manager(5_000, bounds)  # the same arguments as the extension's: accepted


def test_registry_access_and_profiles(world: World) -> None:
    reg, c0, stranger = world.registry, world.clients[0], world.outsider
    assert reg.gammaMax() == 100 and reg.threshold() == 5 and reg.baseCredits() == 0
    account = reg.accountOf(c0.address)
    assert account.roles == 1 and not hasattr(account, "reputation")
    # Reputation is per requester: h in every scope until a task of that requester settles.
    assert reg.reputationOf(c0.address, world.requester.address) == 5
    assert reg.reputationOf(c0.address, stranger.address) == 5
    assert reg.reputationOf(stranger.address, world.requester.address) == 0  # unregistered
    roles, reputation, has_category, samples = reg.eligibility(
        c0.address, CATEGORY, world.requester.address
    )
    assert (roles, reputation, has_category, samples) == (1, 5, True, 100)
    assert reg.sampleTotal(c0.address, CATEGORY) == 100
    with reverts("ParticipantRegistryAlreadyRegistered", participant=c0.address, role=1):
        reg.registerClient(sender=c0)
    with reverts("ParticipantRegistryNotClient", participant=stranger.address):
        reg.addDataProfile(
            {
                "category": CATEGORY,
                "dataType": digest("t"),
                "size": 1,
                "nameHash": digest("n"),
                "contentHash": digest("c"),
                "timestamp": 0,
                "location": digest("l"),
            },
            sender=stranger,
        )
    profile = {
        "category": CATEGORY,
        "dataType": digest("t"),
        "size": 1,
        "nameHash": digest("n"),
        "contentHash": digest("data", 0),
        "timestamp": 0,
        "location": digest("l"),
    }
    with reverts("ParticipantRegistryProfileExists", client=c0.address):
        reg.addDataProfile(profile, sender=c0)
    with reverts("ParticipantRegistryInvalidProfile", client=c0.address):
        reg.addDataProfile(dict(profile, size=0, contentHash=digest("z")), sender=c0)
    removed = reg.removeDataProfile(digest("data", 0), sender=c0)
    assert removed.event("DataProfileRemoved").args["category"] == CATEGORY
    assert reg.profileCount(c0.address, CATEGORY) == 0
    assert reg.sampleTotal(c0.address, CATEGORY) == 0
    with reverts("ParticipantRegistryUnknownProfile", client=c0.address):
        reg.removeDataProfile(digest("data", 0), sender=c0)
    with reverts("ParticipantRegistryNotTaskManager", caller=stranger.address):
        reg.applyTaskOutcome(1, world.requester.address, c0.address, 5, 1, 1, 0, sender=stranger)
    with reverts("ParticipantRegistryNotTaskManager", caller=stranger.address):
        reg.awardCredits(1, c0.address, 5, sender=stranger)
    with reverts("ParticipantRegistryNotDeployer", caller=stranger.address):
        reg.setTaskManager(stranger.address, sender=stranger)
    with reverts("ParticipantRegistryTaskManagerAlreadySet", taskManager=world.tasks.address):
        reg.setTaskManager(stranger.address, sender=world.requester)
    models = world.models
    with reverts("ModelRegistryNotTaskManager", caller=stranger.address):
        models.recordRoundModel(1, 0, digest("m"), 0x55, sender=stranger)
    with reverts("ModelRegistryNotDeployer", caller=stranger.address):
        models.setTaskManager(stranger.address, sender=stranger)
    with reverts("ModelRegistryTaskManagerAlreadySet"):
        models.setTaskManager(stranger.address, sender=world.requester)


def test_registry_constructor_and_fresh_wiring(eworld: World) -> None:
    chain, deployer = eworld.chain, eworld.requester
    with reverts("ParticipantRegistryInvalidParameters", gammaMax=10, threshold=11):
        chain.deploy("ParticipantRegistry", 10, 11, 0, sender=deployer)
    reg = chain.deploy("ParticipantRegistry", 10, 3, 7, sender=deployer)
    models = chain.deploy("ModelRegistry", sender=deployer)
    with reverts("ParticipantRegistryZeroTaskManager"):
        reg.setTaskManager("0x" + "00" * 20, sender=deployer)
    with reverts("ModelRegistryZeroTaskManager"):
        models.setTaskManager("0x" + "00" * 20, sender=deployer)
    reg.registerMiner(sender=deployer)
    reg.registerClient(sender=deployer)
    assert reg.accountOf(deployer.address).roles == 3 and reg.creditsOf(deployer.address) == 7
    assert reg.reputationOf(deployer.address, deployer.address) == 3
    assert reg.reputationOf(deployer.address, eworld.outsider.address) == 3
