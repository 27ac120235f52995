"""The environment layout: virtualenv's own ``cpython3-posix`` layout, with the stub as the interpreter."""

from __future__ import annotations

from virtualenv.create.via_global_ref.builtin.cpython.cpython3 import CPython3Posix

from .stub import install_stub


class StubbedCPython3Posix(CPython3Posix):
    """Everything ``cpython3-posix`` makes, then every interpreter name in ``bin/`` replaced by the stub.

    Never registered as an entry point itself: virtualenv makes the first registered subclass of its builtin
    creator the default ``builtin`` one, and this plugin must stay opt-in.

    """

    def create(self) -> None:
        """Create the environment as ``cpython3-posix`` does, then install the stub under every interpreter name."""
        super().create()
        install_stub(self.bin_dir, self.interpreter_names())

    def interpreter_names(self) -> list[str]:
        """List the names ``cpython3-posix`` gives the interpreter in ``bin/``, ``python`` first.

        :returns: the names, without duplicates

        """
        names = {"python": None}
        for _, targets, _, _ in self._executables(self.interpreter):
            names.update(dict.fromkeys(targets))
        return list(names)


__all__ = [
    "StubbedCPython3Posix",
]
