"""EIP-712: the contract's hashes equal eth_account's, relayed batches record the signers, and a
signature made for another round, task or chain recovers to an address that is not a member."""

from __future__ import annotations

from eth_account import Account

from fedchain.chain import eip712
from fedchain.chain.testing import reverts
from fedchain.chain.verdicts import verdict_hash

from .conftest import RAW, World, digest


def test_typed_hashes_match_eth_account(world: World) -> None:
    chain_id, contract = world.chain.chain_id, world.tasks.address
    message = eip712.update_typed_data(
        chain_id=chain_id,
        verifying_contract=contract,
        task_id=7,
        round=2,
        digest=digest("x"),
        num_samples=60,
        codec=RAW,
    )
    assert world.tasks.hashUpdate(7, 2, digest("x"), 60, RAW) == eip712.typed_data_hash(message)
    join = eip712.join_typed_data(
        chain_id=chain_id, verifying_contract=contract, task_id=7, mortgage=123
    )
    assert world.tasks.hashJoin(7, 123) == eip712.typed_data_hash(join)
    att = eip712.attestation_typed_data(
        chain_id=chain_id,
        verifying_contract=contract,
        task_id=7,
        round=1,
        verdict_hash=b"\x05" * 32,
    )
    assert world.tasks.hashAttestation(7, 1, b"\x05" * 32) == eip712.typed_data_hash(att)
    verdict = world.verdict(7, 1, [0, 1], [1], weights=[0, 10_000])
    assert world.tasks.verdictHashOf(7, 1, verdict) == verdict_hash(7, 1, verdict)


def test_relayed_batch_records_signers_and_replays_are_not_members(world: World) -> None:
    task, _ = world.setup(clients=3, miners=1, committeeSize=1)
    other, _ = world.setup(clients=3, miners=1, committeeSize=1)
    c = world.clients
    good = [world.sign_update(c[0], task, 0), world.sign_update(c[1], task, 0, num_samples=7)]
    replays = [
        world.sign_update(c[2], task, 1),  # another round
        world.sign_update(c[2], other, 0),  # another task
        world.sign_update(c[2], task, 0, chain_id=world.chain.chain_id + 1),  # another chain
        world.sign_update(c[2], task, 0, contract=world.registry.address),  # another contract
    ]
    result = world.tasks.submitUpdatesBySig(task, 0, good + replays, sender=world.outsider)
    events = result.events_named("UpdateSubmitted")
    assert [e.args["client"] for e in events[:2]] == [c[0].address, c[1].address]
    assert events[1].args["numSamples"] == 7 and events[1].args["digest"] == good[1]["digest"]
    members = {a.address for a in c}
    for event in events[2:]:
        assert event.args["client"] not in members
        assert world.tasks.memberOf(task, event.args["client"]).role == 0
    # Python recovers the same signer the committee would check.
    assert (
        eip712.recover_update_signer(
            signed=good[0],
            chain_id=world.chain.chain_id,
            verifying_contract=world.tasks.address,
            task_id=task,
            round=0,
        )
        == c[0].address
    )


def test_bad_batches_revert(world: World) -> None:
    task, _ = world.setup(clients=2, miners=1, committeeSize=1)
    sig = world.sign_update(world.clients[0], task, 0)
    high_s = dict(
        sig, vs=(int.from_bytes(sig["vs"], "big") | (2**255 - 1 >> 1) + 2**254).to_bytes(32, "big")
    )
    with reverts("TaskManagerInvalidSignature", taskId=task, index=1):
        world.tasks.submitUpdatesBySig(task, 0, [sig, high_s], sender=world.outsider)
    with reverts("TaskManagerInvalidSignature", taskId=task, index=0):
        world.tasks.submitUpdatesBySig(task, 0, [dict(sig, r=b"\x00" * 32)], sender=world.outsider)
    with reverts("TaskManagerInvalidCodec", codec=0x71):
        world.tasks.submitUpdatesBySig(task, 0, [dict(sig, codec=0x71)], sender=world.outsider)
    with reverts("TaskManagerZeroSamples", taskId=task):
        world.tasks.submitUpdatesBySig(task, 0, [dict(sig, numSamples=0)], sender=world.outsider)
    with reverts("TaskManagerEmptyBatch", taskId=task):
        world.tasks.submitUpdatesBySig(task, 0, [], sender=world.outsider)
    with reverts("TaskManagerWrongRound", taskId=task, round=1, currentRound=0):
        world.tasks.submitUpdatesBySig(task, 1, [sig], sender=world.outsider)


def test_join_permits(world: World) -> None:
    task, spec = world.create()
    mortgage = spec["clientMortgage"]
    wrong = world.permit(world.clients[0], task, mortgage + 1)  # recovers a stranger
    stranger = Account.recover_message(
        eip712.encode_typed_data(
            full_message=eip712.join_typed_data(
                chain_id=world.chain.chain_id,
                verifying_contract=world.tasks.address,
                task_id=task,
                mortgage=mortgage,
            )
        ),
        vrs=(wrong["v"], wrong["r"], wrong["s"]),
    )
    with reverts("TaskManagerNotRegistered", account=stranger, role=1):
        world.tasks.joinClientsBySig(task, [wrong], sender=world.outsider)
    permit = world.permit(world.clients[0], task, mortgage)
    with reverts("TaskManagerAlreadyJoined", taskId=task, account=world.clients[0].address):
        world.tasks.joinClientsBySig(task, [permit, permit], sender=world.outsider)
    with reverts("TaskManagerInvalidSignature", taskId=task, index=0):
        world.tasks.joinClientsBySig(task, [dict(permit, v=29)], sender=world.outsider)
    with reverts("TaskManagerEmptyBatch", taskId=task):
        world.tasks.joinClientsBySig(task, [], sender=world.outsider)
    result = world.tasks.joinClientsBySig(task, [permit], sender=world.outsider)
    assert result.event("ClientJoined").args["client"] == world.clients[0].address


def test_relayed_attestations_must_come_from_distinct_members(world: World) -> None:
    task, _ = world.setup(clients=2, miners=4, committeeSize=4)
    world.submit(task, 0, [0, 1])
    committee = world.committee(task, 0)
    outsider_miner = next(m for m in world.miners if m not in committee)
    verdict = world.verdict(task, 0, [0, 1], [0, 1])
    for sigs, error in [
        (
            world.attestations(task, 0, verdict, [committee[1], committee[1]]),
            "TaskManagerAlreadyAttested",
        ),
        (world.attestations(task, 0, verdict, [committee[0]]), "TaskManagerAlreadyAttested"),
        (world.attestations(task, 0, verdict, [outsider_miner]), "TaskManagerNotCommitteeMember"),
        (world.attestations(task, 1, verdict, [committee[1]]), "TaskManagerNotCommitteeMember"),
    ]:
        with reverts(error):
            world.tasks.postVerdict(task, 0, verdict, sigs, sender=committee[0])
    # Quorum of 4 is 3: the leader plus two relayed signatures finalize at once.
    sigs = world.attestations(task, 0, verdict, committee[1:3])
    result = world.tasks.postVerdict(task, 0, verdict, sigs, sender=committee[0])
    assert len(result.events_named("VerdictAttested")) == 2
    assert result.events_named("RoundFinalized")
