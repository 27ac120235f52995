"""The stub built for 32-bit glibc (i686, armv7l) reads files whose times or inode numbers do not fit 32 bits.

Without ``_FILE_OFFSET_BITS=64`` and ``_TIME_BITS=64`` a 32-bit glibc program's ``stat`` fails with ``EOVERFLOW`` on
a file dated after January 2038 or with an inode number above 2^32 (XFS, btrfs, overlayfs): the stub could then not
tell which file is running (status 101) or find its ``pyvenv.cfg`` (102), where the interpreter itself runs fine.
A date is the one of the two a test can make on any file system, so the files here are dated 2040.

The stub is built for 32 bits natively where the tests run on a 32-bit interpreter (the i686 and armv7l roots of
``tox -e arch``), with Debian's ``i686-linux-gnu-gcc`` on x86_64 (``.ci/run`` installs it); a 64-bit build has
64-bit times always, so elsewhere the test skips. A control program built the same way without the two defines
must fail on the same file, or the test could not fail.
"""

from __future__ import annotations

import os
import platform
import shutil
import struct
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from conftest import newest

if TYPE_CHECKING:
    from conftest import Runner

SOURCE = Path(__file__).parent.parent / "src" / "stub" / "stub.c"
#: 2040-01-01T00:00:00Z, past the last second a signed 32-bit time_t holds (2038-01-19T03:14:07Z).
AFTER_2038 = 2208988800

CONTROL = r"""
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
int main(int argc, char **argv) {
    struct stat st;
    if (argc != 2) return 2;
    if (stat(argv[1], &st) != 0) { puts(strerror(errno)); return errno == EOVERFLOW ? 75 : 1; }
    return 0;
}
"""


def compiler_for_32_bit() -> list[str]:
    """A compiler command that builds a 32-bit program for this machine."""
    if struct.calcsize("P") == 4:
        cc = shutil.which("cc") or shutil.which("gcc")
        assert cc is not None, "no C compiler: the root lacks gcc"
        return [cc]
    if platform.machine() != "x86_64":
        pytest.skip(f"a 64-bit build on {platform.machine()} has 64-bit times; the armv7l root runs this test")
    cross = shutil.which("i686-linux-gnu-gcc")
    assert cross is not None, "i686-linux-gnu-gcc is missing: apt-get install gcc-i686-linux-gnu (.ci/run does)"
    return [cross]


def build(cc: list[str], source: Path, out: Path) -> Path:
    subprocess.run([*cc, "-std=c99", "-O2", "-static", "-o", out, source], check=True, capture_output=True)
    return out


def date_after_2038(*paths: Path) -> None:
    for path in paths:
        os.utime(path, (AFTER_2038, AFTER_2038), follow_symlinks=False)


def test_32_bit_stub_runs_from_files_dated_after_2038(runner: Runner, tmp_path: Path) -> None:
    cc = compiler_for_32_bit()
    work = tmp_path.resolve()
    stub = build(cc, SOURCE, work / "stub32")
    control_source = work / "control.c"
    control_source.write_text(CONTROL)
    control = build(cc, control_source, work / "control32")

    venv = runner.create(newest(), work / "venv")
    venv.python.unlink()
    shutil.copy2(stub, venv.python)
    link = work / "link"
    link.symlink_to(venv.python)
    date_after_2038(venv.python, venv.cfg, venv.bin, venv.path)

    # The control: a 32-bit program built without the defines cannot stat these files, so the stub's run below
    # shows that its defines work, not that this machine never overflows.
    for path in (venv.python, venv.cfg):
        refused = runner.run([control, path])
        assert refused.returncode == 75, f"stat of {path} without _TIME_BITS=64: {refused.stdout.strip()}"

    for invoked in (venv.python, link):
        result = runner.run([invoked, "-c", "import sys; print(sys.prefix)"])
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout.strip() == str(venv.path)
