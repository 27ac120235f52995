"""One creation of a destination at a time, and what an interrupted creation leaves for the next one.

Both files live beside the destination, named after it: ``.<name>.symlink-safe.lock`` and
``.<name>.symlink-safe.incomplete``. Beside it rather than in it, because ``--clear`` deletes the destination
(a lock inside it would vanish while held) and the environment must not carry them. Beside it rather than under
a per-user folder keyed by a hash of the path, because the destination's folder is the one thing every creator of
it shares: other users, containers mounting the same CI workspace, callers with their own ``HOME`` or app-data.
The lock file stays after release: removing a lock file while another process waits on it lets a third lock a
fresh file of the same name, and both would hold "the" lock.

The marker is written once the lock is held and removed after the final ``pyvenv.cfg`` write. A marker found
by the next creation means an earlier one stopped half-way (killed, or failed). The marker says whether that
creation owned everything in the destination (it was absent or empty, or ``--clear`` was given): then the next
creation deletes the remains and starts over; otherwise it refuses, naming ``--clear``, rather than delete an
environment it did not make.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from filelock import FileLock, Timeout

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

LOGGER: Final = logging.getLogger(__name__)

#: Suffixes of the two files kept beside a destination named ``name``: ``.<name><suffix>``.
LOCK_SUFFIX: Final = ".symlink-safe.lock"
MARKER_SUFFIX: Final = ".symlink-safe.incomplete"

# Session.run is synchronous: a thread that starts a creation has given up on any earlier one it never finished
# (its seeder raised, say, in a caller such as tox that keeps the session alive). Its lock is released then, so a
# long-lived process cannot deadlock on a destination it failed to create before.
_UNFINISHED: dict[int, Creation] = {}
_UNFINISHED_GUARD = threading.Lock()


class IncompleteEnvironmentError(RuntimeError):
    """The destination holds an environment whose creation was interrupted, and that the creator did not make."""


def lock_path(dest: Path) -> Path:
    """Where the lock of ``dest`` lives.

    :param dest: the resolved destination

    :returns: the lock file beside it

    """
    return dest.with_name(f".{dest.name}{LOCK_SUFFIX}")


def marker_path(dest: Path) -> Path:
    """Where the in-progress marker of ``dest`` lives.

    :param dest: the resolved destination

    :returns: the marker file beside it

    """
    return dest.with_name(f".{dest.name}{MARKER_SUFFIX}")


class Creation:
    """One creation of ``dest``: holds its lock from :meth:`begin` until :meth:`finish` or :meth:`abort`.

    :param dest: the resolved destination
    :param clear: whether ``--clear`` was given, so the destination's old content is forfeit

    """

    def __init__(self, dest: Path, *, clear: bool) -> None:
        self.dest = dest
        self.clear = clear
        # not thread-local: the hold may be released by another thread (a finalizer, or the thread rule above)
        self._lock = _shared_file_lock(lock_path(dest))
        self._begun = False

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

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for a moment, without marking a creation: to read the destination while no one writes it.

        :returns: a context that holds the lock

        """
        self._acquire()
        try:
            yield
        finally:
            self._release()

    def finish(self) -> None:
        """End a complete creation: remove the marker, release the lock."""
        try:
            if self._begun:  # a pyvenv.cfg written again later must not clear another creation's marker
                marker_path(self.dest).unlink(missing_ok=True)
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
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._lock.acquire(timeout=0)  # try once; ``blocking=False`` says the same only from filelock 3.8 on
        except Timeout:
            LOGGER.info("waiting for another creation of %s to finish (lock %s)", self.dest, self._lock.lock_file)
            self._lock.acquire()
        with _UNFINISHED_GUARD:
            _UNFINISHED[threading.get_ident()] = self

    def _release(self) -> None:
        self._begun = False
        with _UNFINISHED_GUARD:
            for ident, creation in list(_UNFINISHED.items()):
                if creation is self:
                    del _UNFINISHED[ident]
        self._lock.release(force=True)

    def _settle_interrupted(self) -> bool:
        """Repair or refuse what an interrupted creation left; say whether this creation owns the destination."""
        marker = marker_path(self.dest)
        starts_empty = not self.dest.exists() or not any(self.dest.iterdir())
        if not marker.exists():
            return self.clear or starts_empty
        left = _read_marker(marker)
        where = f"{self.dest}: an earlier creation (pid {left.get('pid', '?')}, started {left.get('started', '?')})"
        if self.clear or starts_empty:
            LOGGER.info("%s did not finish, creating it anew", where)
            return True
        if left.get("owned") == "yes":
            LOGGER.warning("%s did not finish; removing what it left and creating it anew", where)
            shutil.rmtree(self.dest)
            return True
        msg = f"{where} did not finish, and the folder held files before it began; run again with --clear to recreate"
        raise IncompleteEnvironmentError(msg)

    def _write_marker(self, *, owned: bool) -> None:
        marker = marker_path(self.dest)
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        text = f"pid = {os.getpid()}\nstarted = {started}\nowned = {'yes' if owned else 'no'}\n"
        tmp = marker.with_name(f"{marker.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(marker)  # whole or absent: a kill while writing must not leave a marker that reads "not owned"


def _shared_file_lock(path: Path) -> FileLock:
    """Make a lock whose hold belongs to the process, not to the thread that took it.

    filelock 3.12 made a lock's state thread-local by default and added ``thread_local=False`` to opt out; before
    3.12 the state was always shared by every thread, which is what this module needs.

    :param path: the lock file

    :returns: the lock, not yet held

    """
    if hasattr(FileLock, "is_thread_local"):  # filelock 3.12 and later
        return FileLock(path, thread_local=False)
    return FileLock(path)


def _read_marker(marker: Path) -> dict[str, str]:
    try:
        text = marker.read_text(encoding="utf-8")
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
