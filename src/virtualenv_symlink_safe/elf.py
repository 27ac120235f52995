"""Read the ELF header fields that tools inspect on ``sys.executable``; compare the stub's with an interpreter's.

pip's ``packaging`` reads the ELF class, data encoding, machine and flags of ``sys.executable`` to pick armv7l and
i686 wheel tags, and its ``PT_INTERP`` loader path to pick musllinux tags. In a stub environment ``sys.executable``
is the stub, so these must match the base interpreter's (contract rule 5).
"""

from __future__ import annotations

import struct
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .stub import stub_resource

if TYPE_CHECKING:
    import os
    from typing import BinaryIO

_MAGIC = b"\x7fELF"
_IDENT_SIZE = 16
_CLASSES = {1: "32-bit", 2: "64-bit"}
_ENCODINGS = {1: "<", 2: ">"}  # little, big endian
_PT_INTERP = 3
#: Bounds that keep a hostile or broken file from making us read much: far above any real executable's.
_MAX_PROGRAM_HEADERS = 4096
_MAX_INTERPRETER = 4096


class ElfError(ValueError):
    """The file is not an ELF file this module can read: truncated, not ELF, or out of bounds."""


@dataclass(frozen=True)
class ElfHeader:
    """The fields of an executable that decide which wheels and libraries fit it; equal when all fields are."""

    elf_class: int
    """``EI_CLASS``: 1 for 32-bit, 2 for 64-bit."""
    encoding: int
    """``EI_DATA``: 1 for little endian, 2 for big endian."""
    machine: int
    """``e_machine``, e.g. 62 for x86-64, 40 for ARM, 183 for AArch64."""
    flags: int
    """``e_flags``: processor specific, e.g. the ARM hard-float ABI bit."""
    interpreter: str | None
    """The ``PT_INTERP`` loader path, ``None`` for a statically linked file."""

    def __repr__(self) -> str:
        """Show the fields as the constructor takes them, flags in hex, for test failures."""
        return "ElfHeader({}, {}, {}, {:#x}, {!r})".format(*astuple(self))

    def describe(self) -> str:
        """Describe the header in a few words, for error messages.

        :returns: e.g. ``64-bit little endian machine 62 flags 0x0, loader /lib64/ld-linux-x86-64.so.2``

        """
        bits = _CLASSES.get(self.elf_class, f"class {self.elf_class}")
        order = {1: "little endian", 2: "big endian"}.get(self.encoding, f"encoding {self.encoding}")
        loader = f"loader {self.interpreter}" if self.interpreter else "statically linked"
        return f"{bits} {order} machine {self.machine} flags {self.flags:#x}, {loader}"


def read_header(path: str | os.PathLike[str]) -> ElfHeader:
    """Read the ELF identification, machine, flags and loader of an executable.

    :param path: the file to read

    :returns: the header fields

    :raises ElfError: when the file is not a readable ELF file
    :raises OSError: when the file cannot be opened or read

    """
    with Path(path).open("rb") as file:
        ident = file.read(64)
        if len(ident) < _IDENT_SIZE or ident[: len(_MAGIC)] != _MAGIC:
            msg = f"{path} is not an ELF file"
            raise ElfError(msg)
        elf_class, encoding = ident[4], ident[5]
        if elf_class not in _CLASSES or encoding not in _ENCODINGS:
            msg = f"{path} has an unknown ELF class {elf_class} or data encoding {encoding}"
            raise ElfError(msg)
        order = _ENCODINGS[encoding]
        # After e_ident: e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize, e_phentsize,
        # e_phnum; addresses and offsets are 4 bytes in 32-bit files, 8 in 64-bit ones.
        layout = f"{order}HHIIIIIHHH" if elf_class == 1 else f"{order}HHIQQQIHHH"
        size = struct.calcsize(layout)
        if len(ident) < _IDENT_SIZE + size:
            msg = f"{path} is truncated inside its ELF header"
            raise ElfError(msg)
        _, machine, _, _, phoff, _, flags, _, phentsize, phnum = struct.unpack_from(layout, ident, _IDENT_SIZE)
        # p_type, p_offset, p_filesz of each program header; 32-bit files put p_flags last, 64-bit ones second.
        entry = f"{order}II8xI" if elf_class == 1 else f"{order}I4xQ16xQ"
        interpreter = _read_interpreter(file, path, entry=entry, phoff=phoff, phentsize=phentsize, phnum=phnum)
    return ElfHeader(elf_class, encoding, machine, flags, interpreter)


def _read_interpreter(  # noqa: PLR0913  # the header fields it needs, read once by the caller
    file: BinaryIO, path: str | os.PathLike[str], *, entry: str, phoff: int, phentsize: int, phnum: int
) -> str | None:
    if phnum == 0:
        return None
    if phnum > _MAX_PROGRAM_HEADERS or phentsize < struct.calcsize(entry):
        msg = f"{path} has {phnum} program headers of {phentsize} bytes, out of bounds"
        raise ElfError(msg)
    file.seek(phoff)
    table = file.read(phnum * phentsize)
    if len(table) < phnum * phentsize:
        msg = f"{path} is truncated inside its program headers"
        raise ElfError(msg)
    for index in range(phnum):
        kind, offset, size = struct.unpack_from(entry, table, index * phentsize)
        if kind != _PT_INTERP:
            continue
        if not 0 < size <= _MAX_INTERPRETER:
            msg = f"{path} has a loader path of {size} bytes, out of bounds"
            raise ElfError(msg)
        file.seek(offset)
        raw = file.read(size)
        if len(raw) < size or raw[-1:] != b"\0":
            msg = f"{path} is truncated inside its loader path"
            raise ElfError(msg)
        return raw[:-1].decode("utf-8", "surrogateescape")
    return None


def _is_musl(header: ElfHeader) -> bool:
    return header.interpreter is not None and "ld-musl-" in header.interpreter


def mismatch(stub: ElfHeader, interpreter: ElfHeader) -> str | None:
    """Say how the stub differs from the interpreter in what tools read from ``sys.executable``.

    Class, data encoding, machine and flags must be equal. The loader must be equal when the stub has one (a
    dynamically linked stub) or the interpreter is linked against musl (``packaging`` then derives the musllinux
    tags from it). The OS/ABI byte is not compared: static glibc binaries say GNU/Linux where the same
    toolchain's dynamic ones say System V, and no tool reads it.

    :param stub: the stub's header
    :param interpreter: the interpreter's header

    :returns: the difference in one line, or ``None`` when the stub fits the interpreter

    """
    fields = (
        ("ELF class", stub.elf_class, interpreter.elf_class),
        ("data encoding", stub.encoding, interpreter.encoding),
        ("machine", stub.machine, interpreter.machine),
        ("ELF flags", stub.flags, interpreter.flags),
    )
    for name, ours, theirs in fields:
        if ours != theirs:
            return f"the stub's {name} ({stub.describe()}) differs from the interpreter's ({interpreter.describe()})"
    if (stub.interpreter is not None or _is_musl(interpreter)) and stub.interpreter != interpreter.interpreter:
        ours_loader = stub.interpreter or "none, statically linked"
        theirs_loader = interpreter.interpreter or "none, statically linked"
        return f"the stub's loader ({ours_loader}) differs from the interpreter's ({theirs_loader})"
    return None


def stub_mismatch(executable: str | os.PathLike[str]) -> str | None:
    """Say why this installation's stub cannot stand in for an interpreter, in one line.

    :param executable: the interpreter's executable; symlinks are resolved to the real file

    :returns: the reason, or ``None`` when the stub fits the interpreter or the interpreter cannot be read

    """
    real = Path(executable).resolve()
    try:
        theirs = read_header(real)
    except OSError:
        # An execute-only interpreter runs fine behind the stub; one that is missing fails in virtualenv anyway.
        return None
    except ElfError as exception:
        return f"cannot read the ELF header of the interpreter {real}: {exception}"
    try:
        ours = read_header(stub_resource())
    except (OSError, ElfError) as exception:
        return f"cannot read the ELF header of the compiled stub: {exception}"
    if (difference := mismatch(ours, theirs)) is not None:
        return f"the compiled stub does not fit {real}: {difference}; build virtualenv-symlink-safe for this platform"
    return None


__all__ = [
    "ElfError",
    "ElfHeader",
    "mismatch",
    "read_header",
    "stub_mismatch",
]
