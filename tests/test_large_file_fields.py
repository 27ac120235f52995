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

#: Dates the files: a 32-bit Python (i386 Debian's) has a 32-bit time_t and cannot, so a program built here does.
DATER = r"""
#define _XOPEN_SOURCE 700
#define _FILE_OFFSET_BITS 64
#define _TIME_BITS 64
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
int main(int argc, char **argv) {
    struct timespec when[2];
    when[0].tv_sec = when[1].tv_sec = (time_t)strtoll(argv[1], NULL, 10);
    when[0].tv_nsec = when[1].tv_nsec = 0;
    for (int i = 2; i < argc; i++)
        if (utimensat(AT_FDCWD, argv[i], when, AT_SYMLINK_NOFOLLOW) != 0) return 1;
    return 0;
}
"""

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


def compile_source(cc: list[str], text: str, out: Path) -> Path:
    source = out.with_suffix(".c")
    source.write_text(text)
    return build(cc, source, out)


def test_32_bit_stub_runs_from_files_dated_after_2038(runner: Runner, tmp_path: Path) -> None:
    cc = compiler_for_32_bit()
    work = tmp_path.resolve()
    stub = build(cc, SOURCE, work / "stub32")
    control = compile_source(cc, CONTROL, work / "control32")
    dater = compile_source(cc, DATER, work / "dater32")

    venv = runner.create(newest(), work / "venv")
    venv.python.unlink()
    shutil.copy2(stub, venv.python)
    link = work / "link"
    link.symlink_to(venv.python)
    runner.run([dater, str(AFTER_2038), venv.python, venv.cfg, venv.bin, venv.path], check=True)

    # The control: a 32-bit program built without the defines cannot stat these files, so the stub's run below
    # shows that its defines work, not that this machine never overflows.
    for path in (venv.python, venv.cfg):
        refused = runner.run([control, path])
        assert refused.returncode == 75, f"stat of {path} without _TIME_BITS=64: {refused.stdout.strip()}"

    # The stub's part is to hand over with argv[0] in the environment, which its trace shows. Whether the
    # interpreter then finds its pyvenv.cfg is its own business: a 32-bit CPython without _TIME_BITS=64 (i386
    # Debian's) cannot stat it either and starts as the base interpreter, as it would when started plainly.
    wide_time = runner.run([venv.target.exe, "-c", f"import os; os.stat({str(venv.cfg)!r})"]).returncode == 0
    for invoked in (venv.python, link):
        result = runner.run(
            [invoked, "-c", "import sys; print(sys.prefix)"], env={**runner.environ, "SYMLINK_SAFE_TRACE": "1"}
        )
        assert result.returncode == 0, result.stderr
        assert f" with argv[0] {venv.python}\n" in result.stderr, result.stderr
        if wide_time:
            assert result.stdout.strip() == str(venv.path)
