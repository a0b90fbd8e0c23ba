"""The TOML task file: defaults, round trips, every validation error, the manifest, and a
``createTask`` on the embedded chain that accepts what :meth:`TaskFile.onchain_spec` builds."""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak

from fedchain.errors import ConfigError
from fedchain.learning import PrivacyConfig, make_spec
from fedchain.roles.taskfile import (
    DEFAULT_TASK_TOML,
    TaskFile,
    TaskFileError,
    TaskManifest,
    TrainingConfig,
    VerificationConfig,
    category_id,
    format_wei,
    load_task_file,
    parse_wei,
)

GWEI, ETHER = 10**9, 10**18


def write(tmp_path: Path, text: str, name: str = "task.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str) -> TaskFile:
    return load_task_file(write(tmp_path, text))


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(TaskFileError) as info:
        load_text(tmp_path, text)
    message = str(info.value)
    assert message.startswith(str(tmp_path / "task.toml") + ": ") and "\n" not in message
    return message.removeprefix(str(tmp_path / "task.toml") + ": ")


# -- defaults and round trips -----------------------------------------------------------------


def test_the_default_file_loads_with_the_documented_values(tmp_path: Path) -> None:
    tf = load_text(tmp_path, DEFAULT_TASK_TOML)
    assert (tf.name, tf.category, tf.dataset) == ("digits-demo", "digits", "digits")
    assert (tf.rounds, tf.max_clients, tf.committee_size, tf.byzantine_f) == (5, 10, 3, 2)
    assert (tf.min_reputation, tf.join_window, tf.submit_window, tf.verdict_window) == (
        0, 600, 120, 120,
    )  # fmt: skip
    assert (tf.policy, tf.policy_id, tf.reward_unit) == ("reputation", 0, GWEI)
    assert tf.per_round_reward == GWEI * 100 * 10 and tf.escrow == 5 * GWEI * 100 * 10
    assert tf.client_mortgage == tf.min_miner_stake == ETHER // 100
    assert tf.min_total_stake == 0
    assert tf.model == make_spec("cnn_digits", norm="bounded", norm_batch=16)
    assert tf.model_seed == 0
    assert tf.training == TrainingConfig(epochs=5, batch_size=16, lr=0.05, momentum=0.5)
    assert tf.privacy == PrivacyConfig.create("feature_dp", epsilon=2.0)
    assert tf.verification == VerificationConfig("multikrum", 1e-4, True)


def test_a_bare_task_section_gets_the_same_defaults(tmp_path: Path) -> None:
    full = load_text(tmp_path, DEFAULT_TASK_TOML)
    bare = load_text(tmp_path, "[task]\n")
    assert bare.name == "fedchain-task" and bare.category == "digits"
    assert bare == TaskFile(**{**full.__dict__, "name": "fedchain-task"})
    # the category defaults to the data set's name
    assert load_text(tmp_path, '[task]\n[data]\ndataset = "mnist"\n').category == "mnist"


def test_to_toml_round_trips(tmp_path: Path) -> None:
    text = """
[task]
name = "odd \\"name\\" ü\\n"
category = "sensors/eu"
rounds = 7
max_clients = 200
committee_size = 16
byzantine_f = 99
min_reputation = 65535
join_window = 4294967295
submit_window = 1
verdict_window = 3600

[rewards]
policy = "contribution"
reward_unit = 123
per_round_reward = "1.000000000000000001 ether"
client_mortgage = "0.007 ether"
min_miner_stake = "1500000001 wei"
min_total_stake = "0.005 ether"

[model]
name = "cnn004"
seed = 9223372036854775807
params = { norm = "batch", hidden = [8, 8] }

[data]
dataset = "mnist"

[training]
epochs = 1
batch_size = 1
lr = 1
momentum = 0

[privacy]
mechanism = "dp_sgd"
noise_multiplier = 1.1
max_grad_norm = 1.0

[verification]
rule = "none"
tolerance = 0
screen_stale = false
"""
    tf = load_text(tmp_path, text)
    assert tf.per_round_reward == ETHER + 1 and tf.client_mortgage == 7 * 10**15
    assert tf.min_miner_stake == 1_500_000_001 and tf.model.params["hidden"] == [8, 8]
    assert tf.min_total_stake == 5 * 10**15
    assert tf.privacy is not None and tf.privacy.mechanism == "dp_sgd"
    again = load_text(tmp_path, tf.to_toml())
    assert again == tf and again.to_toml() == tf.to_toml()
    # no privacy at all round-trips as mechanism = "none"
    plain = load_text(tmp_path, '[task]\n[privacy]\nmechanism = "none"\n')
    assert plain.privacy is None
    assert load_text(tmp_path, plain.to_toml()) == plain
    assert load_text(tmp_path, load_text(tmp_path, DEFAULT_TASK_TOML).to_toml()) == load_text(
        tmp_path, DEFAULT_TASK_TOML
    )


# -- wei --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "wei"),
    [
        (12, 12),
        ("12", 12),
        ("12 wei", 12),
        ("1 gwei", GWEI),
        ("1.5 GWEI", 1_500_000_000),
        ("0.01 ether", 10**16),
        (" 3  ether ", 3 * ETHER),
        ("340282366920938463463.374607431768211455 ether", 2**128 - 1),
        (0, 0),
    ],
)
def test_parse_wei_is_exact(value: int | str, wei: int) -> None:
    assert parse_wei(value, what="x") == wei


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (-1, "must be >= 0"),
        (True, "got boolean"),
        (0.5, "got float"),
        ("1.5 wei", "not a whole number of wei"),
        ("0.0000000001 gwei", "not a whole number of wei"),
        ("1 eth", "unknown unit 'eth'"),
        ("-1 ether", "is not an amount"),
        ("1e18", "is not an amount"),
        ("one ether", "is not an amount"),
        ("1 gwei extra", "is not an amount"),
        ("", "is not an amount"),
    ],
)
def test_parse_wei_rejects(value: Any, problem: str) -> None:
    with pytest.raises(TaskFileError) as info:
        parse_wei(value, what="[rewards] reward_unit")
    assert str(info.value).startswith("[rewards] reward_unit: ") and problem in str(info.value)


@pytest.mark.parametrize(
    "wei", [0, 1, 999, GWEI, 5 * GWEI, 10**15, 10**16, ETHER, ETHER + GWEI, 12345 * ETHER, 2**128]
)
def test_format_wei_reads_back(wei: int) -> None:
    assert parse_wei(format_wei(wei), what="x") == wei


def test_format_wei_units() -> None:
    assert [format_wei(v) for v in (12, GWEI, 10**16, 1000 * ETHER)] == [
        "12 wei", "1 gwei", "0.01 ether", "1000 ether",
    ]  # fmt: skip


# -- validation errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # unknown sections and keys, naming the allowed ones
        ("[task]\n[tasks]\n", "[tasks]: unknown section; allowed: [task], [rewards]"),
        ("[task]\nrouns = 3\n", "[task] rouns: unknown key; allowed: byzantine_f, category"),
        ("[task]\n[rewards]\nfee = 1\n", "[rewards] fee: unknown key; allowed: client_mortgage"),
        ("[task]\n[model]\nlayers = 1\n", "[model] layers: unknown key; allowed: name, params"),
        ("[data]\n", "[task]: missing"),
        ("task = 1\n", "[task]: must be a table, got integer"),
        # types (a boolean is not an integer)
        ('[task]\nrounds = "5"\n', "[task] rounds: must be an integer, got string"),
        ("[task]\nrounds = true\n", "[task] rounds: must be an integer, got boolean"),
        ("[task]\nrounds = 5.0\n", "[task] rounds: must be an integer, got float"),
        ("[task]\nname = 3\n", "[task] name: must be a string, got integer"),
        ('[task]\nname = " "\n', "[task] name: must not be empty"),
        ("[task]\n[training]\nlr = true\n", "[training] lr: must be a number, got boolean"),
        ('[task]\n[verification]\nscreen_stale = "yes"\n', "screen_stale: must be true or false"),
        ("[task]\n[model]\nparams = 3\n", "[model] params: must be a table, got integer"),
        # ranges, with the bound
        ("[task]\nrounds = 0\n", "[task] rounds: must be in 1..250, got 0"),
        ("[task]\nrounds = 251\n", "[task] rounds: must be in 1..250, got 251"),
        ("[task]\nmax_clients = 257\n", "[task] max_clients: must be in 1..256, got 257"),
        ("[task]\ncommittee_size = 17\n", "[task] committee_size: must be in 1..16, got 17"),
        ("[task]\nbyzantine_f = 10\n", "[task] byzantine_f: must be in 0..9, got 10"),
        ("[task]\nbyzantine_f = -1\n", "[task] byzantine_f: must be in 0..9, got -1"),
        ("[task]\nmin_reputation = 65536\n", "min_reputation: must be in 0..65535, got 65536"),
        ("[task]\njoin_window = 0\n", "[task] join_window: must be in 1..4294967295, got 0"),
        ("[task]\nsubmit_window = 4294967296\n", "[task] submit_window: must be in 1..4294967295"),
        ("[task]\nverdict_window = -5\n", "[task] verdict_window: must be in 1..4294967295"),
        ("[task]\n[model]\nseed = -1\n", "[model] seed: must be in 0..9223372036854775807"),
        ("[task]\n[training]\nepochs = 0\n", "[training] epochs: must be >= 1, got 0"),
        ("[task]\n[training]\nbatch_size = 0\n", "[training] batch_size: must be >= 1, got 0"),
        ("[task]\n[training]\nlr = 0.0\n", "[training] lr: must be finite and > 0.0, got 0.0"),
        ("[task]\n[training]\nlr = inf\n", "[training] lr: must be finite and > 0.0, got inf"),
        ("[task]\n[training]\nmomentum = 1.0\n", "momentum: must be in [0.0, 1.0), got 1.0"),
        ("[task]\n[verification]\ntolerance = -1e-9\n", "tolerance: must be finite and >= 0.0"),
        ("[task]\n[verification]\ntolerance = nan\n", "tolerance: must be finite and >= 0.0"),
        # Multi-KRUM needs more than f + 2 clients
        ("[task]\nmax_clients = 4\nbyzantine_f = 2\n", "byzantine_f: 2 leaves Multi-KRUM no"),
        # names from the registries
        ('[task]\n[data]\ndataset = "cifar"\n', "[data] dataset: unknown value 'cifar'"),
        ('[task]\n[rewards]\npolicy = "equal"\n', "[rewards] policy: unknown value 'equal'"),
        ('[task]\n[verification]\nrule = "krum"\n', "[verification] rule: unknown value 'krum'"),
        # registered, but it needs every client's scores, which no committee member has
        ('[task]\n[verification]\nrule = "mutual_validation"\n',
         "rule: unknown value 'mutual_validation'; choose from multikrum, none, fedavg"),
        ('[task]\n[model]\nname = "resnet"\n', "[model] name: unknown model 'resnet'; known: "),
        ('[task]\n[model]\nparams = { depth = 3 }\n', "[model] params: unknown parameters"),
        ('[task]\n[privacy]\nmechanism = "dp"\n', "[privacy] mechanism: unknown mechanism 'dp'"),
        ('[task]\n[privacy]\nmechanism = "none"\nepsilon = 1\n', '"none" takes no parameters'),
        ("[task]\n[privacy]\nepsilon = -2.0\n", "[privacy]: feature_dp parameters: epsilon must"),
        ("[task]\n[privacy]\nepsilon = 1\nsigma = 2\n", "[privacy]: feature_dp parameters: unkn"),
        ('[task]\n[privacy]\nmechanism = "dp_sgd"\n', "[privacy]: dp_sgd parameters:"),
        # money
        ('[task]\n[rewards]\nreward_unit = 1.5\n', "[rewards] reward_unit: must be an integer"),
        ('[task]\n[rewards]\nreward_unit = "1 eth"\n', "reward_unit: unknown unit 'eth'"),
        ('[task]\n[rewards]\nreward_unit = "0.5 wei"\n', "not a whole number of wei"),
        ('[task]\n[rewards]\nper_round_reward = "10 gwei"\n',
         "[rewards] per_round_reward: 10 gwei cannot pay the reputation policy's maximum"),
        ('[task]\n[rewards]\npolicy = "fixed"\nper_round_reward = "49 gwei"\n',
         "reward_unit × 5 × max_clients = 50 gwei"),
        ('[task]\n[rewards]\nreward_unit = "1000000000000000000000 ether"\n',
         "[rewards] reward_unit: must be at most 340282366920938463463374607431768211455 wei"),
        ('[task]\n[rewards]\nreward_unit = "10000000000000000000 ether"\n',
         "[rewards] per_round_reward: \"auto\" = reward_unit × 100 × 10 does not fit"),
        ('[task]\nrounds = 250\n[rewards]\npolicy = "contribution"\n'
         'per_round_reward = "340282366920938463463 ether"\n',
         "[rewards] per_round_reward: the escrow rounds × per_round_reward exceeds"),
        ('[task]\n[rewards]\nclient_mortgage = 0\n', "client_mortgage: must be at least 1 wei"),
        ('[task]\n[rewards]\nmin_miner_stake = "0 ether"\n', "min_miner_stake: must be at least"),
        ('[task]\n[rewards]\nmin_total_stake = "79228162515 ether"\n',
         "[rewards] min_total_stake: must be at most 79228162514264337593543950335 wei"),
        ('[task]\n[rewards]\nmin_total_stake = -1\n', "[rewards] min_total_stake: must be >= 0"),
        ('[task]\n[rewards]\nclient_mortgage = "310000000 ether"\n',
         "[rewards] client_mortgage: must be at most 309485009821345068724781055 wei"),
    ],
)  # fmt: skip
def test_validation_errors_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_of(tmp_path, text)


@pytest.mark.parametrize(
    ("rounds", "written", "locked", "way"),
    [(3, 10, 9, "down"), (3, 11, 9, "down"), (7, 2, 7, "up"), (3, 10**16, 10**16 - 1, "down")],
)
def test_a_mortgage_not_divisible_by_rounds_is_rounded_with_a_note(
    tmp_path: Path, rounds: int, written: int, locked: int, way: str
) -> None:
    """Down to a multiple of rounds (up to rounds when that is 0), said in one line."""
    tf = load_text(tmp_path, f"[task]\nrounds = {rounds}\n[rewards]\nclient_mortgage = {written}\n")
    assert tf.client_mortgage == locked and locked % rounds == 0
    assert tf.client_mortgage <= written or written < rounds
    (note,) = tf.notes
    assert note == (
        f"{tmp_path / 'task.toml'}: [rewards] client_mortgage: {format_wei(written)} is not "
        f"divisible by rounds = {rounds}; rounded {way} to {locked} wei "
        f"({locked // rounds} wei per round)"
    )
    assert "\n" not in note
    again = TaskFile.from_dict(tomllib.loads(tf.to_toml()))  # the rounded value reads back as is
    assert again == tf and again.notes == ()


def test_the_default_file_with_three_rounds_loads(tmp_path: Path) -> None:
    tf = load_text(tmp_path, DEFAULT_TASK_TOML.replace("rounds = 5 ", "rounds = 3 "))
    assert tf.rounds == 3 and tf.client_mortgage == ETHER // 100 - 1
    assert "rounded down to 9999999999999999 wei" in tf.notes[0]
    assert load_text(tmp_path, DEFAULT_TASK_TOML).notes == ()


def test_model_parameter_values_are_checked_naming_the_file_and_section(tmp_path: Path) -> None:
    msg = error_of(tmp_path, '[task]\n[model]\nparams = { norm = "bogus" }\n')
    assert msg.startswith("[model] params: norm must be one of ('bounded', 'batch', 'none')")
    msg = error_of(tmp_path, "[task]\n[model]\nparams = { kernel = 4 }\n")
    assert msg.startswith("[model] params: kernel must be a positive odd number")
    manifest = json.loads(TaskFile.from_dict(tomllib.loads(DEFAULT_TASK_TOML)).manifest().to_json())
    manifest["model"]["params"]["norm"] = "bogus"
    with pytest.raises(TaskFileError, match=r"^task manifest: \[model\] params: norm must be"):
        TaskManifest.from_json(json.dumps(manifest))


def test_bad_toml_gives_the_line(tmp_path: Path) -> None:
    msg = error_of(tmp_path, "[task]\nrounds = 5\nmax_clients = = 3\n")
    assert msg.startswith("invalid TOML: ") and "line 3" in msg
    path = tmp_path / "task.toml"
    path.write_bytes(b'[task]\nname = "\xff"\n')
    with pytest.raises(TaskFileError, match="not UTF-8 text"):
        load_task_file(path)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(TaskFileError) as info:
        load_task_file(tmp_path / "nope.toml")
    assert str(info.value) == f"{tmp_path / 'nope.toml'}: no such file"
    with pytest.raises(TaskFileError, match="cannot read"):
        load_task_file(tmp_path)  # a directory
    assert isinstance(info.value, ConfigError) and isinstance(info.value, ValueError)


def test_from_dict_names_its_source() -> None:
    with pytest.raises(TaskFileError) as info:
        TaskFile.from_dict({"task": {"rounds": 0}})
    assert str(info.value) == "task file: [task] rounds: must be in 1..250, got 0"
    with pytest.raises(TaskFileError, match=r"^cli: \[task\]: missing"):
        TaskFile.from_dict({}, source="cli")


# -- the manifest -----------------------------------------------------------------------------


def test_manifest_json_is_canonical_and_round_trips(tmp_path: Path) -> None:
    tf = load_text(tmp_path, DEFAULT_TASK_TOML)
    manifest = tf.manifest()
    text = manifest.to_json()
    data = json.loads(text)
    assert text == json.dumps(data, sort_keys=True, separators=(",", ":"))
    assert data["format"] == "fedchain-task/1" and data["model"] == tf.model.to_dict()
    assert data["privacy"] == {"mechanism": "feature_dp", "params": {"epsilon": 2.0}}
    assert data["training"] == {"batch_size": 16, "epochs": 5, "lr": 0.05, "momentum": 0.5}
    assert data["verification"] == {
        "rule": "multikrum", "screen_stale": True, "tolerance": 1e-4, "outlier_factor": 3.0,
    }  # fmt: skip
    again = TaskManifest.from_json(text)
    assert again == manifest and again.to_json() == text
    assert again.model.spec_hash() == tf.model.spec_hash()
    no_dp = TaskFile.from_dict({"task": {}, "privacy": {"mechanism": "none"}}).manifest()
    assert json.loads(no_dp.to_json())["privacy"] is None
    assert TaskManifest.from_json(no_dp.to_json()) == no_dp


def _manifest_with(**changes: Any) -> str:
    data = json.loads(TaskFile.from_dict({"task": {}}).manifest().to_json())
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = data
        for p in parents:
            target = target[p]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value
    return json.dumps(data)


_DELETE = object()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", "task manifest: not valid JSON"),
        ("[]", "task manifest: must be a table, got array"),
        (_manifest_with(format="fedchain-task/0"), "format: expected 'fedchain-task/1'"),
        (_manifest_with(format=_DELETE), "task manifest: format: missing"),
        (_manifest_with(extra=1), "task manifest: extra: unknown key"),
        (_manifest_with(name=_DELETE), "task manifest: name: missing"),
        (_manifest_with(dataset="cifar"), "dataset: unknown value 'cifar'"),
        (_manifest_with(model=[]), "[model]: must be a table, got array"),
        (_manifest_with(model__name="resnet"), "[model] name: unknown model 'resnet'"),
        (_manifest_with(model__params={"depth": 1}), "[model] params: unknown parameters"),
        (_manifest_with(model__params=_DELETE), "[model] params: missing"),
        (_manifest_with(training__lr=-1), "[training] lr: must be finite and > 0.0"),
        (_manifest_with(training__epochs=_DELETE), "[training] epochs: missing"),
        (_manifest_with(training__epochs=2.5), "[training] epochs: must be an integer"),
        (_manifest_with(verification__rule=7), "[verification] rule: must be a string"),
        (_manifest_with(verification=None), "[verification]: must be a table, got NoneType"),
        (_manifest_with(privacy__mechanism="none"), "no privacy is written as null"),
        (_manifest_with(privacy__params=[1]), "[privacy] params: must be an object"),
        (_manifest_with(privacy__params={"epsilon": 0}), "[privacy]: feature_dp parameters"),
        (_manifest_with(privacy__mechanism="zk"), "[privacy] mechanism: unknown mechanism"),
    ],
)
def test_manifest_errors_are_task_file_errors(text: str, expected: str) -> None:
    with pytest.raises(TaskFileError) as info:
        TaskManifest.from_json(text)
    assert expected in str(info.value)


def test_a_manifest_keeps_the_model_spec_it_was_given() -> None:
    """A partial spec resolves here, but the manifest keeps it as published (its hash is the
    one on chain)."""
    text = _manifest_with(model__params={"norm": "none"})
    manifest = TaskManifest.from_json(text)
    assert dict(manifest.model.params) == {"norm": "none"}
    assert (
        manifest.model.spec_hash()
        == hashlib.sha256(b'{"name":"cnn_digits","params":{"norm":"none"}}').hexdigest()
    )


# -- on chain ---------------------------------------------------------------------------------


def test_category_id_is_keccak_of_the_utf8_name() -> None:
    assert category_id("digits") == keccak(b"digits") and len(category_id("ü")) == 32
    assert category_id("ü") == keccak("ü".encode())


def test_onchain_spec_values() -> None:
    tf = TaskFile.from_dict(tomllib.loads(DEFAULT_TASK_TOML))
    digest = hashlib.sha256(b"initial").digest()
    spec = tf.onchain_spec(initial_model=digest, initial_codec=0x55, join_deadline=1_000)
    assert list(spec) == [
        "category", "initialModel", "initialCodec", "modelSpecHash", "requestKey", "rounds",
        "joinDeadline", "submitDuration", "verdictDuration", "perRoundReward", "rewardUnit",
        "minReputation", "clientMortgage", "minMinerStake", "minTotalStake", "maxClients",
        "committeeSize", "byzantineF", "policy",
    ]  # fmt: skip
    assert spec["category"] == keccak(b"digits") and spec["initialModel"] == digest
    assert spec["modelSpecHash"] == hashlib.sha256(tf.model.canonical_json().encode()).digest()
    assert spec["requestKey"] == bytes(32) and spec["joinDeadline"] == 1_000
    assert (spec["rounds"], spec["submitDuration"], spec["verdictDuration"]) == (5, 120, 120)
    assert (spec["perRoundReward"], spec["rewardUnit"]) == (10**12, GWEI)
    assert spec["clientMortgage"] == spec["minMinerStake"] == 10**16
    assert spec["minTotalStake"] == 0
    assert (spec["maxClients"], spec["committeeSize"], spec["byzantineF"]) == (10, 3, 2)
    assert (spec["minReputation"], spec["policy"]) == (0, 0)
    for bad in (
        {"initial_model": b"short"},
        {"initial_codec": 0x12},
        {"join_deadline": 0},
        {"request_key": b"\0" * 31},
    ):
        kwargs: dict[str, Any] = {
            "initial_model": digest, "initial_codec": 0x55, "join_deadline": 1_000, **bad,
        }  # fmt: skip
        with pytest.raises(TaskFileError, match="^onchain_spec: " + next(iter(bad))):
            tf.onchain_spec(**kwargs)


@pytest.mark.parametrize("policy", ["reputation", "contribution", "data_amount", "fixed"])
def test_create_task_accepts_the_spec(policy: str) -> None:
    from fedchain.chain import connect
    from fedchain.chain.deploy import deploy_fedchain

    text = DEFAULT_TASK_TOML.replace('policy = "reputation"', f'policy = "{policy}"')
    tf = TaskFile.from_dict(tomllib.loads(text))
    with connect("embedded", accounts=2, seed=0) as chain:
        deployment = deploy_fedchain(chain, deployer=chain.dev_accounts(1)[0])
        requester = chain.dev_accounts(2)[1]
        spec = tf.onchain_spec(
            initial_model=hashlib.sha256(b"initial").digest(),
            initial_codec=0x55,
            join_deadline=chain.timestamp() + tf.join_window,
        )
        result = deployment.tasks.createTask(spec, sender=requester, value=tf.escrow)
        event = result.event("TaskCreated")
        assert event.args["requester"] == requester.address
        assert event.args["category"] == category_id("digits")
        assert event.args["escrow"] == tf.escrow
        info = deployment.tasks.taskInfo(int(event.args["taskId"]))
        info = info if isinstance(info, dict) else info._asdict()
        assert (info["rounds"], info["maxClients"], info["policy"]) == (5, 10, tf.policy_id)
        assert info["clientMortgage"] == tf.client_mortgage


# -- the M3 request -----------------------------------------------------------------------------


def test_the_request_key_is_canonical_and_bound_to_its_requester(tmp_path: Path) -> None:
    """Terms are normalised, hashed and sorted; rounds and rewards are not part of the question;
    the model, the privacy policy, the rule and the category are."""
    from eth_abi import encode

    from fedchain.roles.taskfile import bound_request_key

    asked = load_text(tmp_path, '[task]\n[request]\nterms = ["Heart Rate", "ecg"]\n')
    assert asked.request is not None and asked.request.terms == ("Heart Rate", "ecg")
    same = load_text(
        tmp_path, '[task]\nrounds = 9\n[request]\nterms = ["ECG", " heart  rate", "ecg"]\n'
    )
    assert same.request_key() == asked.request_key() != bytes(32)
    others = [
        '[task]\ncategory = "other"\n[request]\nterms = ["ecg", "heart rate"]\n',
        '[task]\n[request]\nterms = ["ecg"]\n',
        '[task]\n[model]\nparams = { norm = "batch" }\n[request]\nterms = ["ecg", "heart rate"]\n',
        '[task]\n[privacy]\nmechanism = "none"\n[request]\nterms = ["ecg", "heart rate"]\n',
        '[task]\n[verification]\nrule = "none"\n[request]\nterms = ["ecg", "heart rate"]\n',
    ]
    assert len({load_text(tmp_path, t).request_key() for t in others} | {asked.request_key()}) == 6
    assert load_text(tmp_path, "[task]\n").request_key() == bytes(32)
    alice = "0x" + "11" * 20
    key = asked.request_key()
    assert bound_request_key(alice, key) == keccak(encode(["address", "bytes32"], [alice, key]))
    assert bound_request_key(alice, bytes(32)) == bytes(32)
    assert TaskFile.from_dict(tomllib.loads(asked.to_toml())) == asked


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[task]\n[request]\nterms = "ecg"\n', "[request] terms: must be a list of strings"),
        ("[task]\n[request]\nterms = [1]\n", "[request] terms: must be a list of strings"),
        ('[task]\n[request]\nterms = ["ecg", " "]\n', "a key term must not be empty"),
        ("[task]\n[request]\ncache = true\n", "[request] cache: unknown key; allowed: release_ep"),
        ("[task]\n[request]\nrelease_epsilon = 20\n", "release_sensitivity: missing"),
        (
            "[task]\n[request]\nrelease_epsilon = 0\nrelease_sensitivity = 1\n",
            "must be finite and > 0",
        ),
    ],
)
def test_request_errors_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error_of(tmp_path, text)


def test_a_release_travels_in_the_manifest_and_the_key(tmp_path: Path) -> None:
    text = '[task]\n[request]\nterms = ["ecg"]\nrelease_epsilon = 20\nrelease_sensitivity = 0.05\n'
    released = load_text(tmp_path, text)
    plain = load_text(tmp_path, '[task]\n[request]\nterms = ["ecg"]\n')
    manifest = released.manifest()
    assert manifest.release == {"mechanism": "model_laplace", "epsilon": 20.0, "sensitivity": 0.05}
    assert TaskManifest.from_json(manifest.to_json()) == manifest
    assert "release" not in plain.manifest().to_json()  # unchanged without one
    assert released.request_key() != plain.request_key()
    assert TaskFile.from_dict(tomllib.loads(released.to_toml())) == released
