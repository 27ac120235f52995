"""Making symlink-safe the default: virtualenv's environment variable, its user config file, and which one wins."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from conftest import Runner, newest

if TYPE_CHECKING:
    from pathlib import Path

NEWEST = newest()
#: How virtualenv's summary names each creator.
SHOWN = {"symlink-safe": "creator SymlinkSafe(", "cpython3-posix": "creator CPython3Posix("}


def home_environ(runner: Runner, home: Path, *, xdg: Path | None) -> dict[str, str]:
    """The clean environment with a fresh ``HOME`` (and ``XDG_CONFIG_HOME``), no ``VIRTUALENV_CONFIG_FILE``."""
    env = {k: v for k, v in runner.environ.items() if k not in {"VIRTUALENV_CONFIG_FILE", "XDG_CONFIG_HOME"}}
    env["HOME"] = str(home)
    if xdg is not None:
        env["XDG_CONFIG_HOME"] = str(xdg)
    return env


def write_config(path: Path, creator: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"[virtualenv]\ncreator = {creator}\n")


def create(runner: Runner, dest: Path, env: dict[str, str], *cli: str) -> str:
    """Create with the newest interpreter, no seed, and report which creator virtualenv used."""
    out = runner.virtualenv("-p", NEWEST.exe, "--no-seed", *cli, dest, env=env)
    chosen = [name for name, shown in SHOWN.items() if shown in out]
    assert len(chosen) == 1, out
    if chosen == ["symlink-safe"]:
        assert not (dest / "bin" / "python").is_symlink()
        assert (dest / "bin" / "python").read_bytes()[:4] == b"\x7fELF"
    else:
        assert (dest / "bin" / "python").is_symlink()
    return chosen[0]


def test_environment_variable(runner: Runner, work: Path) -> None:
    env = {**home_environ(runner, work / "home", xdg=None), "VIRTUALENV_CREATOR": "symlink-safe"}
    assert create(runner, work / "env", env) == "symlink-safe"


@pytest.mark.parametrize("xdg", [True, False], ids=["XDG_CONFIG_HOME", "HOME"])
def test_user_config_file(runner: Runner, work: Path, xdg: bool) -> None:
    home, xdg_home = work / "home", work / "xdg"
    home.mkdir()
    env = home_environ(runner, home, xdg=xdg_home if xdg else None)
    # nothing configured yet: virtualenv's builtin creator
    assert create(runner, work / "before", env) == "cpython3-posix"
    write_config((xdg_home if xdg else home / ".config") / "virtualenv" / "virtualenv.ini", "symlink-safe")
    assert create(runner, work / "after", env) == "symlink-safe"


def test_config_file_named_by_environment_variable(runner: Runner, work: Path) -> None:
    home = work / "home"
    write_config(home / ".config" / "virtualenv" / "virtualenv.ini", "cpython3-posix")  # ignored once one is named
    named = work / "ci" / "virtualenv.ini"
    write_config(named, "symlink-safe")
    env = {**home_environ(runner, home, xdg=None), "VIRTUALENV_CONFIG_FILE": str(named)}
    assert create(runner, work / "env", env) == "symlink-safe"


#: (--creator, VIRTUALENV_CREATOR, creator in the user config file, the creator virtualenv uses)
PRECEDENCE = {
    "default": (None, None, None, "cpython3-posix"),
    "file-over-default": (None, None, "symlink-safe", "symlink-safe"),
    "variable-over-file": (None, "symlink-safe", "cpython3-posix", "symlink-safe"),
    "variable-over-file-back": (None, "cpython3-posix", "symlink-safe", "cpython3-posix"),
    "cli-over-all": ("cpython3-posix", "symlink-safe", "symlink-safe", "cpython3-posix"),
    "cli-over-all-back": ("symlink-safe", "cpython3-posix", "cpython3-posix", "symlink-safe"),
}


@pytest.mark.parametrize("case", PRECEDENCE.values(), ids=PRECEDENCE.keys())
def test_precedence(runner: Runner, work: Path, case: tuple[str | None, str | None, str | None, str]) -> None:
    cli, variable, config, expected = case
    home = work / "home"
    home.mkdir()
    env = home_environ(runner, home, xdg=None)
    if config is not None:
        write_config(home / ".config" / "virtualenv" / "virtualenv.ini", config)
    if variable is not None:
        env["VIRTUALENV_CREATOR"] = variable
    args = [] if cli is None else ["--creator", cli]
    assert create(runner, work / "env", env, *args) == expected
