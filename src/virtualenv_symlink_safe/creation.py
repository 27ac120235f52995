"""One creation of a destination at a time, and what an interrupted creation leaves for the next one.

Both files live inside the destination, where only those who may change the environment can write:
``<dest>/.symlink-safe.lock`` and ``<dest>/.symlink-safe.incomplete``. Nothing is ever written beside it: the folder
holding an environment is often shared (a project, ``/tmp``, a CI workspace), and other users control what lies
there. The lock file stays after release (removing a lock file another process waits on lets a third lock a new file
of the same name); ``--clear`` empties the destination but keeps it, so the held lock survives.

The marker is written once the lock is held and removed after the final ``pyvenv.cfg`` write. A marker found by the
next creation means an earlier one stopped half-way (killed, or failed): that creation creates over what is there,
as plain virtualenv does, deleting nothing without ``--clear``; ``convert`` refuses such an environment. A marker
counts only if it is a small regular file of a user we trust that names this very folder (its path and
``st_dev``/``st_ino``); anything else in its place is ignored, opened without following links and without blocking.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import threading
import time
import weakref
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterator

    from filelock import BaseFileLock

#: The two files the plugin keeps inside a destination.
LOCK_NAME: Final = ".symlink-safe.lock"
MARKER_NAME: Final = ".symlink-safe.incomplete"
#: A marker larger than this is not one of ours, and is not read.
MAX_MARKER_SIZE: Final = 4096
#: Seconds to wait for a lock that someone other than the invoking user and root could hold (the destination or
#: its lock file is theirs, or they may write it); a lock only we and root can hold is waited for without bound.
FOREIGN_WAIT = 120.0
#: How often a lock file found replaced after the wait is taken again before giving up.
_ATTEMPTS: Final = 20

LOGGER: Final = logging.getLogger(__name__)

# How a lock a caller abandoned is released, in one place. virtualenv's session has no hook after a failure: a
# creation whose seeding raised never reaches the final pyvenv.cfg write, so it never finishes. Such a creation is
# released (1) when its thread starts another creation, since Session.run is synchronous and that thread has given it
# up (a caller such as tox keeps the failed session alive), or (2) when it is garbage collected, with its FileLock,
# which releases itself then (a caller that drops the session). The table holds creations weakly, so that it never
# keeps one alive for (2).
_UNFINISHED: weakref.WeakValueDictionary[int, Creation] = weakref.WeakValueDictionary()
_UNFINISHED_GUARD = threading.Lock()


class LockUnavailable(RuntimeError):  # noqa: N818  # virtualenv prints the class name before the one-line message
    """The destination's lock cannot be taken safely or in time; nothing was changed."""


@dataclass(frozen=True)
class Unfinished:
    """What the marker of a creation that did not finish says about it."""

    #: The marker file.
    path: Path
    #: The process that began it, as written (``?`` when unknown).
    pid: str
    #: When it began, as written.
    started: str

    def __str__(self) -> str:
        """Say it in words, as the messages quote it."""
        return f"an earlier creation (pid {self.pid}, started {self.started}) did not finish"


class Creation:
    """One creation of ``dest``: holds its lock from :meth:`begin` until :meth:`finish` or :meth:`abort`.

    :param dest: the resolved destination
    :param clear: whether ``--clear`` was given, so the destination's old content is forfeit

    """

    def __init__(self, dest: str | os.PathLike[str], *, clear: bool) -> None:
        self.dest = Path(dest)
        self.clear = clear
        self._lock: BaseFileLock | None = None
        self._marker: os.stat_result | None = None  # the marker this creation wrote, to remove only that one

    def begin(self) -> None:
        """Take the destination's lock, empty it for ``--clear``, and mark the creation as started.

        :raises LockUnavailable: when the lock cannot be taken safely or in time

        """
        self.dest.mkdir(parents=True, exist_ok=True)
        self._acquire()
        with _UNFINISHED_GUARD:  # released by whatever comes first: finish, abort, the thread's next creation, GC
            _UNFINISHED[threading.get_ident()] = self
        try:
            if (left := unfinished(self.dest)) is not None:
                LOGGER.warning("%s: %s; creating it again over what it left", self.dest, left)
            if self.clear:
                _empty(self.dest)
            self._marker = _write_marker(self.dest)
        except BaseException:
            self._release()
            raise

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for a while, without marking a creation: to read or change a destination no one writes.

        :raises LockUnavailable: when the lock cannot be taken safely or in time

        """
        self._acquire()
        try:
            yield
        finally:
            self._release()

    def finish(self) -> None:
        """End a complete creation: remove the marker, release the lock."""
        try:
            if self._marker is not None:  # a pyvenv.cfg written again later must not clear another creation's marker
                _remove_if_same(self.dest / MARKER_NAME, self._marker)
        finally:
            self._release()

    def abort(self) -> None:
        """End a creation that stopped short: keep the marker for the next creation, release the lock."""
        self._release()

    def _acquire(self) -> None:
        with _UNFINISHED_GUARD:
            abandoned = _UNFINISHED.pop(threading.get_ident(), None)
        if abandoned is not None:
            LOGGER.debug("releasing the lock of an earlier creation of %s that never finished", abandoned.dest)
            abandoned.abort()
        self._lock = take_lock(self.dest)

    def _release(self) -> None:
        self._marker = None
        with _UNFINISHED_GUARD:
            for ident, creation in list(_UNFINISHED.items()):
                if creation is self:
                    del _UNFINISHED[ident]
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release(force=True)


def take_lock(dest: Path) -> BaseFileLock:
    """Take the lock of the destination ``dest``, which must exist.

    filelock opens the lock file by its path, and older releases truncate, ``chmod`` and (before 3.20.1) follow a
    symlink there, so this creates the file itself (``O_EXCL``, no-follow, mode 0600, the destination owner's), vets
    what it finds before filelock opens it (a regular file, one link, of us, root, or for root the destination's
    owner), bounds the wait when anyone but us and root could hold it, and checks after the wait that the path still
    names the file it vetted, so that a destination removed or a file swapped meanwhile is never taken as locked.

    :param dest: the destination folder

    :returns: the held lock

    :raises LockUnavailable: when the lock cannot be taken safely or in time

    """
    from filelock import FileLock, Timeout  # noqa: PLC0415  # the plugin's import does no work

    path = dest / LOCK_NAME
    for _ in range(_ATTEMPTS):
        if (vet := _vet(dest, path)) is None:
            continue  # gone between its creation and its check: a run that made it, then changed nothing, removed it
        vetted, wait = vet
        lock = FileLock(path, timeout=-1 if wait is None else wait, mode=0o600, thread_local=False)
        try:
            lock.acquire(timeout=0, blocking=False)
        except Timeout:
            bound = "" if wait is None else f", at most {wait:g} s: another user could hold it"
            LOGGER.info("waiting for another creation or conversion of %s to finish (lock %s%s)", dest, path, bound)
            try:
                lock.acquire()
            except Timeout:
                msg = f"{path} stayed locked for {wait:g} s by a process another user could run; nothing was changed"
                raise LockUnavailable(msg) from None
            except (OSError, NotImplementedError) as exception:
                raise LockUnavailable(_cannot(path, exception)) from None
        except (OSError, NotImplementedError) as exception:
            raise LockUnavailable(_cannot(path, exception)) from None
        try:
            now = path.lstat()
        except FileNotFoundError:
            now = None
        if now is not None and os.path.samestat(now, vetted) and now.st_nlink == 1:
            return lock
        lock.release(force=True)  # the destination was removed or the file replaced while waiting: start again
    msg = f"{path} kept being replaced while waiting for it; nothing was changed"
    raise LockUnavailable(msg)


def _cannot(path: Path, exception: OSError | NotImplementedError) -> str:
    if isinstance(exception, NotImplementedError):
        return f"cannot take the lock {path}: its filesystem does not support flock; nothing was changed"
    return f"cannot take the lock {path}: {exception.strerror or exception}; nothing was changed"


def _vet(dest: Path, path: Path) -> tuple[os.stat_result, float | None] | None:
    """Create the lock file or check the one found; say how long to wait for it (``None``: without bound).

    Return ``None`` when the file is gone again before it is checked.
    """
    euid = os.geteuid()
    try:
        folder = dest.lstat()
    except OSError as exception:
        raise LockUnavailable(_cannot(path, exception)) from None
    if not stat.S_ISDIR(folder.st_mode):
        msg = f"cannot take the lock {path}: {dest} is not a folder; nothing was changed"
        raise LockUnavailable(msg)
    if folder.st_uid not in {euid, 0} and euid != 0:
        msg = (
            f"{dest} belongs to uid {folder.st_uid}: only its owner or root may create or convert an environment "
            "there; nothing was changed"
        )
        raise LockUnavailable(msg)
    _create_lock_file(path, folder)
    try:
        found = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as exception:
        raise LockUnavailable(_cannot(path, exception)) from None
    trusted = {euid, 0, folder.st_uid} if euid == 0 else {euid, 0}
    reason = None
    if not stat.S_ISREG(found.st_mode):
        reason = "it is not a regular file"
    elif found.st_nlink != 1:
        reason = f"it has {found.st_nlink} hard links"
    elif found.st_uid not in trusted:
        reason = f"it belongs to uid {found.st_uid}"
    if reason is not None:
        msg = f"refusing the lock {path}: {reason}, so another user could have put it there; remove it if you trust it"
        raise LockUnavailable(msg)
    others_may_swap = folder.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not folder.st_mode & stat.S_ISVTX
    others_may_hold = found.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    private = found.st_uid in {euid, 0} and folder.st_uid in {euid, 0} and not others_may_swap and not others_may_hold
    return found, None if private else FOREIGN_WAIT


def _create_lock_file(path: Path, folder: os.stat_result) -> None:
    """Create the lock file new, readable and writable by its owner only: the destination's owner, when root."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except FileExistsError:
        return
    except OSError as exception:
        raise LockUnavailable(_cannot(path, exception)) from None
    try:
        if os.geteuid() == 0 and folder.st_uid != 0:  # root acting in a user's environment leaves it theirs
            os.fchown(fd, folder.st_uid, folder.st_gid)
    finally:
        os.close(fd)


def unfinished(dest: str | os.PathLike[str]) -> Unfinished | None:
    """Tell whether a creation of ``dest`` began and did not finish, from the marker it left there.

    The marker counts only if it is a regular file of at most :data:`MAX_MARKER_SIZE` bytes, owned by the invoking
    user, root or the destination's owner, naming this folder by path, device and inode. Anything else is ignored: it
    is opened without following a link and without blocking (a FIFO), and read no further than the bound.

    :param dest: the destination folder

    :returns: what the marker says, or ``None`` when no creation is known to be unfinished

    """
    folder = Path(dest)
    path = folder / MARKER_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except OSError:
        return None  # absent, a symlink (ELOOP), unreadable: not a marker of ours
    try:
        found, here = os.fstat(fd), folder.stat()
        owners = {os.geteuid(), 0, here.st_uid}
        if not stat.S_ISREG(found.st_mode) or found.st_uid not in owners or found.st_size > MAX_MARKER_SIZE:
            return None
        data = os.read(fd, MAX_MARKER_SIZE + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > MAX_MARKER_SIZE:
        return None
    pairs = (line.partition("=") for line in data.decode("utf-8", "replace").splitlines())
    keys = {key.strip(): value.strip() for key, sep, value in pairs if sep}
    belongs = keys.get("path") == str(folder) and keys.get("device") == str(here.st_dev)
    if not belongs or keys.get("inode") != str(here.st_ino):
        return None
    return Unfinished(path, keys.get("pid", "?"), keys.get("started", "?"))


def _write_marker(dest: Path) -> os.stat_result:
    """Write the marker whole or not at all: a new file under a name no one can guess, renamed into place."""
    here = dest.stat()
    started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    text = f"pid = {os.getpid()}\nstarted = {started}\npath = {dest}\ndevice = {here.st_dev}\ninode = {here.st_ino}\n"
    tmp = dest / f"{MARKER_NAME}.{os.urandom(8).hex()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        written = tmp.lstat()
        tmp.replace(dest / MARKER_NAME)  # a rename replaces whatever name was there without following it
    except BaseException:
        with suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return written


def _remove_if_same(path: Path, expected: os.stat_result) -> None:
    with suppress(FileNotFoundError):
        if os.path.samestat(path.lstat(), expected):
            path.unlink()


def _empty(dest: Path) -> None:
    """Delete everything in the destination but the held lock file, as ``--clear`` asks; links are not followed."""
    LOGGER.debug("delete the content of %s", dest)
    for entry in os.scandir(dest):
        if entry.name == LOCK_NAME:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            Path(entry.path).unlink()


__all__ = [
    "FOREIGN_WAIT",
    "LOCK_NAME",
    "MARKER_NAME",
    "MAX_MARKER_SIZE",
    "Creation",
    "LockUnavailable",
    "Unfinished",
    "take_lock",
    "unfinished",
]
