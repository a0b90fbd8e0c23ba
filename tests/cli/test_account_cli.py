"""``fedchain account``: through fedchain.cli.main in-process; keys and passwords never printed."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak
from typer.testing import CliRunner

from fedchain.chain.keys import LIGHT_SCRYPT_N, create_keystore, load_account
from fedchain.cli import main

KEY = keccak(b"fedchain/tests/account-cli")
KEY_HEX = KEY.hex()
ADDRESS = Account.from_key(KEY).address
PASSWORD = "tr0ub4dor&3"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    assert KEY_HEX not in out + err and PASSWORD not in out + err
    return int(info.value.code or 0), out, err


def run_with_input(argv: list[str], typed: str) -> tuple[int, str, str]:
    """Run with ``typed`` on stdin: click's prompts read it as a terminal's hidden input."""
    with CliRunner().isolation(input=typed) as (out, err, _):
        with pytest.raises(SystemExit) as info:
            main(argv)
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    assert KEY_HEX not in stdout + stderr and PASSWORD not in stdout + stderr
    return int(info.value.code or 0), stdout, stderr


@pytest.fixture(autouse=True)
def _no_secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEDCHAIN_PRIVATE_KEY", raising=False)
    monkeypatch.delenv("FEDCHAIN_KEYSTORE_PASSWORD", raising=False)


def test_new_prints_only_the_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FEDCHAIN_KEYSTORE_PASSWORD", PASSWORD)
    path = tmp_path / "miner.json"
    code, out, err = run(["account", "new", "--keystore", str(path), "--light-kdf"], capsys)
    assert code == 0 and err == ""
    address = out.strip()
    assert out == address + "\n" and address.startswith("0x") and len(address) == 42
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["crypto"]["kdfparams"]["n"] == LIGHT_SCRYPT_N
    assert load_account(keystore=path, password=PASSWORD).address == address
    code, out, _ = run(["account", "address", "--keystore", str(path)], capsys)
    assert (code, out) == (0, address + "\n")
    code, out, _ = run(["account", "address", "--keystore", str(path), "--json"], capsys)
    assert json.loads(out) == {"address": address, "keystore": str(path)}


def test_new_uses_full_scrypt_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MY_PASSWORD", PASSWORD)
    path = tmp_path / "k.json"
    argv = ["account", "new", "--keystore", str(path), "--password-env", "MY_PASSWORD", "--json"]
    code, out, _ = run(argv, capsys)
    assert code == 0 and json.loads(out)["keystore"] == str(path)
    assert json.loads(path.read_text())["crypto"]["kdfparams"]["n"] == 262144


def test_new_asks_for_the_password_twice_hidden(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    argv = ["account", "new", "--keystore", str(path), "--light-kdf"]
    code, out, err = run_with_input(argv, f"{PASSWORD}\n{PASSWORD}\n")
    assert code == 0 and "Keystore password" in err and "Repeat for confirmation" in err
    assert load_account(keystore=path, password=PASSWORD).address == out.strip()
    # the two entries differ: asked again; input runs out: aborted, nothing written
    other = tmp_path / "other.json"
    argv = ["account", "new", "--keystore", str(other), "--light-kdf"]
    code, out, err = run_with_input(argv, f"{PASSWORD}\nsomething else\n")
    # (some click versions echo the newline after hidden input to stdout)
    assert code == 1 and out.strip() == "" and "do not match" in err and not other.exists()


def test_import_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", "0x" + KEY_HEX)
    monkeypatch.setenv("FEDCHAIN_KEYSTORE_PASSWORD", PASSWORD)
    path = tmp_path / "client.json"
    code, out, err = run(["account", "import", "--keystore", str(path), "--light-kdf"], capsys)
    assert (code, out, err) == (0, ADDRESS + "\n", "")
    assert load_account(keystore=path, password=PASSWORD, environ={}).key == KEY


def test_import_from_a_hidden_prompt(tmp_path: Path) -> None:
    path = tmp_path / "client.json"
    argv = ["account", "import", "--keystore", str(path), "--light-kdf"]
    code, out, err = run_with_input(argv, f"{KEY_HEX}\n{PASSWORD}\n{PASSWORD}\n")
    assert (code, out.strip()) == (0, ADDRESS) and "Private key (hex)" in err
    assert load_account(keystore=path, password=PASSWORD, environ={}).key == KEY
    code, out, err = run_with_input(
        ["account", "import", "--keystore", str(tmp_path / "x.json")], "12ab\n"
    )
    assert code == 1 and err.endswith("error: the key entered is not a 32-byte hex private key\n")
    assert "12ab" not in err


def test_expected_failures_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "k.json"
    create_keystore(path, password=PASSWORD, private_key=KEY, kdf_iterations=LIGHT_SCRYPT_N)
    before = path.read_bytes()
    monkeypatch.setenv("FEDCHAIN_KEYSTORE_PASSWORD", PASSWORD)
    for command in ("new", "import"):
        code, out, err = run(["account", command, "--keystore", str(path)], capsys)
        assert (code, out) == (1, "")
        assert err == f"error: keystore {path} exists; refusing to overwrite it\n"
    assert path.read_bytes() == before
    bad_key = KEY_HEX[:-4] + "zzzz"
    monkeypatch.setenv("FEDCHAIN_PRIVATE_KEY", bad_key)
    code, out, err = run(["account", "import", "--keystore", str(tmp_path / "n.json")], capsys)
    assert (code, out) == (1, "")
    assert err == "error: FEDCHAIN_PRIVATE_KEY is not a 32-byte hex private key\n"
    assert bad_key not in err
    missing = tmp_path / "missing.json"
    code, _, err = run(["account", "address", "--keystore", str(missing)], capsys)
    assert (code, err) == (1, f"error: no keystore file {missing}\n")
    monkeypatch.setenv("FEDCHAIN_KEYSTORE_PASSWORD", "")
    code, _, err = run(["account", "new", "--keystore", str(tmp_path / "e.json")], capsys)
    assert (code, err) == (1, "error: the keystore password must not be empty\n")


def test_address_reads_the_file_without_loading_eth_account(tmp_path: Path) -> None:
    """``account address`` decrypts nothing, so it does not pay eth_account's ~1 s import."""
    import subprocess
    import sys

    keystore = tmp_path / "key.json"
    create_keystore(keystore, password=PASSWORD, private_key=KEY, kdf_iterations=LIGHT_SCRYPT_N)
    code = (
        "import sys\nfrom fedchain.cli import main\ntry:\n"
        f"    main(['account', 'address', '--keystore', {str(keystore)!r}])\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('eth_account', 'web3')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [ADDRESS, "[]"]
