"""Find the compiled stub shipped in this package and put it into an environment's ``bin`` directory."""

from __future__ import annotations

import os

# ``virtualenv-symlink-safe convert`` installs the stub too, and its cost is mostly imports: paths are strings handled
# by os.path (pathlib and the re it needs took half an interpreter start), typing is read only by type checkers, and
# contextlib is not needed for one try.
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: File name of the compiled stub inside the installed package.
STUB_NAME = "symlink-safe-stub"
_PACKAGE = "virtualenv_symlink_safe"


def stub_resource() -> str:
    """Locate the compiled stub inside the installed package.

    An installed wheel holds it next to this module, found without ``importlib.resources`` (whose import costs
    ``convert`` more than the conversion). Only when it is not there, as in an editable install whose built files
    live apart from the sources, is the import system asked.

    :returns: its path, which may not exist in a build without a compiler

    """
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), STUB_NAME)
    if os.path.isfile(here):
        return here
    from importlib.resources import files  # noqa: PLC0415  # see above
    from pathlib import Path  # noqa: PLC0415

    found = files(_PACKAGE).joinpath(STUB_NAME)
    return str(found) if isinstance(found, Path) else here  # an executable must be a real file anyway


def stub_available() -> bool:
    """Whether this installation carries a compiled stub.

    :returns: ``True`` when the build placed the stub next to this module

    """
    return os.path.isfile(stub_resource())


def install_stub(bin_dir: str | os.PathLike[str], names: Sequence[str]) -> None:
    """Make every name in ``bin_dir`` the stub: one copy, the other names hard links to it.

    Each name is replaced atomically, so a name is either its old file or the stub, never half written.
    Hard links, not symlinks: CPython 3.11+ resolves a symlinked ``sys.executable`` to find its base,
    and would find the stub (contract rule 8).

    :param bin_dir: the environment's ``bin`` directory
    :param names: the interpreter names to install, the first gets the copy

    """
    first = os.path.join(bin_dir, names[0])
    stub = stub_resource()
    replace_atomically(first, lambda tmp: _copy_executable(stub, tmp))
    for name in names[1:]:
        replace_atomically(os.path.join(bin_dir, name), lambda tmp: _link_or_copy(first, tmp))


def _copy_executable(src: str, dst: str) -> None:
    # The stub is small (tens of KiB), so one read and one write do; shutil would cost more to import than this.
    with open(src, "rb") as source, open(dst, "wb") as target:
        target.write(source.read())
    os.chmod(dst, 0o755)  # noqa: S103  # an interpreter: everyone runs it, as the one it replaces


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # some filesystems refuse hard links; a copy is byte-identical
        _copy_executable(src, dst)


def replace_atomically(target: str, write: Callable[[str], object]) -> None:
    """Replace ``target`` by what ``write`` puts at a temporary path beside it, in one rename.

    Whatever happens, ``target`` is either its old self or the new file, never half written, and no temporary
    file is left behind.

    :param target: the file to replace (or create)
    :param write: writes the new file at the path it is given

    """
    folder, name = os.path.split(target)
    tmp = os.path.join(folder, f".{name}.symlink-safe-tmp")
    remove_if_present(tmp)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        remove_if_present(tmp)


def remove_if_present(path: str) -> None:
    """Remove a file, or nothing when it is not there.

    :param path: the file

    """
    try:  # noqa: SIM105  # contextlib.suppress would cost convert its import
        os.unlink(path)
    except FileNotFoundError:
        pass


__all__ = [
    "STUB_NAME",
    "install_stub",
    "remove_if_present",
    "replace_atomically",
    "stub_available",
    "stub_resource",
]
