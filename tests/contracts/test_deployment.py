"""Deployment wiring, the two-halves ABI, the registries' access control and profile errors."""

from __future__ import annotations

import pytest

from fedchain.chain import load_artifact
from fedchain.chain.abi import entry_signature
from fedchain.chain.deploy import Deployment, DeploymentError, deploy_fedchain
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


def test_extension_only_runs_through_the_manager(eworld: World) -> None:
    ext = eworld.chain.at("TaskManagerExtension", eworld.d.extension)
    with reverts("TaskManagerExtensionDirectCall"):
        ext.createTask(eworld.spec(), sender=eworld.requester, value=3 * 10**15)
    with reverts("TaskManagerInvalidDeployment"):
        eworld.chain.deploy(
            "TaskManager",
            eworld.registry.address,
            eworld.models.address,
            1,
            eworld.d.extension,
            sender=eworld.requester,
        )


def test_registry_access_and_profiles(world: World) -> None:
    reg, c0, stranger = world.registry, world.clients[0], world.outsider
    assert reg.gammaMax() == 100 and reg.threshold() == 5 and reg.baseCredits() == 0
    account = reg.accountOf(c0.address)
    assert (account.roles, account.reputation) == (1, 5)
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
    with reverts("ParticipantRegistryUnknownProfile", client=c0.address):
        reg.removeDataProfile(digest("data", 0), sender=c0)
    with reverts("ParticipantRegistryNotTaskManager", caller=stranger.address):
        reg.applyTaskOutcome(1, c0.address, 0, 1, 0, sender=stranger)
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
    assert reg.reputationOf(deployer.address) == 3
