"""``fedchain ipfs``: through fedchain.cli.main in-process, and one real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fedchain.cli import main
from fedchain.storage import LocalStore, compute_cid, digest_to_cid

HELLO = b"hello world"  # Kubo's own vectors (test/cli/add_test.go, cid_profiles_test.go)
HELLO_V0 = "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD"
HELLO_V1 = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
FEDCHAIN = Path(sys.executable).parent / "fedchain"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FEDCHAIN_STORE", str(tmp_path / "default-store"))
    monkeypatch.delenv("FEDCHAIN_KUBO_API", raising=False)


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    path = tmp_path / "hello.txt"
    path.write_bytes(HELLO)
    return path


def test_cid_matches_kubo(hello: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["ipfs", "cid", str(hello)], capsys) == (0, HELLO_V1 + "\n", "")
    assert run(["ipfs", "cid", str(hello), "--cid-version", "0"], capsys)[1] == HELLO_V0 + "\n"
    code, out, _ = run(["ipfs", "cid", str(hello), "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["cid"] == HELLO_V1 and info["codec"] == "raw" and info["size"] == 11
    assert digest_to_cid(bytes.fromhex(info["digest"][2:]), info["codec_code"]) == HELLO_V1


def test_put_get_round_trip(
    hello: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    code, out, _ = run(["ipfs", "put", str(hello), "--store", str(store), "--json"], capsys)
    assert code == 0 and json.loads(out)["cid"] == HELLO_V1
    assert LocalStore(store).get(HELLO_V1) == HELLO
    dest = tmp_path / "out" / "copy.txt"
    dest.parent.mkdir()
    assert run(["ipfs", "get", HELLO_V1, "-o", str(dest), "--store", str(store)], capsys)[0] == 0
    assert dest.read_bytes() == HELLO
    # refuses to overwrite without --force, then overwrites with it
    dest.write_bytes(b"keep me")
    code, out, err = run(["ipfs", "get", HELLO_V1, "-o", str(dest), "--store", str(store)], capsys)
    assert code == 1 and err.startswith("error: ") and "exists" in err and err.count("\n") == 1
    assert dest.read_bytes() == b"keep me"
    args = ["ipfs", "get", HELLO_V1, "-o", str(dest), "--store", str(store), "--force"]
    assert run(args, capsys)[0] == 0
    assert dest.read_bytes() == HELLO
    assert sorted(p.name for p in dest.parent.iterdir()) == ["copy.txt"]


def test_default_store_comes_from_the_environment(
    hello: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["ipfs", "put", str(hello)], capsys)[1] == HELLO_V1 + "\n"
    assert LocalStore(tmp_path / "default-store").has(HELLO_V1)


def test_expected_failures_are_one_line(
    hello: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    cid = LocalStore(store).put(b"x" * 1000)
    LocalStore(store).path_of(cid).write_bytes(b"y" * 1000)  # tamper
    missing = compute_cid(b"absent")
    cases = [
        (["ipfs", "cid", str(tmp_path / "nope.bin")], "No such file"),
        (["ipfs", "get", "Qmnot-a-cid", "-o", str(tmp_path / "o")], "invalid CID"),
        (["ipfs", "get", missing, "-o", str(tmp_path / "o"), "--store", str(store)], "not found"),
        (["ipfs", "get", cid, "-o", str(tmp_path / "o"), "--store", str(store)], "corrupt"),
        (["ipfs", "put", str(hello), "--kubo", "http://127.0.0.1:9"], "unreachable"),
        (["ipfs", "put", str(hello), "--store", str(store), "--kubo", "http://x"], "not both"),
        (["ipfs", "cid", str(hello), "--cid-version", "2"], "cid_version"),
        (["ipfs", "verify", str(hello), HELLO_V0.replace("f4", "f5")], "does not match"),
        (["ipfs", "from-digest", "0x1234"], "32 bytes"),
    ]
    for argv, message in cases:
        code, out, err = run(argv, capsys)
        assert code == 1, argv
        assert err.startswith("error: ") and message in err, (argv, err)
        assert err.count("\n") == 1 and "Traceback" not in err and out == ""
    assert not (tmp_path / "o").exists()


def test_verify_digest_and_back(hello: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["ipfs", "verify", str(hello), HELLO_V0], capsys)[0] == 0
    code, out, _ = run(["ipfs", "digest", HELLO_V0, "--json"], capsys)
    assert code == 0
    info = json.loads(out)
    assert info["codec"] == "dag-pb" and info["cid_v1"].startswith("bafybei")
    args = ["ipfs", "from-digest", info["digest"], "--codec", "dag-pb", "--cid-version", "0"]
    assert run(args, capsys)[1] == HELLO_V0 + "\n"


def test_real_subprocess(hello: Path, tmp_path: Path) -> None:
    if not FEDCHAIN.exists():
        pytest.skip(f"{FEDCHAIN} is not installed (pip install -e .)")
    ok = subprocess.run(
        [str(FEDCHAIN), "ipfs", "cid", str(hello)], capture_output=True, text=True, timeout=120
    )
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, HELLO_V1 + "\n", "")
    bad = subprocess.run(
        [str(FEDCHAIN), "ipfs", "get", "bafy-not-a-cid", "-o", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith("error: invalid CID") and bad.stderr.count("\n") == 1


def test_store_takes_the_spec_every_command_takes(
    hello: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "spec-store"
    code, out, err = run(["ipfs", "put", str(hello), "--store", f"local:{store}"], capsys)
    assert (code, out, err) == (0, HELLO_V1 + "\n", "")
    assert LocalStore(store).get(HELLO_V1) == HELLO
    assert not any(p.name.startswith("local:") for p in tmp_path.iterdir())
    # relative local:DIR, and the plain directory, name the same store
    dest = tmp_path / "copy.txt"
    args = ["ipfs", "get", HELLO_V1, "-o", str(dest), "--store", "local:spec-store", "--json"]
    code, out, _ = run(args, capsys)
    assert code == 0 and dest.read_bytes() == HELLO
    assert json.loads(out)["store"] == "local store spec-store"
    assert run(["ipfs", "put", str(hello), "--store", "spec-store"], capsys)[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.txt", "hello.txt", "spec-store"]


def test_kubo_spec_and_kubo_option_are_the_same_store(
    hello: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (
        ["ipfs", "put", str(hello), "--store", "kubo:http://127.0.0.1:9"],
        ["ipfs", "put", str(hello), "--store", "http://127.0.0.1:9"],
        ["ipfs", "put", str(hello), "--kubo", "http://127.0.0.1:9"],
    ):
        code, out, err = run(argv, capsys)
        assert code == 1 and out == "" and "unreachable" in err and err.count("\n") == 1, argv


def test_wrong_store_specs_are_one_line(
    hello: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    cases = [
        (["ipfs", "put", str(hello), "--store", "nosuch:/x"], "unknown store type 'nosuch'"),
        (["ipfs", "put", str(hello), "--store", "local:"], "local: needs a directory"),
        (["ipfs", "put", str(hello), "--store", "  "], "empty store specification"),
        (["ipfs", "get", HELLO_V1, "-o", "o", "--store", "local:"], "local: needs a directory"),
        (["ipfs", "put", str(hello), "--kubo", ""], "--kubo needs a URL"),
    ]
    for argv, message in cases:
        code, out, err = run(argv, capsys)
        assert code == 1 and out == "", argv
        assert err.startswith("error: ") and message in err, (argv, err)
        assert err.count("\n") == 1 and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hello.txt"]


def test_existing_output_names_the_cli_flag(
    hello: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"local:{tmp_path / 'store'}"
    assert run(["ipfs", "put", str(hello), "--store", store], capsys)[0] == 0
    hello_copy = tmp_path / "copy.txt"
    hello_copy.write_bytes(b"keep")
    code, _, err = run(["ipfs", "get", HELLO_V1, "-o", str(hello_copy), "--store", store], capsys)
    assert code == 1 and "pass --force to replace it" in err and "overwrite/" not in err


def test_real_subprocess_local_spec(hello: Path, tmp_path: Path) -> None:
    """The reported bug: ``--store local:DIR`` made a directory named ``local:`` and exited 0."""
    result = subprocess.run(
        [sys.executable, "-m", "fedchain.cli", "ipfs", "put", str(hello), "--store", "local:st"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, HELLO_V1 + "\n", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hello.txt", "st"]
    assert LocalStore(tmp_path / "st").has(HELLO_V1)
    bad = subprocess.run(
        [sys.executable, "-m", "fedchain.cli", "ipfs", "put", str(hello), "--store", "lcoal:st"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and bad.stdout == "" and bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("error: unknown store type 'lcoal'")
