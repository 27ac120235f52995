"""The ELF reader on real files, and the stub compatibility check the creator makes (contract rule 5)."""

from __future__ import annotations

import os
import shutil
import struct
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from virtualenv_symlink_safe.elf import ElfError, ElfHeader, mismatch, read_header, stub_mismatch
from virtualenv_symlink_safe.stub import STUB_NAME

X86_64 = 62
ARM = 40
GLIBC_LOADER = "/lib64/ld-linux-x86-64.so.2"
MUSL_LOADER = "/lib/ld-musl-x86_64.so.1"


def installed_stub() -> Path:
    return Path(str(files("virtualenv_symlink_safe").joinpath(STUB_NAME)))


#: A real, dynamically linked interpreter that every test run has: the one running the tests.
HOST_INTERPRETER = Path(os.path.realpath(sys.executable))


def elf32_big_endian(path: Path, loader: bytes) -> Path:
    """A 32-bit big-endian ARM header with one PT_INTERP program header, laid out as the ELF spec says."""
    phoff, phentsize = 52, 32
    loader_offset = phoff + phentsize
    header = b"\x7fELF" + bytes([1, 2, 1]) + bytes(9)
    header += struct.pack(">HHIIIIIHHHHHH", 2, ARM, 1, 0, phoff, 0, 0x5000400, 52, phentsize, 1, 40, 0, 0)
    program = struct.pack(">IIIIIIII", 3, loader_offset, 0, 0, len(loader), len(loader), 4, 1)
    path.write_bytes(header + program + loader)
    return path


def test_stub_is_static_x86_64() -> None:
    header = read_header(installed_stub())
    assert (header.elf_class, header.encoding, header.machine, header.flags) == (2, 1, X86_64, 0)
    assert header.interpreter is None, "the stub built here must be statically linked (contract rule 5)"


def test_bin_true() -> None:
    header = read_header(Path("/bin/true"))
    assert header.machine == X86_64
    assert header.interpreter == GLIBC_LOADER


def test_32_bit_big_endian(tmp_path: Path) -> None:
    header = read_header(elf32_big_endian(tmp_path / "arm", b"/lib/ld-linux-armhf.so.3\0"))
    assert header == ElfHeader(1, 2, ARM, 0x5000400, "/lib/ld-linux-armhf.so.3")
    assert header.describe() == "32-bit big endian machine 40 flags 0x5000400, loader /lib/ld-linux-armhf.so.3"


def test_loader_without_nul_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ElfError, match="loader path"):
        read_header(elf32_big_endian(tmp_path / "arm", b"/lib/ld-linux-armhf.so.3"))


@pytest.mark.parametrize("size", [0, 3, 16, 40, 63, 100, 300])  # its program headers end at 400
def test_truncated_stub(tmp_path: Path, size: int) -> None:
    truncated = tmp_path / "truncated"
    truncated.write_bytes(installed_stub().read_bytes()[:size])
    with pytest.raises(ElfError):
        read_header(truncated)


@pytest.mark.parametrize("size", [100, 600, 800])  # program headers, then the loader path, are cut
def test_truncated_interpreter(tmp_path: Path, size: int) -> None:
    # Past the ELF header, short of the loader path: the program headers or the path are cut.
    truncated = tmp_path / "truncated"
    truncated.write_bytes(HOST_INTERPRETER.read_bytes()[:size])
    with pytest.raises(ElfError, match="truncated"):
        read_header(truncated)


def test_garbage(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(ElfError, match="not an ELF file"):
        read_header(garbage)


def test_huge_program_header_count(tmp_path: Path) -> None:
    data = bytearray(installed_stub().read_bytes()[:64])
    struct.pack_into("<H", data, 56, 0xFFFF)  # e_phnum of a 64-bit header
    hostile = tmp_path / "hostile"
    hostile.write_bytes(bytes(data))
    with pytest.raises(ElfError, match="out of bounds"):
        read_header(hostile)


def test_script_is_not_elf(tmp_path: Path) -> None:
    script = tmp_path / "python"
    script.write_text('#!/bin/sh\nexec python3 "$@"\n')
    with pytest.raises(ElfError, match="not an ELF file"):
        read_header(script)
    assert (
        stub_mismatch(str(script))
        == f"cannot read the ELF header of the interpreter {script}: {script} is not an ELF file"
    )


def test_unreadable_interpreter_is_not_refused(tmp_path: Path) -> None:
    # Execute-only interpreters run behind the stub; their header cannot be checked, which is no reason to refuse.
    assert stub_mismatch(str(tmp_path / "missing")) is None
    with pytest.raises(OSError, match="No such file"):
        read_header(tmp_path / "missing")


STATIC = ElfHeader(2, 1, X86_64, 0, None)
GLIBC = ElfHeader(2, 1, X86_64, 0, GLIBC_LOADER)
MUSL = ElfHeader(2, 1, X86_64, 0, MUSL_LOADER)


@pytest.mark.contract("rule 5")
@pytest.mark.parametrize(
    ("stub", "interpreter", "expected"),
    [
        (STATIC, GLIBC, None),
        (STATIC, STATIC, None),
        (GLIBC, GLIBC, None),
        (MUSL, MUSL, None),
        (STATIC, MUSL, f"the stub's loader (none, statically linked) differs from the interpreter's ({MUSL_LOADER})"),
        (MUSL, GLIBC, f"the stub's loader ({MUSL_LOADER}) differs from the interpreter's ({GLIBC_LOADER})"),
        (GLIBC, STATIC, f"the stub's loader ({GLIBC_LOADER}) differs from the interpreter's (none, statically linked)"),
        (
            ElfHeader(2, 2, X86_64, 0, None),
            STATIC,
            (
                "the stub's data encoding (64-bit big endian machine 62 flags 0x0, statically linked) differs from the "
                "interpreter's (64-bit little endian machine 62 flags 0x0, statically linked)"
            ),
        ),
        (
            ElfHeader(1, 1, X86_64, 0, None),
            GLIBC,
            (
                "the stub's ELF class (32-bit little endian machine 62 flags 0x0, statically linked) differs from the "
                f"interpreter's (64-bit little endian machine 62 flags 0x0, loader {GLIBC_LOADER})"
            ),
        ),
    ],
)
def test_mismatch(stub: ElfHeader, interpreter: ElfHeader, expected: str | None) -> None:
    assert mismatch(stub, interpreter) == expected


@pytest.mark.contract("rule 5")
@pytest.mark.parametrize(("offset", "field"), [(18, "machine"), (48, "ELF flags")])
def test_patched_interpreter_is_refused(tmp_path: Path, offset: int, field: str) -> None:
    # A copy of a real interpreter with e_machine or e_flags changed, as a foreign build would carry them.
    data = bytearray(HOST_INTERPRETER.read_bytes())
    data[offset] ^= 0x01
    foreign = tmp_path / "python3"
    foreign.write_bytes(bytes(data))
    reason = stub_mismatch(str(foreign))
    assert reason is not None
    assert reason.startswith(f"the compiled stub does not fit {foreign}: the stub's {field} (")
    assert reason.endswith("; build virtualenv-symlink-safe for this platform")
    assert "\n" not in reason


def test_symlink_is_resolved(tmp_path: Path) -> None:
    foreign = tmp_path / "python3.99"
    shutil.copyfile(HOST_INTERPRETER, foreign)
    data = bytearray(foreign.read_bytes())
    data[18] ^= 0x01
    foreign.write_bytes(bytes(data))
    (tmp_path / "python").symlink_to("python3.99")
    reason = stub_mismatch(str(tmp_path / "python"))
    assert reason is not None
    assert f"does not fit {foreign}:" in reason
