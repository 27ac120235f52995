"""Ask the stub what it decides for an invocation path: the one implementation of contract rules 1 to 3.

The stub, run as ``stub --symlink-safe-decide PATH`` (contract rule 7.2), walks from ``PATH`` exactly as it does when
started through it, and writes each step of its decision on standard output as a record ``key=value`` ended by a NUL
byte, instead of starting the base interpreter. :func:`decide` runs it and reads those records, so Python code that
needs a decision (``convert``, ``explain``) gets the stub's own, never a copy of its rules.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Unserved
from .stub import stub_resource

#: The option that puts the stub in its query mode (contract rule 7.2); plain Python rejects it, exit status 2.
QUERY_OPTION = "--symlink-safe-decide"
#: The version of the record format this module reads: the stub's first record is ``format=1``.
FORMAT = "1"
#: A bound on one query: the walk makes a few dozen system calls, but a hung file system must not hang the caller.
TIMEOUT = 60


class StubUnavailable(Unserved):
    """The stub cannot be asked: missing, not runnable, or what it wrote is not a decision in the known format."""


@dataclass(frozen=True)
class Decision:
    """What the stub decides for one invocation path (contract rules 2 and 3), and why.

    Paths are as the stub has them: absolute, unresolved, decoded with :func:`os.fsdecode`; ``base`` is as
    ``pyvenv.cfg`` names it, so it may be relative (to the caller's working directory, where the stub would run it).
    A field the stub did not reach before it failed is ``None`` (or empty).
    """

    invoked: Path
    """The invocation path, made absolute against the working directory, not resolved."""
    status: int
    """0 when the stub would start ``base``; else its failure's own exit status, 101 to 113."""
    message: str | None = None
    """The stub's one-line failure message (without the ``symlink-safe:`` prefix); ``None`` when ``status`` is 0."""
    environment: Path | None = None
    """The ``argv[0]`` the base would get: the invocation's path inside the environment found."""
    cfg: Path | None = None
    """The environment's ``pyvenv.cfg``: the one that decided the environment (rule 2)."""
    key: str | None = None
    """The key that named ``base``: ``base-executable``, ``executable`` or ``home``, in the last ``pyvenv.cfg``
    read (the environment's own, unless bases were stubs: then the innermost one)."""
    base: Path | None = None
    """The interpreter the stub would start, never a stub (rule 3.3)."""
    steps: tuple[Path, ...] = ()
    """Each step of the walk to the environment (rule 2): the invocation path, then each link's target."""
    ignored: tuple[tuple[Path, str], ...] = ()
    """Each ``pyvenv.cfg`` passed over by rule 2.6 on the way, and why, in the order met."""
    nested: tuple[Path, ...] = ()
    """Each stub met as a base on the way to the real one (rule 3.3), as ``pyvenv.cfg`` named it."""
    found_by: str | None = None
    """Which check of rule 2 found the environment: ``lexical`` (CPython finds it too) or ``physical``."""
    launcher: Path | None = None
    """The launcher of a converted interpreter installation met as the base, or as the end of a walk that found no
    environment (contract rule 10), resolved; ``base`` is then its companion, the real interpreter. When the walk
    settled on no environment (``key`` is ``None``), the companion is started with the arguments unchanged."""

    @property
    def decided(self) -> bool:
        """Whether the stub would start a base interpreter."""
        return self.status == 0


def decide(path: str | os.PathLike[str], *, stub: Path | None = None) -> Decision:
    """Ask the stub what it decides for an invocation through ``path``, without starting any interpreter.

    :param path: the invocation path: a relative one is taken against the working directory, never searched on
        ``PATH``; it need not lead to a stub (a symlink to a plain environment's ``bin/python`` is decided as a stub
        in its place would decide it)
    :param stub: the stub to ask; the one packaged with this installation when ``None``

    :returns: the decision, a failure included (see :attr:`Decision.status`)

    :raises StubUnavailable: when the stub is missing, cannot be run, or does not answer in the known format

    """
    program = Path(stub_resource()) if stub is None else stub
    if not program.is_file():
        msg = f"cannot ask the stub for its decision: {program} does not exist; this installation has no compiled stub"
        raise StubUnavailable(msg)
    try:
        result = subprocess.run(  # our own stub, with a path as its only argument
            [program.absolute(), QUERY_OPTION, os.fspath(path)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exception:
        msg = f"cannot ask the stub {program} for its decision: {exception}"
        raise StubUnavailable(msg) from None
    try:
        return _read(result.stdout, result.returncode)
    except ValueError as exception:
        said = os.fsdecode(result.stderr).strip().replace("\n", " ")
        msg = f"the stub {program} gave no decision ({exception}; exit status {result.returncode}{': ' if said else ''}"
        msg += f"{said})"
        raise StubUnavailable(msg) from None


def _records(output: bytes) -> list[tuple[str, str]]:
    if not output.endswith(b"\0"):
        msg = "its output does not end with a NUL byte" if output else "it wrote nothing"
        raise ValueError(msg)
    records = []
    for item in output[:-1].split(b"\0"):
        key, sep, value = item.partition(b"=")
        if not sep:
            msg = f"a record without '=': {item[:80]!r}"
            raise ValueError(msg)
        records.append((key.decode("ascii", "replace"), os.fsdecode(value)))
    return records


#: Records that belong to the environment's own walk: those of a stub met as a base (rule 3.3) are not kept.
_OUTER = frozenset({"walk", "found-by", "environment", "cfg"})
#: Records whose last value counts: the base is the last one named, after every stub met as a base.
_LAST = frozenset({"invoked", "key", "base", "message", "launcher"})


@dataclass
class _Reader:
    """The records read so far, in the order the stub wrote them."""

    fields: dict[str, str] = field(default_factory=dict)
    steps: list[Path] = field(default_factory=list)
    ignored: list[tuple[Path, str]] = field(default_factory=list)
    nested: list[Path] = field(default_factory=list)
    status: int | None = None

    def add(self, key: str, value: str) -> None:
        if self.status is not None and key != "message":
            msg = f"a record {key} after the status"
            raise ValueError(msg)
        if key == "status" and value.isdecimal():
            self.status = int(value)
        elif key == "nested":
            self.nested.append(Path(value))
        elif key == "ignored":
            self.ignored.append((Path(value), ""))
        elif key == "why" and self.ignored and not self.ignored[-1][1]:
            self.ignored[-1] = (self.ignored[-1][0], value)
        elif key == "walk" and not self.nested:
            self.steps.append(Path(value))
        elif key in _LAST or (key in _OUTER and not self.nested):
            self.fields[key] = value
        elif key not in _OUTER:
            msg = f"an unknown record {key}={value[:80]}"
            raise ValueError(msg)

    def decision(self, returncode: int) -> Decision:
        fields, status = self.fields, self.status
        if status is None or "invoked" not in fields:
            msg = "no status record" if status is None else "no invoked record"
            raise ValueError(msg)
        if status != returncode or (status == 0 and "base" not in fields) or (status != 0) != ("message" in fields):
            msg = f"the records (status={status}) disagree with each other or with the exit status {returncode}"
            raise ValueError(msg)
        return Decision(
            invoked=Path(fields["invoked"]),
            status=status,
            message=fields.get("message"),
            environment=_path(fields.get("environment")),
            cfg=_path(fields.get("cfg")),
            key=fields.get("key") if status == 0 else None,
            base=_path(fields.get("base")) if status == 0 else None,
            steps=tuple(self.steps),
            ignored=tuple(self.ignored),
            nested=tuple(self.nested),
            found_by=fields.get("found-by"),
            launcher=_path(fields.get("launcher")) if status == 0 else None,
        )


def _read(output: bytes, returncode: int) -> Decision:
    records = _records(output)
    if records[0] != ("format", FORMAT):
        msg = f"the first record is {records[0][0]}={records[0][1]}, not format={FORMAT}"
        raise ValueError(msg)
    reader = _Reader()
    for key, value in records[1:]:
        reader.add(key, value)
    return reader.decision(returncode)


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


__all__ = [
    "FORMAT",
    "QUERY_OPTION",
    "Decision",
    "StubUnavailable",
    "decide",
]
