"""Rule 1.3: the stub knows which file is running, whether its user may read it or only execute it.

The stub opens ``/proc/self/exe`` and reads the open file's device and inode: qemu-user translates that open to the
emulated program, where a ``stat`` of the link describes the emulator (``tox run -e arch`` runs these rules under
qemu). A user who may only execute the stub cannot open it; the stub then takes ``stat`` of the link, which the
kernel answers for any user. Either way ``argv[0]``, leading to the running file, is believed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import targets

if TYPE_CHECKING:
    from collections.abc import Iterator

    from conftest import Runner

NOBODY = 65534


def reachable_by_others(path: Path) -> bool:
    """Whether a user other than the owner may run the file: it and every folder above it are open to others."""
    return path.stat().st_mode & 0o001 != 0 and all(folder.stat().st_mode & 0o001 for folder in path.parents)


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Path]:
    """A folder every user may pass through, owned by root, gone after the test."""
    del tmp_path  # pytest's own folders are private to root
    folder = Path(tempfile.mkdtemp(prefix="symlink-safe-identity-", dir="/tmp")).resolve()
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.mark.contract("rule 1.3")
@pytest.mark.parametrize("mode", [0o755, 0o711], ids=["readable", "execute-only"])
def test_argv0_is_believed_for_a_stub_its_user_cannot_read(runner: Runner, shared: Path, mode: int) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root, to run the stub as another user")
    reachable = [t for t in targets() if not t.is_pypy and reachable_by_others(Path(os.path.realpath(t.exe)))]
    if not reachable:
        pytest.skip("no interpreter here that other users may run")
    as_nobody = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    if mode == 0o711:
        # qemu-user registered without binfmt_misc's O flag opens the program itself, as the user: an execute-only
        # program does not run at all there, so only the readable case (open + fstat) can be exercised.
        true = shared / "true"
        shutil.copy(shutil.which("true") or "/bin/true", true)
        true.chmod(mode)
        if runner.run([*as_nobody, true]).returncode != 0:
            pytest.skip("an execute-only program does not run here (an emulator without binfmt_misc's O flag)")
    venv = runner.create(reachable[0], shared / "env")
    venv.python.chmod(mode)
    link = shared / "link"
    link.symlink_to(venv.python)
    env = {"PATH": "/usr/bin:/bin", "SYMLINK_SAFE_TRACE": "1"}
    result = runner.run([*as_nobody, link, "-c", "import sys; print(sys.prefix)"], env=env)
    assert result.returncode == 0, result.stderr
    assert f"trace: invocation path {link}\n" in result.stderr, result.stderr
    assert result.stdout.strip() == str(venv.path)
