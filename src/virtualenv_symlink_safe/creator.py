"""The ``symlink-safe`` creator that virtualenv loads through its ``virtualenv.create`` entry point.

virtualenv imports every creator plugin on every run, so this module imports nothing of virtualenv's at import
time and never raises: a plugin whose import fails breaks plain ``virtualenv env`` too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argparse import ArgumentParser

    from python_discovery import PythonInfo
    from virtualenv.app_data.base import AppData
    from virtualenv.config.cli.parser import VirtualEnvOptions
    from virtualenv.create.creator import CreatorMeta

    from .creation import Creation
    from .layout import StubbedCPython3Posix, StubbedPyPy3Posix


class Refusal:
    """Creator metadata saying the creator cannot serve an interpreter, and why.

    virtualenv drops a creator whose metadata carries an ``error`` from the ``--creator`` choices, which would
    leave the user with a bare "invalid choice". This one keeps the creator selectable and raises the reason
    only once it is selected.

    :param reason: why the creator cannot serve the interpreter, in one line

    """

    error = None

    def __init__(self, reason: str) -> None:
        self.reason = reason


class SymlinkSafe:
    """Create a virtual environment whose ``bin/python`` is a stub that survives being symlinked.

    Deliberately not a subclass of virtualenv's builtin creators: it delegates to one instead (see
    :class:`~virtualenv_symlink_safe.layout.StubbedCPython3Posix`), so installing the plugin does not change
    what plain ``virtualenv env`` does.

    :param options: the parsed command line options
    :param interpreter: the interpreter the environment is created from

    """

    def __init__(self, options: VirtualEnvOptions, interpreter: PythonInfo) -> None:
        from pathlib import Path  # noqa: PLC0415  # the plugin's import stays free of work

        from .creation import Creation  # noqa: PLC0415
        from .layout import layout_for  # noqa: PLC0415  # virtualenv is importable once it calls us

        dest = Path(options.dest)  # virtualenv has resolved it: every path to one folder shares one lock
        self._creation: Creation = Creation(dest, clear=options.clear)
        layout = layout_for(interpreter)
        if dest.is_dir():  # the layout reads the old pyvenv.cfg now, which a concurrent --clear may be deleting
            with self._creation.held():
                self._creator: StubbedCPython3Posix | StubbedPyPy3Posix = layout(options, interpreter)
        else:
            self._creator = layout(options, interpreter)

    def run(self) -> None:
        """Create the environment under the destination's lock, which stays held until the final ``pyvenv.cfg`` write.

        ``--clear`` is carried out here, under the lock, keeping the destination folder and its lock file; the layout
        then runs as if it were not given. virtualenv's session seeds the environment and writes the activators after
        this returns, then writes ``pyvenv.cfg`` last: from here on the layout's ``pyvenv.cfg`` is a
        :class:`~virtualenv_symlink_safe.layout.FinalPyEnvCfg`, whose write ends the creation.

        :raises LockUnavailable: when the destination's lock cannot be taken safely or in time

        """
        from .internals import keep_destination  # noqa: PLC0415
        from .layout import FinalPyEnvCfg  # noqa: PLC0415

        self._creation.begin()
        try:
            keep_destination(self._creator)
            self._creator.run()
        except BaseException:
            self._creation.abort()
            raise
        self._creator.pyenv_cfg = FinalPyEnvCfg(self._creator.pyenv_cfg, self._creation)

    @classmethod
    def can_create(cls, interpreter: PythonInfo) -> CreatorMeta | Refusal:
        """Check whether an environment can be made from ``interpreter``.

        :param interpreter: the interpreter the environment would be created from

        :returns: the metadata of the underlying layout, or a :class:`Refusal` carrying the reason

        """
        from .refusals import refusal_reason  # noqa: PLC0415  # keep the plugin's import free of work

        if (reason := refusal_reason(interpreter)) is not None:
            return Refusal(reason)
        try:
            from .layout import layout_for  # noqa: PLC0415
        except ImportError as exception:  # a virtualenv whose internals moved must not break every run
            return Refusal(f"this virtualenv version is not supported ({exception})")
        layout = layout_for(interpreter)
        meta = layout.can_create(interpreter)
        if meta is None:
            return Refusal(f"virtualenv's {layout.builtin.__name__} layout does not fit {interpreter.executable}")
        if meta.error:
            return Refusal(meta.error)
        return meta

    @classmethod
    def add_parser_arguments(
        cls,
        parser: ArgumentParser,
        interpreter: PythonInfo,
        meta: CreatorMeta | Refusal,
        app_data: AppData,
    ) -> None:
        """Add the layout's options; once selected, a refusal becomes the error virtualenv reports.

        :param parser: the parser to add the options to
        :param interpreter: the interpreter the environment is created from
        :param meta: what :meth:`can_create` returned
        :param app_data: the application data folder

        :raises RuntimeError: when the creator cannot serve the interpreter

        """
        if isinstance(meta, Refusal):
            msg = f"the symlink-safe creator cannot create an environment for {interpreter.executable}: {meta.reason}"
            raise RuntimeError(msg)  # noqa: TRY004  # virtualenv reports RuntimeError as one line
        from .layout import layout_for  # noqa: PLC0415

        layout_for(interpreter).add_parser_arguments(parser, interpreter, meta, app_data)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        """Everything virtualenv reads off a creator (paths, ``run``, ``pyenv_cfg``, ...) comes from the layout.

        :param name: the attribute name

        :returns: the layout's attribute

        :raises AttributeError: for every name while the layout is not built yet (``hasattr`` then says ``False``)

        """
        try:
            creator = self.__dict__["_creator"]
        except KeyError:
            msg = f"{type(self).__name__} has no layout yet, so no {name!r}"
            raise AttributeError(msg) from None
        return getattr(creator, name)

    def __repr__(self) -> str:
        """Name the creator as the user chose it, with the layout's arguments."""
        from .internals import creator_arguments  # noqa: PLC0415

        shown = dict(creator_arguments(self._creator))
        if "clear" in shown:  # the layout's was turned off once the creation had cleared the destination itself
            shown["clear"] = self._creation.clear
        args = ", ".join(f"{key}={value}" for key, value in shown.items())
        return f"{type(self).__name__}({args})"


__all__ = [
    "Refusal",
    "SymlinkSafe",
]
