"""The environment layouts: virtualenv's ``cpython3-posix`` and ``pypy3-posix``, with the stub as the interpreter."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .internals import CPython3Posix, PyEnvCfg, PyPy3Posix, builtin_creator, interpreter_names
from .stub import install_stub

if TYPE_CHECKING:
    from pathlib import Path

    from python_discovery import PythonInfo

    from .creation import Creation


class StubInterpreter:
    """Make every interpreter name a layout puts into ``bin/`` the stub, once the layout has created the rest.

    Mixed in before a virtualenv builtin creator. Neither class is ever registered as an entry point itself:
    virtualenv makes the first registered subclass of its builtin creator the default ``builtin`` one, and this
    plugin must stay opt-in.

    """

    #: The builtin creator this layout extends, named in the creator's messages.
    builtin: ClassVar[type[CPython3Posix | PyPy3Posix]]

    if TYPE_CHECKING:
        bin_dir: Path
        interpreter: PythonInfo

    def create(self) -> None:
        """Create the environment as the builtin layout does, then install the stub under every interpreter name."""
        super().create()  # type: ignore[misc]  # the builtin creator mixed in after this class
        install_stub(self.bin_dir, self.interpreter_names())

    def interpreter_names(self) -> list[str]:
        """List the names the builtin layout gives the interpreter in ``bin/``, ``python`` first.

        :returns: the names, without duplicates

        """
        return list(dict.fromkeys(["python", *interpreter_names(self.builtin, self.interpreter)]))


class StubbedCPython3Posix(StubInterpreter, CPython3Posix):
    """Everything ``cpython3-posix`` makes, with ``python``, ``python3`` and ``python3.X`` the stub."""

    builtin = CPython3Posix


class StubbedPyPy3Posix(StubInterpreter, PyPy3Posix):
    """Everything ``pypy3-posix`` makes, with ``pypy``, ``pypy3``, ``python``, ``python3`` and ``python3.X`` the stub.

    PyPy's ``libpypy3*-c.so`` is still placed in ``bin/`` as ``pypy3-posix`` does; the stub runs the base
    interpreter from its own directory, which finds its library there.

    """

    builtin = PyPy3Posix


#: The layout of each builtin creator.
LAYOUTS: dict[type[CPython3Posix | PyPy3Posix], type[StubbedCPython3Posix | StubbedPyPy3Posix]] = {
    CPython3Posix: StubbedCPython3Posix,
    PyPy3Posix: StubbedPyPy3Posix,
}


class FinalPyEnvCfg(PyEnvCfg):
    """The layout's ``pyvenv.cfg`` once the layout has run: the session writes it last, and that ends the creation.

    The creator sets it on the layout after the layout's own writes, so that only the session's final write, after
    seeding and the activators, releases the destination's lock.

    :param cfg: the layout's ``pyvenv.cfg``, whose content this one shares
    :param creation: the creation to end on the write

    """

    def __init__(self, cfg: PyEnvCfg, creation: Creation) -> None:
        super().__init__(cfg.content, cfg.path)
        self._creation = creation

    def write(self) -> None:
        """Write the file; then the environment is complete, or, if the write fails, the creation stopped short."""
        try:
            super().write()
        except BaseException:
            self._creation.abort()
            raise
        self._creation.finish()


def layout_for(interpreter: PythonInfo) -> type[StubbedCPython3Posix | StubbedPyPy3Posix]:
    """Choose the layout that serves ``interpreter``'s implementation.

    :param interpreter: the interpreter the environment is created from

    :returns: the layout class

    """
    return LAYOUTS[builtin_creator(interpreter)]


__all__ = [
    "LAYOUTS",
    "FinalPyEnvCfg",
    "StubInterpreter",
    "StubbedCPython3Posix",
    "StubbedPyPy3Posix",
    "layout_for",
]
