"""The creator as virtualenv users meet it: selection, layout, options, refusals."""

from __future__ import annotations

import os
import shutil
import sys
from importlib.metadata import distribution
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest

from conftest import Runner, Target, _pyenv_root, newest, targets
from virtualenv_symlink_safe.creation import LOCK_NAME
from virtualenv_symlink_safe.creator import Refusal, SymlinkSafe
from virtualenv_symlink_safe.refusals import refusal_reason
from virtualenv_symlink_safe.stub import STUB_NAME, install_stub

if TYPE_CHECKING:
    from python_discovery import PythonInfo

#: One interpreter is enough for what does not depend on the version: the newest here.
NEWEST = newest()
PACKAGE_STUB = Path(sys.modules["virtualenv_symlink_safe.stub"].__file__ or "").with_name(STUB_NAME)


def tree(root: Path) -> dict[str, str]:
    """Every entry below root with its kind, to compare layouts."""
    kinds = {}
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts:
            continue
        kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
        kinds[str(path.relative_to(root))] = kind
    return kinds


def interpreter_names(target: Target) -> set[str]:
    names = {"python", "python3", f"python{target.short}"}
    return names | {"pypy", "pypy3"} if target.is_pypy else names


def test_plain_virtualenv_is_unchanged(runner: Runner, work: Path) -> None:
    out = runner.virtualenv("-p", NEWEST.exe, "--no-seed", work / "env")
    assert "creator CPython3Posix(" in out
    assert (work / "env" / "bin" / "python").is_symlink()


def test_builtin_is_still_cpython3_posix(runner: Runner) -> None:
    out = runner.virtualenv("-p", NEWEST.exe, "--help")
    assert "builtin = cpython3-posix" in " ".join(out.split())
    assert "symlink-safe" in out


def test_layout_is_the_builtin_one_but_for_the_interpreter(runner: Runner, target: Target, work: Path) -> None:
    """Everything cpython3-posix (pypy3-posix for PyPy) makes, with the interpreter names the stub."""
    plain = runner.create(target, work / "plain" / "env", creator=target.builtin, marker=False)
    safe = runner.create(target, work / "safe" / "env", marker=False)
    plain_tree, safe_tree = tree(plain.path), tree(safe.path)
    names = {f"bin/{name}" for name in interpreter_names(target)}
    assert {k for k, v in plain_tree.items() if v == "link" and k in names} == names
    for name in names:
        assert safe_tree.pop(name) == "file"
        plain_tree.pop(name)
    assert safe_tree.pop(LOCK_NAME) == "file"  # the destination's lock, kept inside it
    # the base's own name (pyenv's python3.X) may be an extra interpreter name in both
    assert plain_tree.keys() == safe_tree.keys()
    assert all(plain_tree[k] == safe_tree[k] for k in plain_tree if not k.startswith(("bin/python", "bin/pypy")))


@pytest.mark.contract("rule 8")
def test_interpreter_names_are_hard_links_to_the_packaged_stub(runner: Runner, target: Target, work: Path) -> None:
    venv = runner.create(target, work / "env")
    stats = [(venv.bin / name).lstat() for name in interpreter_names(target)]
    assert len({(s.st_dev, s.st_ino) for s in stats}) == 1
    assert stats[0].st_nlink >= len(stats)
    assert os.access(venv.python, os.X_OK)
    assert venv.python.read_bytes() == PACKAGE_STUB.read_bytes()


@pytest.mark.contract("rule 8")
def test_stub_is_identical_everywhere_and_holds_no_path(runner: Runner, work: Path) -> None:
    first = runner.create(NEWEST, work / "first-env")
    second = runner.create(targets()[0], work / "second-env")
    data = first.python.read_bytes()
    assert data == second.python.read_bytes()
    for fragment in (str(work), "first-env", str(Path.cwd()), "/work/", "pyenv"):
        assert fragment.encode() not in data


def test_clear(runner: Runner, work: Path) -> None:
    venv = runner.create(NEWEST, work / "env")
    (venv.path / "stale").write_text("")
    runner.create(NEWEST, venv.path, "--clear")
    assert not (venv.path / "stale").exists()
    assert runner.probe(venv.python)["marker"] == str(venv.path)


def test_recreate_in_place_replaces_the_stubs(runner: Runner, work: Path) -> None:
    venv = runner.create(NEWEST, work / "env", creator="cpython3-posix")
    assert venv.python.is_symlink()
    runner.create(NEWEST, venv.path)
    assert not venv.python.is_symlink()
    assert runner.probe(venv.python)["marker"] == str(venv.path)
    assert not list(venv.bin.glob(".*symlink-safe-tmp")), "a temporary file was left behind"


def test_prompt_and_vcs_ignore(runner: Runner, work: Path) -> None:
    venv = runner.create(NEWEST, work / "env", "--prompt", "my prompt", "--no-vcs-ignore")
    # the prompt as cpython3-posix writes it: how pyvenv.cfg and activate spell it changes with virtualenv's version
    plain = runner.create(NEWEST, work / "plain", "--prompt", "my prompt", creator="cpython3-posix", marker=False)
    for name in ("pyvenv.cfg", "bin/activate"):
        lines = [line for line in (plain.path / name).read_text().splitlines() if "my prompt" in line]
        assert lines, name
        assert lines == [line for line in (venv.path / name).read_text().splitlines() if "my prompt" in line]
    assert not (venv.path / ".gitignore").exists()
    default = runner.create(NEWEST, work / "default")
    assert (default.path / ".gitignore").read_text().endswith("*\n")


def test_system_site_packages(runner: Runner, work: Path) -> None:
    venv = runner.create(NEWEST, work / "env", "--system-site-packages")
    assert "include-system-site-packages = true" in venv.cfg.read_text()
    (work / "link").symlink_to(venv.python)
    report = runner.probe(work / "link")
    assert report["marker"] == str(venv.path)
    paths = report["path"]
    assert isinstance(paths, list)
    # Debian's own python3 keeps its system packages in dist-packages
    assert any(
        p.startswith(str(report["base_prefix"])) and p.endswith(("site-packages", "dist-packages")) for p in paths
    )


def test_venv_redirect(runner: Runner, work: Path) -> None:
    if "--venv-redirect" not in runner.virtualenv("--help"):
        pytest.skip(
            f"virtualenv {distribution('virtualenv').version} has no --venv-redirect option (PEP 832 redirect files)"
        )
    runner.create(NEWEST, work / "project-env", "--venv-redirect")
    assert (work / ".venv").read_text() == "project-env\n"


def test_copies_keeps_the_stub(runner: Runner, work: Path) -> None:
    venv = runner.create(NEWEST, work / "env", "--copies")
    assert venv.python.read_bytes() == PACKAGE_STUB.read_bytes()
    (work / "link").symlink_to(venv.python)
    assert runner.probe(work / "link")["marker"] == str(venv.path)


@pytest.mark.parametrize(
    ("shell", "script"),
    [
        ("bash", "source {bin}/activate && python -c 'import marker_symlink_safe as m; print(m.WHERE)'"),
        ("sh", ". {bin}/activate && python -c 'import marker_symlink_safe as m; print(m.WHERE)'"),
    ],
)
def test_shell_activation(runner: Runner, work: Path, shell: str, script: str) -> None:
    venv = runner.create(NEWEST, work / "env")
    out = runner.run([shell, "-c", script.format(bin=venv.bin)], cwd=work, check=True).stdout
    assert out.strip() == str(venv.path)


def test_every_activator_is_written(runner: Runner, work: Path) -> None:
    plain = runner.create(NEWEST, work / "plain", creator="cpython3-posix", marker=False)
    venv = runner.create(NEWEST, work / "env", marker=False)
    activators = {p.name for p in plain.bin.iterdir() if "activate" in p.name.lower()}
    assert activators
    assert activators == {p.name for p in venv.bin.iterdir() if "activate" in p.name.lower()}


def test_activate_this(runner: Runner, work: Path) -> None:
    venv = runner.create(NEWEST, work / "env")
    activate_this = venv.bin / "activate_this.py"
    code = f"import runpy; runpy.run_path({str(activate_this)!r}); import marker_symlink_safe as m; print(m.WHERE)"
    out = runner.run([NEWEST.exe, "-c", code], check=True).stdout
    assert out.strip() == str(venv.path)


def test_refused_interpreter_says_why(runner: Runner, work: Path) -> None:
    root = _pyenv_root()
    old = sorted(root.glob("versions/3.[4-7].*/bin/python3")) if root else []
    if not old:
        pytest.skip("no CPython 3.4-3.7 on this machine to be refused")
    exe = old[-1]
    cmd = [sys.executable, "-m", "virtualenv", "--app-data", str(runner.app_data), "-p", str(exe)]
    result = runner.run([*cmd, "--creator", "symlink-safe", work / "env"])
    if f"failed to query {exe}" in result.stdout + result.stderr:  # discovery fails before any creator is asked
        pytest.skip(f"virtualenv {distribution('virtualenv').version} cannot run its interpreter query on {exe}")
    assert result.returncode == 1
    assert "the symlink-safe creator cannot create an environment for" in result.stderr + result.stdout
    assert "CPython 3.8 or later is required" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    assert not (work / "env").exists()


def _interpreter(**overrides: object) -> PythonInfo:
    values: dict[str, object] = {
        "os": "posix",
        "platform": "linux",
        "implementation": "CPython",
        "version_info": (3, 12, 1, "final", 0),
        "executable": "/usr/bin/python3",
    }
    values.update(overrides)
    return SimpleNamespace(**values)  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"os": "nt", "platform": "win32"}, "only Linux is supported for now, not win32"),
        ({"platform": "darwin"}, "only Linux is supported for now, not darwin"),
        ({"implementation": "GraalPy"}, "only CPython and PyPy are supported for now, not GraalPy"),
        ({"version_info": (3, 7, 16, "final", 0)}, "CPython 3.8 or later is required, not 3.7.16"),
        (
            {"implementation": "PyPy", "version_info": (3, 8, 16, "final", 0)},
            "PyPy 3.9 or later is required, not 3.8.16",
        ),
        ({}, None),
    ],
)
def test_refusal_reasons(overrides: dict[str, object], reason: str | None) -> None:
    assert refusal_reason(_interpreter(**overrides)) == reason


def test_refusal_is_raised_only_when_selected() -> None:
    meta = SymlinkSafe.can_create(_interpreter(platform="darwin"))
    assert isinstance(meta, Refusal)
    assert meta.error is None  # stays a --creator choice, so the user gets the reason, not "invalid choice"
    with pytest.raises(RuntimeError, match=r"^the symlink-safe creator cannot create .* not darwin$"):
        SymlinkSafe.add_parser_arguments(None, _interpreter(), meta, None)  # type: ignore[arg-type]


def test_plugin_import_survives_a_virtualenv_without_the_layout(runner: Runner) -> None:
    code = (
        "import sys; sys.modules['virtualenv.create.via_global_ref.builtin.cpython.cpython3'] = None\n"
        "from types import SimpleNamespace as N\n"
        "from virtualenv_symlink_safe.creator import SymlinkSafe\n"
        "i = N(os='posix', platform='linux', implementation='CPython', version_info=(3, 12, 0), executable='x')\n"
        "print(SymlinkSafe.can_create(i).reason)\n"
    )
    out = runner.run([sys.executable, "-c", code], check=True).stdout
    assert out.startswith("this virtualenv version is not supported")


@pytest.mark.contract("rule 8")
def test_install_stub_falls_back_to_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object, **__: object) -> None:  # os.link is called with its dir_fd keywords
        raise PermissionError(1, "hard links refused here")

    monkeypatch.setattr(os, "link", refuse)
    install_stub(tmp_path, ["python", "python3"])
    assert (tmp_path / "python3").read_bytes() == PACKAGE_STUB.read_bytes()
    assert not (tmp_path / "python").samefile(tmp_path / "python3")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["python", "python3"]


@pytest.mark.parametrize("seeder", ["app-data", "pip"])
def test_seeders(runner: Runner, work: Path, seeder: str) -> None:
    venv = runner.create(NEWEST, work / "env", "--seeder", seeder, seed=True)
    (work / "pip-link").symlink_to(venv.bin / "python3")
    out = runner.run([work / "pip-link", "-m", "pip", "--version"], check=True).stdout
    assert str(venv.site_packages) in out


def test_installed_as_a_platform_wheel() -> None:
    """The stub is native code: the wheel must say so, for any Python 3 (the stub links no libpython)."""
    wheel = distribution("virtualenv-symlink-safe").read_text("WHEEL") or ""
    tags = [line.split(": ", 1)[1] for line in wheel.splitlines() if line.startswith("Tag: ")]
    assert tags
    assert all(tag.startswith("py3-none-linux_") for tag in tags), tags


@pytest.mark.parametrize("how", ["create", "create-clear", "convert"])
def test_nothing_new_in_a_git_repository(runner: Runner, work: Path, how: str) -> None:
    """``.venv`` in a project leaves ``git status`` as it was: the environment ignores itself, nothing lies beside."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = work / "project"
    repo.mkdir()
    (repo / "README").write_text("a project\n")
    runner.run(["git", "init", "-q", str(repo)], check=True)
    status = ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=all"]
    app = ["--app-data", str(runner.app_data), "-p", str(NEWEST.exe), "--no-seed"]
    virtualenv = [sys.executable, "-m", "virtualenv", *app]
    if how == "convert":
        runner.run([*virtualenv, "--creator", "cpython3-posix", ".venv"], cwd=repo, check=True)
    before = runner.run(status, check=True).stdout
    if how == "convert":
        runner.run([sys.executable, "-m", "virtualenv_symlink_safe", "convert", ".venv"], cwd=repo, check=True)
    else:
        runner.run([*virtualenv, "--creator", "symlink-safe", ".venv"], cwd=repo, check=True)
        if how == "create-clear":
            runner.run([*virtualenv, "--creator", "symlink-safe", "--clear", ".venv"], cwd=repo, check=True)
    assert (repo / ".venv" / "bin" / "python").read_bytes() == PACKAGE_STUB.read_bytes()
    assert runner.run(status, check=True).stdout == before == "?? README\n"
    assert sorted(p.name for p in repo.iterdir()) == [".git", ".venv", "README"]


def test_plugin_import_does_no_work(runner: Runner) -> None:
    """virtualenv imports every creator plugin on every run: ours loads nothing of virtualenv's or filelock's then."""
    code = (
        "import sys; before = set(sys.modules); import virtualenv_symlink_safe.creator\n"
        "print(sorted(m for m in set(sys.modules) - before if m.partition('.')[0] in {'virtualenv', 'filelock'}))\n"
    )
    assert runner.run([sys.executable, "-c", code], check=True).stdout == "[]\n"


def test_creator_without_its_layout_has_no_attributes() -> None:
    """``hasattr`` on a creator whose layout is not built (its constructor failed) says False instead of recursing."""
    creator = SymlinkSafe.__new__(SymlinkSafe)
    assert not hasattr(creator, "dest")
    assert not hasattr(creator, "_creator")
