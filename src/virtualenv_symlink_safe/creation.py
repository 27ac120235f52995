"""One creation of a destination at a time, and what an interrupted creation leaves for the next one.

Both files live beside the destination, named after it: ``.<name>.symlink-safe.lock`` and
``.<name>.symlink-safe.incomplete``. Beside it rather than in it, because ``--clear`` deletes the destination
(a lock inside it would vanish while held) and the environment must not carry them. Beside it rather than under
a per-user folder keyed by a hash of the path, because the destination's folder is the one thing every creator of
it shares: other users, containers mounting the same CI workspace, callers with their own ``HOME`` or app-data.
The lock file stays after release: removing a lock file while another process waits on it lets a third lock a
fresh file of the same name, and both would hold "the" lock. The lock is an ``flock`` on that file, taken directly
rather than through ``filelock``: it is all this Linux-only plugin needs, the kernel drops it when the process ends,
and ``virtualenv-symlink-safe convert`` takes the same lock without paying for filelock's import.

The marker is written once the lock is held and removed after the final ``pyvenv.cfg`` write. A marker found
by the next creation means an earlier one stopped half-way (killed, or failed). The marker says whether that
creation owned everything in the destination (it was absent or empty, or ``--clear`` was given): then the next
creation deletes the remains and starts over; otherwise it refuses, naming ``--clear``, rather than delete an
environment it did not make.
"""

from __future__ import annotations

import _thread
import fcntl
import os
import time
import weakref

from .stub import remove_if_present

# ``virtualenv-symlink-safe convert`` takes the lock too, and its cost is mostly imports: paths are strings handled by
# os.path (pathlib and the re it needs took half an interpreter start), typing is read only by type checkers, _thread
# serves for threading and a small class for contextlib, and logging and shutil are imported by the rare paths that
# need them (virtualenv has logging loaded).
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable
    from typing import Final

#: Suffixes of the two files kept beside a destination named ``name``: ``.<name><suffix>``.
LOCK_SUFFIX: Final = ".symlink-safe.lock"
MARKER_SUFFIX: Final = ".symlink-safe.incomplete"

# How a lock a caller abandoned is released, in one place. virtualenv's session has no hook after a failure: a
# creation whose seeding raised never reaches the final pyvenv.cfg write, so it never finishes. Such a creation is
# released (1) when its thread starts another creation, since Session.run is synchronous and that thread has given it
# up (a caller such as tox keeps the failed session alive), or (2) when it is garbage collected (a caller that drops
# the session). The table holds creations weakly, so that it never keeps one alive for (2).
_UNFINISHED: weakref.WeakValueDictionary[int, Creation] = weakref.WeakValueDictionary()
_UNFINISHED_GUARD = _thread.allocate_lock()


def _logger() -> logging.Logger:
    import logging  # noqa: PLC0415  # see the imports above

    return logging.getLogger(__name__)


class IncompleteEnvironmentError(RuntimeError):
    """The destination holds an environment whose creation was interrupted, and that the creator did not make."""


def lock_path(dest: str | os.PathLike[str]) -> str:
    """Where the lock of ``dest`` lives.

    :param dest: the resolved destination

    :returns: the lock file beside it

    """
    return _beside(dest, LOCK_SUFFIX)


def marker_path(dest: str | os.PathLike[str]) -> str:
    """Where the in-progress marker of ``dest`` lives.

    :param dest: the resolved destination

    :returns: the marker file beside it

    """
    return _beside(dest, MARKER_SUFFIX)


def _beside(dest: str | os.PathLike[str], suffix: str) -> str:
    folder, name = os.path.split(os.fspath(dest))
    return os.path.join(folder, f".{name}{suffix}")


class Creation:
    """One creation of ``dest``: holds its lock from :meth:`begin` until :meth:`finish` or :meth:`abort`.

    :param dest: the resolved destination
    :param clear: whether ``--clear`` was given, so the destination's old content is forfeit

    """

    def __init__(self, dest: str | os.PathLike[str], *, clear: bool) -> None:
        self.dest = os.fspath(dest)
        self.clear = clear
        # The open lock file while held, none otherwise; a list the finalizer of rule (2) above can share, since it
        # must not refer to self. Closing the file releases its flock.
        self._held: list[int] = []
        self._begun = False
        weakref.finalize(self, _close_all, self._held)

    def begin(self) -> None:
        """Wait for the destination's lock, deal with what an interrupted creation left, mark this one as started.

        :raises IncompleteEnvironmentError: when an interrupted creation left an environment this creator did not
            make, and ``--clear`` was not given

        """
        self._acquire()
        try:
            owned = self._settle_interrupted()
            self._write_marker(owned=owned)
        except BaseException:
            self._release()
            raise
        self._begun = True

    def held(self) -> _Holding:
        """Hold the lock for a moment, without marking a creation: to read the destination while no one writes it.

        :returns: a context that holds the lock

        """
        return _Holding(self._acquire, self._release)

    def finish(self) -> None:
        """End a complete creation: remove the marker, release the lock."""
        try:
            if self._begun:  # a pyvenv.cfg written again later must not clear another creation's marker
                remove_if_present(marker_path(self.dest))
        finally:
            self._release()

    def abort(self) -> None:
        """End a creation that stopped short: keep the marker for the next creation, release the lock."""
        self._release()

    def _acquire(self) -> None:
        with _UNFINISHED_GUARD:
            abandoned = _UNFINISHED.pop(_thread.get_ident(), None)
        if abandoned is not None:
            _logger().debug("releasing the lock of an earlier creation of %s that never finished", abandoned.dest)
            abandoned.abort()
        os.makedirs(os.path.dirname(self.dest) or os.curdir, exist_ok=True)  # a relative name's folder is ""
        fd = _open_lock_file(lock_path(self.dest))
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                where = lock_path(self.dest)
                _logger().info("waiting for another creation of %s to finish (lock %s)", self.dest, where)
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._held.append(fd)
        with _UNFINISHED_GUARD:
            _UNFINISHED[_thread.get_ident()] = self

    def _release(self) -> None:
        self._begun = False
        with _UNFINISHED_GUARD:
            for ident, creation in list(_UNFINISHED.items()):
                if creation is self:
                    del _UNFINISHED[ident]
        _close_all(self._held)

    def _settle_interrupted(self) -> bool:
        """Repair or refuse what an interrupted creation left; say whether this creation owns the destination."""
        marker = marker_path(self.dest)
        starts_empty = not os.path.exists(self.dest) or not os.listdir(self.dest)
        if not os.path.exists(marker):
            return self.clear or starts_empty
        left = _read_marker(marker)
        where = f"{self.dest}: an earlier creation (pid {left.get('pid', '?')}, started {left.get('started', '?')})"
        if self.clear or starts_empty:
            _logger().info("%s did not finish, creating it anew", where)
            return True
        if left.get("owned") == "yes":
            _logger().warning("%s did not finish; removing what it left and creating it anew", where)
            import shutil  # noqa: PLC0415  # see the imports above

            shutil.rmtree(self.dest)
            return True
        msg = f"{where} did not finish, and the folder held files before it began; run again with --clear to recreate"
        raise IncompleteEnvironmentError(msg)

    def _write_marker(self, *, owned: bool) -> None:
        marker = marker_path(self.dest)
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        text = f"pid = {os.getpid()}\nstarted = {started}\nowned = {'yes' if owned else 'no'}\n"
        tmp = f"{marker}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(tmp, marker)  # whole or absent: a kill while writing must not leave a marker that reads "not owned"


class _Holding:
    """What :meth:`Creation.held` returns: the lock taken on entry, released on exit, whatever the exit."""

    def __init__(self, acquire: Callable[[], None], release: Callable[[], None]) -> None:
        self._acquire = acquire
        self._release = release

    def __enter__(self) -> None:
        self._acquire()

    def __exit__(self, *exc_info: object) -> None:
        self._release()


def _open_lock_file(path: str) -> int:
    """Open the lock file, creating it; read-only where another user made it, since ``flock`` needs no write access.

    :param path: the lock file

    :returns: its file descriptor

    """
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except PermissionError:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def _close_all(held: list[int]) -> None:
    while held:
        os.close(held.pop())


def _read_marker(marker: str) -> dict[str, str]:
    try:
        with open(marker, encoding="utf-8") as file:
            text = file.read()
    except OSError:
        return {}
    pairs = (line.partition("=") for line in text.splitlines())
    return {key.strip(): value.strip() for key, sep, value in pairs if sep}


__all__ = [
    "LOCK_SUFFIX",
    "MARKER_SUFFIX",
    "Creation",
    "IncompleteEnvironmentError",
    "lock_path",
    "marker_path",
]
