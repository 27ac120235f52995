"""The ELF reader on real files, and the stub compatibility check the creator makes (contract rule 5)."""

from __future__ import annotations

import os
import platform
import shutil
import struct
import sys
from importlib.resources import files
from pathlib import Path
from typing import NamedTuple

import pytest

from virtualenv_symlink_safe.elf import ElfError, ElfHeader, mismatch, read_header, stub_mismatch
from virtualenv_symlink_safe.stub import STUB_NAME

X86_64 = 62
ARM = 40
GLIBC_LOADER = "/lib64/ld-linux-x86-64.so.2"
MUSL_LOADER = "/lib/ld-musl-x86_64.so.1"


class Machine(NamedTuple):
    """What the ELF files of one architecture say, as its ABI fixes it: ``read_header`` must read exactly this."""

    elf_class: int
    encoding: int
    machine: int
    glibc_loader: str
    musl_loader: str


#: Every architecture the wheels claim, by ``platform.machine()``: the ELF class, data encoding and machine of its
#: programs and the paths of glibc's and musl's loaders there (each ABI's document; Debian's libc6 ships glibc's).
MACHINES = {
    "x86_64": Machine(2, 1, X86_64, GLIBC_LOADER, MUSL_LOADER),
    "i686": Machine(1, 1, 3, "/lib/ld-linux.so.2", "/lib/ld-musl-i386.so.1"),
    "aarch64": Machine(2, 1, 183, "/lib/ld-linux-aarch64.so.1", "/lib/ld-musl-aarch64.so.1"),
    "armv7l": Machine(1, 1, ARM, "/lib/ld-linux-armhf.so.3", "/lib/ld-musl-armhf.so.1"),
    # 32-bit ARM on a 64-bit CPU, as qemu-arm and arm64 kernels report it
    "armv8l": Machine(1, 1, ARM, "/lib/ld-linux-armhf.so.3", "/lib/ld-musl-armhf.so.1"),
    "ppc64le": Machine(2, 1, 21, "/lib64/ld64.so.2", "/lib/ld-musl-powerpc64le.so.1"),
    "s390x": Machine(2, 2, 22, "/lib/ld64.so.1", "/lib/ld-musl-s390x.so.1"),
    "riscv64": Machine(2, 1, 243, "/lib/ld-linux-riscv64-lp64d.so.1", "/lib/ld-musl-riscv64.so.1"),
}


def this_machine() -> Machine:
    """The architecture the tests run on; an unlisted one fails, as the wheels do not claim it."""
    name = platform.machine()
    assert name in MACHINES, f"{name} is not an architecture the wheels claim"
    return MACHINES[name]


class Offsets(NamedTuple):
    """Where the ELF header fields a test patches lie, which depends on the file's class."""

    header_size: int  # e_ehsize
    flags: int  # e_flags
    phnum: int  # e_phnum
    order: str  # struct's byte order for the file's data encoding


def offsets(data: bytes | bytearray) -> Offsets:
    """The field offsets of this ELF file, from its own class and data encoding (the ELF spec's layout)."""
    order = "<" if data[5] == 1 else ">"
    return Offsets(52, 36, 44, order) if data[4] == 1 else Offsets(64, 48, 56, order)


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


def test_stub_is_static_for_this_machine() -> None:
    header = read_header(installed_stub())
    machine = this_machine()
    assert (header.elf_class, header.encoding, header.machine) == machine[:3]
    assert header.flags == read_header(HOST_INTERPRETER).flags, "e.g. ARM's hard-float bit, as the interpreter's"
    assert header.interpreter is None, "the stub built here must be statically linked (contract rule 5)"


def test_bin_true() -> None:
    header = read_header(Path("/bin/true"))
    machine = this_machine()
    assert (header.elf_class, header.encoding, header.machine) == machine[:3]
    assert header.interpreter == machine.glibc_loader


def test_32_bit_big_endian(tmp_path: Path) -> None:
    header = read_header(elf32_big_endian(tmp_path / "arm", b"/lib/ld-linux-armhf.so.3\0"))
    assert header == ElfHeader(1, 2, ARM, 0x5000400, "/lib/ld-linux-armhf.so.3")
    assert header.describe() == "32-bit big endian machine 40 flags 0x5000400, loader /lib/ld-linux-armhf.so.3"


def test_loader_without_nul_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ElfError, match="loader path"):
        read_header(elf32_big_endian(tmp_path / "arm", b"/lib/ld-linux-armhf.so.3"))


def program_headers_end(data: bytes | bytearray) -> int:
    """Where the program header table of this ELF file ends."""
    layout = offsets(data)
    # e_phoff is 4 bytes at 28 in a 32-bit file, 8 at 32 in a 64-bit one; e_phentsize lies just before e_phnum.
    (phoff,) = struct.unpack_from(f"{layout.order}{'I' if data[4] == 1 else 'Q'}", data, 28 if data[4] == 1 else 32)
    phentsize, phnum = struct.unpack_from(f"{layout.order}HH", data, layout.phnum - 2)
    end: int = phoff + phentsize * phnum
    return end


@pytest.mark.parametrize("cut", ["empty", "magic", "ident", "inside header", "header only", "program headers"])
def test_truncated_stub(tmp_path: Path, cut: str) -> None:
    data = installed_stub().read_bytes()
    header_size = offsets(data).header_size
    size = {
        "empty": 0,
        "magic": 3,
        "ident": 16,
        "inside header": header_size - 12,
        "header only": header_size,
        "program headers": program_headers_end(data) - 1,
    }[cut]
    truncated = tmp_path / "truncated"
    truncated.write_bytes(data[:size])
    with pytest.raises(ElfError):
        read_header(truncated)


@pytest.mark.parametrize("cut", ["program headers", "loader path"])
def test_truncated_interpreter(tmp_path: Path, cut: str) -> None:
    # Past the ELF header, short of the loader path: the program headers or the path are cut.
    data = HOST_INTERPRETER.read_bytes()
    loader = data.index(f"{read_header(HOST_INTERPRETER).interpreter}\0".encode())
    size = {"program headers": program_headers_end(data) - 1, "loader path": loader + 4}[cut]
    assert offsets(data).header_size < size < loader + 5
    truncated = tmp_path / "truncated"
    truncated.write_bytes(data[:size])
    with pytest.raises(ElfError, match="truncated"):
        read_header(truncated)


def test_garbage(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(ElfError, match="not an ELF file"):
        read_header(garbage)


def test_huge_program_header_count(tmp_path: Path) -> None:
    data = bytearray(installed_stub().read_bytes()[:64])
    layout = offsets(data)
    struct.pack_into(f"{layout.order}H", data, layout.phnum, 0xFFFF)
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
@pytest.mark.parametrize("field", ["machine", "ELF flags"])
def test_patched_interpreter_is_refused(tmp_path: Path, field: str) -> None:
    # A copy of a real interpreter with e_machine or e_flags changed, as a foreign build would carry them.
    data = bytearray(HOST_INTERPRETER.read_bytes())
    layout = offsets(data)
    # e_machine is at 18 in either class; the lowest byte of a field is its first or last, by the data encoding.
    offset, width = (18, 2) if field == "machine" else (layout.flags, 4)
    data[offset if layout.order == "<" else offset + width - 1] ^= 0x01
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
