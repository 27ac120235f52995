"""The ``virtualenv-symlink-safe`` command's exit statuses, and the exceptions that carry them.

One place for both: the command maps an exception to its status from here, ``docs/reference/cli.rst`` lists the
statuses from here, and the tests compare against these names, never against bare numbers.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar


class Status(IntEnum):
    """An exit status of ``virtualenv-symlink-safe``; the numbers are stable across releases."""

    OK = 0
    """Success, including an environment that needed no change."""
    FAILED = 1
    """An unexpected failure while changing files (a full disk, say), or standard output closed early."""
    USAGE = 2
    """The command line is wrong (argparse's own status)."""
    NOT_AN_ENVIRONMENT = 3
    """Not an environment, or not one whose ``pyvenv.cfg`` the stub would take."""
    FOREIGN_LAYOUT = 4
    """A conda environment or the Windows layout."""
    BASE_UNUSABLE = 5
    """``pyvenv.cfg`` leads to no usable base interpreter."""
    UNSERVED = 6
    """A base interpreter the stub cannot serve."""
    NOT_WRITABLE = 7
    """``bin/`` cannot be written."""
    UNFINISHED = 8
    """A creation of the environment was interrupted."""
    UNKNOWN_NAMES = 9
    """``convert`` left names in ``bin/`` alone: neither the base interpreter nor a stub."""
    DID_NOT_START = 10
    """``explain``: the interpreter did not start."""
    UNSAFE_LAYOUT = 11
    """Changing the environment would write outside it: ``bin/`` or ``pyvenv.cfg`` is a link, or holds the base."""
    NOT_SYMLINK_SAFE = 12
    """``check``: an environment found is not symlink-safe."""
    PACKAGE_MANAGED = 13
    """``convert`` or ``revert`` of an installation: a file to change belongs to a package manager (dpkg, rpm)."""
    NOT_YOURS = 14
    """``convert`` or ``revert`` of an installation: it, or a file to change, belongs to another user."""


class CommandError(Exception):
    """A failure the command reports in one line, exiting with :attr:`status`."""

    status: ClassVar[Status] = Status.FAILED


class ChangeFailed(CommandError):  # noqa: N818  # named for what happened, as Refused is
    """Changing files failed part-way (a full disk, say): every name is whole, old or new; running again finishes."""


class Refused(CommandError):  # noqa: N818  # a refusal of the user's input, not an error of ours
    """An environment the command will not work on; nothing was changed, and nothing created."""


class NotAnEnvironment(Refused):
    """The path is not a virtual environment, or not one whose ``pyvenv.cfg`` the stub would take."""

    status = Status.NOT_AN_ENVIRONMENT


class ForeignLayout(Refused):
    """A conda environment or a Windows layout (``Scripts/``): no ``bin/python`` the stub could stand in for."""

    status = Status.FOREIGN_LAYOUT


class BaseUnusable(Refused):
    """``pyvenv.cfg`` leads to no usable base interpreter (contract rules 3.1 to 3.3)."""

    status = Status.BASE_UNUSABLE


class Unserved(Refused):
    """The base interpreter is one the stub cannot serve: the creator's refusal reasons, ELF mismatch included."""

    status = Status.UNSERVED


class NotWritable(Refused):
    """``bin/`` (or what else the change needs to write) cannot be written."""

    status = Status.NOT_WRITABLE


class Unfinished(Refused):
    """A creation of the environment was interrupted: its files are not to be trusted."""

    status = Status.UNFINISHED


class UnsafeLayout(Refused):
    """Changing the environment would write outside it, or over its base interpreter's own file."""

    status = Status.UNSAFE_LAYOUT


__all__ = [
    "BaseUnusable",
    "ChangeFailed",
    "CommandError",
    "ForeignLayout",
    "NotAnEnvironment",
    "NotWritable",
    "Refused",
    "Status",
    "Unfinished",
    "UnsafeLayout",
    "Unserved",
]
