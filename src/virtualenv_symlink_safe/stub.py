"""Find the compiled stub shipped in this package, and write files into a folder through no link.

Every write here goes through a file descriptor of the folder (``*at`` calls), creates only new entries with names
no one can guess (``O_EXCL``, ``O_NOFOLLOW``, ``symlinkat`` and ``linkat`` all refuse an existing name), and puts
them in place with one ``rename``. So a name is either its old file or the new one, never half written, and a link
someone else races into the folder is replaced, never written through.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import stat
from contextlib import contextmanager, suppress
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import BinaryIO

#: File name of the compiled stub inside the installed package.
STUB_NAME = "symlink-safe-stub"
#: Temporary names are this, then 16 random hex digits: unguessable, and recognisable when a killed run left one.
TEMPORARY_PREFIX = ".symlink-safe-tmp-"
_TEMPORARY = re.compile(re.escape(TEMPORARY_PREFIX) + "[0-9a-f]{16}")


def stub_resource() -> Path:
    """Locate the compiled stub inside the installed package.

    :returns: its path, which may not exist in a build without a compiler

    """
    here = Path(__file__).with_name(STUB_NAME)
    if here.is_file():
        return here
    found = files(__package__ or "virtualenv_symlink_safe").joinpath(STUB_NAME)  # an editable install's build tree
    return found if isinstance(found, Path) else here  # an executable must be a real file anyway


def stub_available() -> bool:
    """Whether this installation carries a compiled stub.

    :returns: ``True`` when the build placed the stub in the package

    """
    return stub_resource().is_file()


@contextmanager
def open_folder(path: str | os.PathLike[str], *, dir_fd: int | None = None) -> Iterator[int]:
    """Open a folder for ``*at`` calls; its last component must not be a symlink.

    :param path: the folder
    :param dir_fd: the folder ``path`` is relative to, if any

    :returns: a context giving the folder's file descriptor

    :raises OSError: when it is not a folder, or is a symlink (``ELOOP`` or ``ENOTDIR``)

    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def temporary_name() -> str:
    """Give a name for a new temporary entry: :data:`TEMPORARY_PREFIX` and 64 random bits."""
    return f"{TEMPORARY_PREFIX}{secrets.token_hex(8)}"


def is_temporary_name(name: str) -> bool:
    """Tell whether ``name`` has the form :func:`temporary_name` gives.

    :param name: a file name

    :returns: ``True`` for a temporary's name

    """
    return _TEMPORARY.fullmatch(name) is not None


def new_file(folder: int, name: str, write: Callable[[BinaryIO], object], mode: int) -> None:
    """Create ``name`` in ``folder`` as a new regular file, written by ``write``; leave nothing when that fails.

    :param folder: the folder's file descriptor
    :param name: a name that must not exist yet
    :param write: writes the content to the file it is given
    :param mode: the file's permission bits

    """
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=folder)
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            os.fchmod(file.fileno(), mode)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(name, dir_fd=folder)
        raise


def copy_into(source: Path) -> Callable[[BinaryIO], object]:
    """Give a writer for :func:`new_file` that copies ``source``'s bytes.

    :param source: the file to copy

    :returns: the writer

    """

    def write(target: BinaryIO) -> None:
        with source.open("rb") as data:
            shutil.copyfileobj(data, target)

    return write


def stub_copy_made(folder: int) -> str:
    """Put a new copy of the stub into ``folder`` under a temporary name, mode 0755.

    :param folder: the folder's file descriptor

    :returns: the temporary name

    """
    name = temporary_name()
    new_file(folder, name, copy_into(stub_resource()), 0o755)
    return name


def link_made(folder: int, existing: str) -> str:
    """Put a new hard link to ``existing`` into ``folder`` under a temporary name; a copy where links are refused.

    :param folder: the folder's file descriptor
    :param existing: a regular file in ``folder`` (the link is to the entry itself, never through a symlink)

    :returns: the temporary name

    """
    name = temporary_name()
    try:
        os.link(existing, name, src_dir_fd=folder, dst_dir_fd=folder, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:  # some file systems refuse hard links; a copy is byte-identical
        fd = os.open(existing, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder)
        with os.fdopen(fd, "rb") as data:
            new_file(folder, name, lambda target: shutil.copyfileobj(data, target), 0o755)
    return name


def symlink_made(folder: int, target: str) -> str:
    """Put a new symlink to ``target`` into ``folder`` under a temporary name.

    :param folder: the folder's file descriptor
    :param target: what the link holds

    :returns: the temporary name

    """
    name = temporary_name()
    os.symlink(target, name, dir_fd=folder)
    return name


@contextmanager
def temporaries(folder: int) -> Iterator[list[str]]:
    """Collect temporary names made in ``folder``; remove those still there when the block fails.

    :param folder: the folder's file descriptor

    :returns: a context giving the list to append each temporary name to

    """
    made: list[str] = []
    try:
        yield made
    except BaseException:
        for name in made:  # ours only: where another user may write, they may have renamed a file of theirs over one
            with suppress(FileNotFoundError):
                if os.stat(name, dir_fd=folder, follow_symlinks=False).st_uid == os.geteuid():
                    os.unlink(name, dir_fd=folder)
        raise


def remove_stale_temporaries(folder: int) -> list[str]:
    """Remove temporaries a killed run left in ``folder``: our names, owned by this user, not folders.

    Call it only holding the environment's lock, when no other run can be making temporaries there.

    :param folder: the folder's file descriptor

    :returns: the names removed

    """
    removed = []
    with os.scandir(folder) as entries:
        stale = [entry.name for entry in entries if is_temporary_name(entry.name)]
    for name in stale:
        info = os.stat(name, dir_fd=folder, follow_symlinks=False)
        if info.st_uid == os.geteuid() and not stat.S_ISDIR(info.st_mode):
            os.unlink(name, dir_fd=folder)
            removed.append(name)
    return removed


def install_stub(bin_dir: str | os.PathLike[str], names: Sequence[str]) -> None:
    """Make every name in ``bin_dir`` the stub: one copy, the other names hard links to it.

    All new entries are made first under temporary names, then each renamed over its name: a failure before the
    renames leaves ``bin_dir`` as it was. Hard links, not symlinks: CPython 3.11+ resolves a symlinked
    ``sys.executable`` to find its base, and would find the stub (contract rule 8).

    :param bin_dir: the environment's ``bin`` directory (not a symlink)
    :param names: the interpreter names to install, the first gets the copy

    """
    with open_folder(bin_dir) as folder:
        remove_stale_temporaries(folder)  # what a killed creation left; this one holds the destination's lock
        install_stub_at(folder, names)


def install_stub_at(folder: int, names: Sequence[str]) -> None:
    """Do :func:`install_stub` in an open folder.

    :param folder: the ``bin`` directory's file descriptor
    :param names: the interpreter names to install, the first gets the copy

    """
    with temporaries(folder) as made:
        made.append(stub_copy_made(folder))
        made.extend(link_made(folder, made[0]) for _ in names[1:])
        for temporary, name in zip(list(made), names):
            os.replace(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
            made.remove(temporary)


def remove_if_present(path: str | os.PathLike[str]) -> None:
    """Remove a file, or nothing when it is not there.

    :param path: the file

    """
    Path(path).unlink(missing_ok=True)


__all__ = [
    "STUB_NAME",
    "TEMPORARY_PREFIX",
    "install_stub",
    "install_stub_at",
    "is_temporary_name",
    "link_made",
    "new_file",
    "open_folder",
    "remove_if_present",
    "remove_stale_temporaries",
    "stub_available",
    "stub_copy_made",
    "stub_resource",
    "symlink_made",
    "temporaries",
    "temporary_name",
]
