"""The root ``fedchain`` command: lazy command groups, ``--version``, the scripts' program names.

Real subprocesses: what a user runs is what is checked (which modules a command imports, what
its usage line says)."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from fedchain.cli import _LAZY, _load_command

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("eth_account", "web3", "torch", "numpy", "httpx", "fedchain.chain.connection")


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _modules_after(argv: list[str]) -> set[str]:
    """The modules loaded once ``fedchain ARGV`` has run, in a fresh interpreter."""
    code = (
        "import sys\nfrom fedchain.cli import main\ntry:\n"
        f"    main({argv!r})\nexcept SystemExit:\n    pass\n"
        "print('\\n'.join(sorted(sys.modules)), file=sys.stderr)"
    )
    result = _run("-c", code)
    return set(result.stderr.split())


@pytest.mark.parametrize(
    ("argv", "heavy"),
    [
        (["--help"], HEAVY),
        (["--version"], HEAVY),
        (["ipfs", "cid", __file__], ("eth_account", "web3", "torch", "numpy", "httpx")),
        (["ipfs", "--help"], ("eth_account", "web3", "torch", "numpy", "httpx")),
    ],
)
def test_light_commands_import_nothing_heavy(argv: list[str], heavy: tuple[str, ...]) -> None:
    loaded = _modules_after(argv)
    assert "fedchain.cli" in loaded
    assert not loaded & set(heavy), sorted(loaded & set(heavy))


def test_root_listing_matches_each_group_own_help() -> None:
    for name, entry in _LAZY.items():
        command = _load_command(name)
        assert command.name == name
        assert (command.help or "").strip().splitlines()[0] == entry.help, name


def test_root_help_lists_every_command_and_runs_them() -> None:
    result = _run("-m", "fedchain.cli", "--help")
    assert result.returncode == 0 and result.stderr == ""
    for name in _LAZY:
        assert f" {name} " in result.stdout, name
    task_help = _run("-m", "fedchain.cli", "task", "status", "--help")
    assert task_help.returncode == 0 and "TASK" in task_help.stdout.upper()


def test_mistyped_command_is_suggested() -> None:
    result = _run("-m", "fedchain.cli", "tsak")
    assert result.returncode == 2 and "No such command 'tsak'" in result.stderr
    assert "Did you mean 'task'?" in result.stderr


def test_version_comes_from_package_metadata() -> None:
    result = _run("-m", "fedchain.cli", "--version")
    expected = f"fedchain {importlib.metadata.version('fedchain')}\n"
    assert (result.returncode, result.stdout, result.stderr) == (0, expected, "")


@pytest.mark.parametrize(
    ("script", "words"),
    [
        ("run_client.py", ("--task", "--dataset")),
        ("run_miner.py", ("--task",)),
        ("deploy.py", ("--out",)),
        ("publish_task.py", ("--deployment",)),
    ],
)
def test_scripts_show_their_own_program_name(script: str, words: tuple[str, ...]) -> None:
    result = _run(str(ROOT / "scripts" / script), "--help")
    assert result.returncode == 0, result.stderr
    usage = result.stdout.strip().splitlines()[0]
    assert usage.split()[:3] == ["Usage:", script, "[OPTIONS]"], usage
    assert all(word in result.stdout for word in words)


def test_script_errors_are_one_line(tmp_path: Path) -> None:
    result = _run(str(ROOT / "scripts" / "run_client.py"), "--task", "1", cwd=tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "client run" not in result.stderr
