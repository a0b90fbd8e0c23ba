"""Security review of the contracts: attacks that must fail, and the one known gap.

Each test plays a suspected exploit against the real contracts (py-evm) and checks it is
refused or harmless: direct calls into the extension half, value entering through the
fallback, settling or withdrawing twice, attestations relayed for another task or round or by
non-members, malleated signatures, dirty calldata on the assembly fast path, slashing past the
stake, and a task stalled by its committee that must stay cancellable with every wei accounted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from eth_abi import encode
from eth_utils import keccak

from fedchain.chain import eip712
from fedchain.chain.errors import ChainError
from fedchain.chain.testing import SOLC_SETTINGS, find_project_root, reverts
from fedchain.chain.verdicts import verdict_hash
from fedchain.roles.taskfile import bound_request_key

from .conftest import RAW, SLASH_BPS, STATUS, World, digest

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def _selector(signature: str) -> bytes:
    return keccak(signature.encode())[:4]


def _attest(world: World, signer: Any, task: int, round: int, vhash: bytes) -> dict[str, Any]:
    return eip712.sign_attestation(
        account=signer,
        chain_id=world.chain.chain_id,
        verifying_contract=world.tasks.address,
        task_id=task,
        round=round,
        verdict_hash=vhash,
    )


def test_extension_refuses_every_direct_state_change(eworld: World) -> None:
    """The extension's state-changing functions revert unless delegated to by the manager."""
    w = eworld
    task, _ = w.create()
    ext = w.chain.at("TaskManagerExtension", w.d.extension)
    with reverts("TaskManagerExtensionDirectCall"):
        ext.joinAsMiner(task, 10**15, sender=w.miners[0], value=10**15)
    with reverts("TaskManagerExtensionDirectCall"):
        ext.startTask(task, sender=w.requester)
    with reverts("TaskManagerExtensionDirectCall"):
        ext.cancelTask(task, sender=w.requester)
    with reverts("TaskManagerExtensionDirectCall"):
        ext.publishPerturbedModel(task, digest("p"), RAW, sender=w.requester)
    assert w.chain.balance(w.d.extension) == 0
    # The same calls through the manager work on the manager's storage.
    w.tasks.cancelTask(task, sender=w.requester)
    assert int(w.tasks.taskInfo(task).status) == STATUS["Cancelled"]


def test_both_halves_share_one_storage_layout() -> None:
    """The extension runs by DELEGATECALL in the manager's storage: every variable it declares
    (TaskStorage's) sits at the manager's slot for it. The manager alone has EIP712's fallback
    strings after them (the extension verifies no signatures), so they cannot collide."""
    root = find_project_root()
    node = shutil.which("node")
    if root is None or node is None or not (root / "node_modules" / "solc").is_dir():
        pytest.skip("needs node and node_modules/solc")
    names = ["contracts/TaskManager.sol", "contracts/TaskManagerExtension.sol"]
    settings = {k: v for k, v in SOLC_SETTINGS.items() if k != "outputSelection"}
    request = {
        "language": "Solidity",
        "sources": {name: {"content": (root / name).read_text()} for name in names},
        "settings": dict(settings, outputSelection={"*": {"*": ["storageLayout"]}}),
    }
    proc = subprocess.run(
        [node, str(root / "scripts" / "solc_compile.js")],
        input=json.dumps(request).encode(), capture_output=True, cwd=root, timeout=300,
        check=True,
    )  # fmt: skip
    contracts = json.loads(proc.stdout)["contracts"]

    def layout(source: str, name: str) -> list[tuple[str, str, int, str]]:
        storage = contracts[source][name]["storageLayout"]["storage"]
        return [(v["label"], v["slot"], v["offset"], v["type"]) for v in storage]

    main = layout(names[0], "TaskManager")
    ext = layout(names[1], "TaskManagerExtension")
    assert len(ext) > 3 and main[: len(ext)] == ext
    assert [(v[0], v[3]) for v in main[len(ext) :]] == [
        ("_nameFallback", "t_string_storage"),
        ("_versionFallback", "t_string_storage"),
    ]
    assert int(main[len(ext)][1]) > max(int(v[1]) for v in ext)  # strictly after the shared part
    assert [v[0] for v in main[:3]] == ["_taskCount", "_accounts", "_states"]


def test_value_enters_only_through_payable_functions(eworld: World) -> None:
    """No receive: a plain transfer and value sent with a view selector both revert."""
    w = eworld
    before = w.chain.balance(w.tasks.address)
    with pytest.raises(ChainError):
        w.chain.send(sender=w.outsider, to=w.tasks.address, value=1, gas=100_000)
    with pytest.raises(ChainError):
        w.chain.send(
            sender=w.outsider, to=w.tasks.address, data=_selector("taskCount()"), value=1,
            gas=100_000,
        )  # fmt: skip
    with pytest.raises(ChainError):
        w.chain.send(
            sender=w.outsider, to=w.tasks.address, data=_selector("startTask(uint256)"), value=1,
            gas=100_000,
        )  # fmt: skip
    assert w.chain.balance(w.tasks.address) == before


def test_no_double_settlement_no_overdraft(world: World) -> None:
    """Settle twice, settle a duplicate in a batch, withdraw more than the balance: all revert."""
    task, _ = world.setup(clients=2, miners=1, committeeSize=1, rounds=1, clientMortgage=10**14)
    world.play(task, 0, [0, 1], [0, 1])
    c0, c1, m0 = world.clients[0].address, world.clients[1].address, world.miners[0].address
    first = world.tasks.settle(task, c0, sender=world.outsider)
    assert first.events_named("ClientSettled")
    with reverts("TaskManagerNotMember", taskId=task, account=c0):
        world.tasks.settle(task, c0, sender=world.outsider)
    with reverts("TaskManagerNotMember", taskId=task, account=c1):
        world.tasks.settleMany(task, [c1, c1], sender=world.outsider)
    last = world.tasks.settleMany(task, [c1, m0], sender=world.outsider)
    assert len(last.events_named("RequesterRefunded")) == 1
    assert world.tasks.taskPot(task) == 0
    with reverts("TaskManagerNotMember", taskId=task, account=m0):
        world.tasks.settle(task, m0, sender=world.outsider)
    balance = int(world.tasks.balanceOf(c0))
    with reverts("TaskManagerInsufficientBalance", account=c0, balance=balance):
        world.tasks.withdraw(balance + 1, sender=world.clients[0])
    world.tasks.withdraw(balance, sender=world.clients[0])
    assert world.tasks.balanceOf(c0) == 0
    assert world.chain.balance(world.tasks.address) == world.owed_total()


def test_attestations_bind_task_round_and_committee(eworld: World) -> None:
    """Relayed attestations for another round or task, by a non-member miner, by a client or by
    the leader itself never count towards the quorum."""
    w = eworld
    task, _ = w.create(committeeSize=3, rounds=2)
    other, _ = w.create(committeeSize=3, rounds=2)
    w.join(task, range(2), range(5))
    w.join(other, range(2), range(3))
    w.start(other)  # past both join deadlines
    w.until(lambda: w.start(task), lambda: w.distinct(task, 0))  # three different members
    w.submit(task, 0, [0, 1])
    leader, a, b = w.committee(task, 0)
    outsiders = [m for m in w.miners[:5] if m not in (leader, a, b)]
    verdict = w.verdict(task, 0, [0, 1], [0, 1])
    vhash = verdict_hash(task, 0, verdict)
    cases = [
        (_attest(w, a, task, 1, vhash), "TaskManagerNotCommitteeMember"),  # another round
        (_attest(w, a, other, 0, vhash), "TaskManagerNotCommitteeMember"),  # another task
        (_attest(w, a, task, 0, digest("x")), "TaskManagerNotCommitteeMember"),  # another hash
        (_attest(w, outsiders[0], task, 0, vhash), "TaskManagerNotCommitteeMember"),
        (_attest(w, w.clients[0], task, 0, vhash), "TaskManagerNotCommitteeMember"),
        (_attest(w, leader, task, 0, vhash), "TaskManagerAlreadyAttested"),
    ]
    for sig, error in cases:
        with reverts(error, taskId=task, round=0):
            w.tasks.postVerdict(task, 0, verdict, [sig], sender=leader)
    # A member's signature counts once: twice in one batch reverts.
    good = _attest(w, a, task, 0, vhash)
    with reverts("TaskManagerAlreadyAttested", account=a.address):
        w.tasks.postVerdict(task, 0, verdict, [good, good], sender=leader)
    # On-chain attestations: a non-member miner cannot attest, a member only once.
    w.tasks.postVerdict(task, 0, verdict, [], sender=leader)
    with reverts("TaskManagerNotCommitteeMember", account=outsiders[0].address):
        w.tasks.attestVerdict(task, 0, vhash, sender=outsiders[0])
    with reverts("TaskManagerAlreadyAttested", account=leader.address):
        w.tasks.attestVerdict(task, 0, vhash, sender=leader)
    result = w.tasks.attestVerdict(task, 0, vhash, sender=a)
    assert result.events_named("RoundFinalized")


def test_malleated_and_garbage_signatures_are_refused(eworld: World) -> None:
    """High-s join permits and zero-r signatures revert instead of recovering a second signer."""
    w = eworld
    task, spec = w.create(committeeSize=1)
    m = spec["clientMortgage"]
    permit = w.permit(w.clients[0], task, m)
    s = int.from_bytes(permit["s"], "big")
    flipped = dict(permit, v=55 - permit["v"], s=(SECP256K1_N - s).to_bytes(32, "big"))
    with reverts("TaskManagerInvalidSignature", taskId=task, index=0):
        w.tasks.joinClientsBySig(task, [flipped], sender=w.requester)
    w.tasks.joinClientsBySig(task, [permit], sender=w.requester)
    with reverts("TaskManagerAlreadyJoined", account=w.clients[0].address):
        w.tasks.joinClientsBySig(task, [permit], sender=w.requester)  # replayed permit
    w.join(task, clients=[1], miners=[0])
    w.start(task)
    update = w.sign_update(w.clients[0], task, 0)
    with reverts("TaskManagerInvalidSignature", taskId=task, index=0):
        w.tasks.submitUpdatesBySig(task, 0, [dict(update, r=b"\x00" * 32)], sender=w.outsider)
    leader = w.committee(task, 0)[0]
    w.submit(task, 0, [0, 1])
    verdict = w.verdict(task, 0, [0, 1], [0, 1])
    zero = {"r": b"\x00" * 32, "vs": b"\x00" * 32}
    with reverts("TaskManagerInvalidSignature", taskId=task, index=0):
        w.tasks.postVerdict(task, 0, verdict, [zero], sender=leader)


def test_fast_path_rejects_dirty_calldata(eworld: World) -> None:
    """The assembly fast path of submitUpdate sees only ABI-validated arguments: a round, sample
    count or codec with dirty upper bits reverts instead of aliasing a valid value."""
    w = eworld
    task, _ = w.setup(clients=2, miners=1, committeeSize=1)
    client = w.clients[0]
    selector = _selector("submitUpdate(uint256,uint64,bytes32,uint32,uint8)")

    def send(round: int, samples: int, codec: int) -> Any:
        words = encode(
            ["uint256", "uint256", "bytes32", "uint256", "uint256"],
            [task, round, digest("dirty"), samples, codec],
        )
        return w.chain.send(sender=client, to=w.tasks.address, data=selector + words, gas=200_000)

    clean = send(0, 10, RAW)  # control: the hand-encoded call is accepted
    args = clean.event("UpdateSubmitted").args
    assert (args["round"], args["numSamples"], args["codec"]) == (0, 10, RAW)
    for dirty in [(1 << 64, 10, RAW), (0, (1 << 32) | 10, RAW), (0, 10, 0x100 | RAW)]:
        with pytest.raises(ChainError):
            send(*dirty)


def test_a_stalled_task_is_always_cancellable_and_conserves_value(world: World) -> None:
    """A committee that never reaches quorum cannot lock the funds: after the last leader's
    window anyone cancels, every failed leader and silent seat is slashed, and settlement
    returns every wei (slashes are burned, none goes to the requester)."""
    stake = 10**15
    task, _ = world.create(committeeSize=3, rounds=3)
    world.join(task, range(3), range(3))
    world.start(task)
    # Round 1 needs three different members, so that one post cannot reach quorum alone.
    world.until(lambda: world.play(task, 0, [0, 1, 2], [0, 1]), lambda: world.distinct(task, 1))
    world.submit(task, 1, [0, 1, 2])
    committee = world.committee(task, 1)
    seat = {m.address: k for k, m in enumerate(committee)}
    burned = int(world.tasks.burnedStake())
    requester_before = int(world.tasks.balanceOf(world.requester.address))
    # Attempt 0 never posts; attempt 1 posts but nobody attests; attempt 2 never posts.
    world.chain.increase_time(201)
    first = world.tasks.replaceLeader(task, sender=world.outsider)
    assert [(e.args["miner"], e.args["reason"]) for e in first.events_named("StakeSlashed")] == [
        (committee[0].address, 1)  # no verdict
    ]
    verdict = world.verdict(task, 1, [0, 1, 2], [0])
    world.tasks.postVerdict(task, 1, verdict, [], sender=committee[1])
    with reverts("TaskManagerNotCancellable", taskId=task, status=STATUS["Running"]):
        world.tasks.cancelTask(task, sender=world.outsider)
    world.chain.increase_time(101)
    second = world.tasks.replaceLeader(task, sender=world.outsider)
    # It posted but failed: rejected; the two seats that never answered: silent.
    assert [(e.args["miner"], e.args["reason"]) for e in second.events_named("StakeSlashed")] == [
        (committee[1].address, 3),
        (committee[0].address, 4),
        (committee[2].address, 4),
    ]
    with reverts("TaskManagerVerdictWindowOpen", taskId=task, round=1):
        world.tasks.replaceLeader(task, sender=world.outsider)
    with reverts("TaskManagerNotCancellable", taskId=task, status=STATUS["Running"]):
        world.tasks.cancelTask(task, sender=world.outsider)
    world.chain.increase_time(101)
    with reverts("TaskManagerNoLeaderLeft", taskId=task, round=1):
        world.tasks.replaceLeader(task, sender=world.outsider)
    cancelled = world.tasks.cancelTask(task, sender=world.outsider)
    assert [
        (e.args["miner"], e.args["reason"]) for e in cancelled.events_named("StakeSlashed")
    ] == [
        (committee[2].address, 1)  # the last leader never posted
    ]
    with reverts("TaskManagerWrongStatus", taskId=task, status=STATUS["Cancelled"]):
        world.tasks.postVerdict(task, 1, verdict, [], sender=committee[2])
    index = {m.address: int(world.tasks.memberOf(task, m.address).index) for m in committee}
    offenses = {a: int(world.tasks.offensesOf(task, j)) for a, j in index.items()}
    assert [offenses[m.address] for m in committee] == [2, 1, 2]
    result = world.settle_all(task, range(3), range(3))
    miners = {e.args["miner"]: e.args for e in result.events_named("MinerSettled")}
    for m in committee:
        expected = min(stake, offenses[m.address] * stake * SLASH_BPS // 10_000)
        assert (miners[m.address]["slashed"], miners[m.address]["payout"]) == (
            expected, stake - expected,
        ), seat[m.address]  # fmt: skip
    slashed = sum(int(a["slashed"]) for a in miners.values())
    assert slashed == 2 * stake + stake // 2
    assert sum(int(a["slashed"]) + int(a["payout"]) for a in miners.values()) == 3 * stake
    assert int(world.tasks.burnedStake()) - burned == slashed
    burns = {e.args["miner"]: int(e.args["amount"]) for e in result.events_named("StakeBurned")}
    assert burns == {a: int(v["slashed"]) for a, v in miners.items() if int(v["slashed"])}
    # The requester gets back its escrow less what round 0 paid, nothing of the slashes.
    clients = result.events_named("ClientSettled")
    paid = sum(int(e.args["reward"]) for e in clients)
    dust = sum(int(e.args["penalty"]) - int(e.args["penaltyShare"]) for e in clients)
    refund = int(world.tasks.balanceOf(world.requester.address)) - requester_before
    assert refund == 3 * 10**15 - paid + dust
    assert world.tasks.taskPot(task) == 0
    assert world.chain.balance(world.tasks.address) == world.owed_total()


def test_slashing_never_exceeds_the_stake(eworld: World) -> None:
    """Repeated offenses saturate at the whole stake: payouts never go negative or revert."""
    w = eworld
    stake = 10**15
    rounds = 5
    mortgage = 5 * 10**14
    task, _ = w.setup(clients=1, miners=2, committeeSize=2, rounds=rounds, clientMortgage=mortgage)
    for r in range(rounds):
        w.submit(task, r, [0])
        committee = w.committee(task, r)
        w.chain.increase_time(201)
        w.tasks.replaceLeader(task, sender=w.outsider)  # seat 0 never posted: one offense
        verdict = w.verdict(task, r, [0], [0])
        # The next leader's post counts its seats; seat 0's miner attests unless it is the same.
        others = [m for m in dict.fromkeys(committee) if m != committee[1]]
        sigs = w.attestations(task, r, verdict, others)
        assert w.tasks.postVerdict(task, r, verdict, sigs, sender=committee[1]).events_named(
            "RoundFinalized"
        )
    offenses = [int(w.tasks.offensesOf(task, j)) for j in range(2)]
    assert sum(offenses) == rounds and max(offenses) >= 3
    index = {w.tasks.minerAt(task, j)[0]: j for j in range(2)}
    result = w.settle_all(task, [0], range(2))
    saturated = 0
    for e in result.events_named("MinerSettled"):
        j = index[e.args["miner"]]
        expected = min(stake, offenses[j] * stake * SLASH_BPS // 10_000)
        assert (e.args["slashed"], e.args["payout"]) == (expected, stake - expected)
        saturated += expected == stake
    assert saturated >= 1  # 3 offenses at 50 % each: capped at the stake
    assert w.tasks.taskPot(task) == 0
    assert w.chain.balance(w.tasks.address) == w.owed_total()


def test_the_served_perturbed_model_cannot_be_swapped(eworld: World) -> None:
    """The request cache serves the requester's perturbed model once published: a second
    publication (or a zero digest that would fall back to the final model and reopen the slot)
    reverts, so later identical requests get the model the first ones got."""
    w = eworld
    task, _ = w.setup(clients=1, miners=1, committeeSize=1, rounds=1, clientMortgage=10**14)
    w.play(task, 0, [0], [0])
    with reverts("ModelRegistryZeroDigest", taskId=task):
        w.tasks.publishPerturbedModel(task, b"\x00" * 32, RAW, sender=w.requester)
    first = digest("perturbed", task)
    w.tasks.publishPerturbedModel(task, first, RAW, sender=w.requester)
    key = w.models.requestKeyOf(task)
    assert w.models.cachedModel(key) == (task, first, RAW)
    with reverts("ModelRegistryPerturbedModelExists", taskId=task, digest=first):
        w.tasks.publishPerturbedModel(task, digest("swapped"), 0x70, sender=w.requester)
    assert w.models.cachedModel(key) == (task, first, RAW)


def test_a_strangers_task_cannot_answer_a_request_first(eworld: World) -> None:
    """M3: a stranger publishes a task with the requester's very request key and finishes it
    first. The registry files each task's key bound to its requester, so the stranger's answer
    fills only the stranger's own entry; the requester's entry stays empty until one of its own
    tasks finishes."""
    w = eworld
    key = digest("request")
    shape = {"committeeSize": 1, "rounds": 1, "clientMortgage": 10**14}
    spec = w.spec(**shape)
    created = w.tasks.createTask(
        spec, sender=w.outsider, value=spec["rounds"] * spec["perRoundReward"]
    )
    theirs = int(created.event("TaskCreated").args["taskId"])
    w.join(theirs, [0], [0], by_sig=False)
    w.start(theirs, sender=w.outsider)
    w.play(theirs, 0, [0], [0])
    mine_key, their_key = (bound_request_key(a.address, key) for a in (w.requester, w.outsider))
    assert w.models.requestKeyOf(theirs) == their_key != mine_key
    assert w.models.requestKeyOf(theirs) == keccak(encode(["address", "bytes32"],
                                                          [w.outsider.address, key]))  # fmt: skip
    assert w.models.cachedModel(their_key)[0] == theirs
    assert w.models.cachedModel(mine_key) == (0, bytes(32), 0)
    mine, _ = w.setup(clients=1, miners=1, **shape)
    w.play(mine, 0, [0], [0])
    final, codec = w.models.finalModel(mine)
    assert w.models.cachedModel(mine_key) == (mine, final, codec)
    assert w.models.cachedModel(their_key)[0] == theirs


def test_the_last_leader_that_never_posts_is_slashed(eworld: World) -> None:
    """A sole (or last) leader cannot stall a task for free: cancelling slashes it once."""
    w = eworld
    task, _ = w.setup(clients=2, miners=1, committeeSize=1, rounds=2)
    w.submit(task, 0, [0, 1])
    w.chain.increase_time(201)
    cancelled = w.tasks.cancelTask(task, sender=w.outsider)
    miner, stake = w.tasks.minerAt(task, 0)
    [slash] = cancelled.events_named("StakeSlashed")
    assert (slash.args["miner"], slash.args["round"], slash.args["reason"]) == (miner, 0, 1)
    assert slash.args["amount"] == stake * SLASH_BPS // 10_000
    assert w.tasks.offensesOf(task, 0) == 1


def test_a_last_leader_that_posted_without_quorum_is_slashed_on_cancel(eworld: World) -> None:
    """Posting a verdict the committee leaves short of quorum is no way out either: cancelling
    slashes the last leader as rejected (reason 3) and the seat that never answered it as
    silent (reason 4), as replaceLeader would."""
    w = eworld
    task, _ = w.create(committeeSize=2, rounds=2)
    w.join(task, range(2), range(2))
    w.until(lambda: w.start(task), lambda: w.distinct(task, 0))  # one post is not a quorum
    w.submit(task, 0, [0, 1])
    first, last = w.committee(task, 0)
    w.chain.increase_time(201)
    replaced = w.tasks.replaceLeader(task, sender=w.outsider)  # the first leader never posted
    assert [(e.args["miner"], e.args["reason"]) for e in replaced.events_named("StakeSlashed")] == [
        (first.address, 1)
    ]
    res = w.tasks.postVerdict(task, 0, w.verdict(task, 0, [0, 1], [0, 1]), [], sender=last)
    assert not res.events_named("RoundFinalized")  # 1 of 2 seats < quorum 2
    with reverts("TaskManagerNotCancellable", taskId=task, status=STATUS["Running"]):
        w.tasks.cancelTask(task, sender=w.outsider)  # its window is still open
    w.chain.increase_time(201)
    cancelled = w.tasks.cancelTask(task, sender=w.outsider)
    assert [
        (e.args["miner"], e.args["reason"]) for e in cancelled.events_named("StakeSlashed")
    ] == [
        (last.address, 3),
        (first.address, 4),
    ]
    index = {m.address: int(w.tasks.memberOf(task, m.address).index) for m in (first, last)}
    assert int(w.tasks.offensesOf(task, index[first.address])) == 2
    assert int(w.tasks.offensesOf(task, index[last.address])) == 1
