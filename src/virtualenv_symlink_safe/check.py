"""Say of each environment under some folders whether it is symlink-safe, and why not: the ``check`` command.

An environment is symlink-safe when every interpreter name in its ``bin/`` is a stub and the stub, started as
``bin/python``, decides this very environment. The decision is the stub's own (:func:`.decision.decide`), never a
copy of its rules. Nothing is changed, and no environment's interpreter is started.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .creation import unfinished
from .decision import decide
from .environment import is_stub, open_environment
from .errors import ForeignLayout, NotAnEnvironment, Status, Unserved
from .stub import stub_resource

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from .cli import Output
    from .environment import Environment

#: How deep below a named folder environments are looked for: hatch's data folder keeps them at
#: ``env/virtual/<project>/<id>/<env>``, five levels down.
NAMED_DEPTH = 5
#: Folders never walked into: they hold no environment, and can be huge.
_SKIP = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", "site-packages"})


class Verdict(enum.Enum):
    """What ``check`` says of one environment; the value is the word it prints."""

    SAFE = "symlink-safe"
    """Every interpreter name is the stub this installation ships, and it decides this environment."""
    PLAIN = "plain"
    """An interpreter name is not a stub (a symlink to the base, a copy of it): a symlink to it loses the
    environment; ``convert`` fixes it."""
    OTHER_STUB = "other-stub"
    """Every interpreter name is a stub, but not the one this installation ships (another plugin version, or another
    build); it works, and ``convert`` upgrades it."""
    UNFINISHED = "unfinished"
    """A creation of the environment was interrupted: its files are not to be trusted."""
    BROKEN = "broken"
    """The stub would fail for ``bin/python``, or decide another environment: a symlink to it would not work."""
    FOREIGN = "foreign"
    """The Windows layout (``Scripts/``): nothing the stub serves."""

    @property
    def safe(self) -> bool:
        """Whether ``check`` counts the environment symlink-safe (exit status 0)."""
        return self is Verdict.SAFE


@dataclass(frozen=True)
class Finding:
    """One environment and what ``check`` says of it."""

    path: Path
    """The environment's folder, as found (absolute, links not resolved)."""
    verdict: Verdict
    why: str = ""
    """Why it is not symlink-safe, one clause; empty when it is."""
    remedy: str = ""
    """What to do about it, one clause; empty when nothing is to be done."""
    maker: str = ""
    """What made the environment, as ``pyvenv.cfg`` tells it: ``virtualenv 21.1.0``, ``uv 0.9.1`` or ``venv``."""
    detail: tuple[str, ...] = ()
    """The stub's decision, for ``-v``."""

    def line(self) -> str:
        """Give the one line ``check`` prints for the environment."""
        text = f"{self.path}: {self.verdict.value}"
        if self.maker:
            text += f" (made by {self.maker})"
        if self.why:
            text += f": {self.why}"
        if self.remedy:
            text += f"; {self.remedy}"
        return text


@dataclass
class Report:
    """What one ``check`` found."""

    findings: list[Finding] = field(default_factory=list)
    """Every environment found, in the order found."""
    missing: list[Path] = field(default_factory=list)
    """Folders named that do not exist or are not folders."""
    places: list[Path] = field(default_factory=list)
    """The folders looked in."""

    @property
    def status(self) -> int:
        """The exit status: a folder named is missing, an environment is not symlink-safe, or all is well."""
        if self.missing:
            return Status.NOT_AN_ENVIRONMENT
        return Status.NOT_SYMLINK_SAFE if any(not finding.verdict.safe for finding in self.findings) else Status.OK


def _data_home(environ: Mapping[str, str]) -> Path:
    """``$XDG_DATA_HOME``, or ``~/.local/share``, as platformdirs gives ``user_data_dir`` on Linux."""
    value = environ.get("XDG_DATA_HOME", "").strip()
    return Path(value) if value else Path(environ.get("HOME") or Path.home()) / ".local" / "share"


def _cache_home(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME``, or ``~/.cache``, as platformdirs gives ``user_cache_dir`` on Linux."""
    value = environ.get("XDG_CACHE_HOME", "").strip()
    return Path(value) if value else Path(environ.get("HOME") or Path.home()) / ".cache"


def default_places(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> list[tuple[Path, int]]:
    """List the usual places environments are kept, with how deep below each they lie.

    :param cwd: the project folder; the working directory when ``None``
    :param environ: the variables that move the places; ``os.environ`` when ``None``

    :returns: each place and its depth (0: the place is an environment itself), existing or not

    """
    here = Path.cwd() if cwd is None else cwd
    env: Mapping[str, str] = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    places = [(here / ".venv", 0)]
    if uv_env := env.get("UV_PROJECT_ENVIRONMENT"):  # uv sync's project environment, when moved
        places.append((here / uv_env, 0))
    places.append((here / env.get("TOX_WORK_DIR", ".tox"), 1))  # tox's work_dir: .tox/<env>
    places.append((here / ".nox", 1))  # nox's --envdir: .nox/<session>
    # hatch: <data>/env/virtual/<project>/<id>/<env>, its own (hatch test, fmt, build) in
    # <data>/env/.internal/<env>/<project>/<id>/<env>
    hatch_data = Path(env["HATCH_DATA_DIR"]) if env.get("HATCH_DATA_DIR") else _data_home(env) / "hatch"
    places.append((hatch_data / "env", 5))
    # pipx: PIPX_HOME, else ~/.local/pipx when it exists (its old home), else <data>/pipx; venvs/<app>
    if env.get("PIPX_HOME"):
        pipx_home = Path(env["PIPX_HOME"])
    elif (home / ".local" / "pipx").exists():
        pipx_home = home / ".local" / "pipx"
    else:
        pipx_home = _data_home(env) / "pipx"
    places.append((pipx_home / "venvs", 1))
    # pdm (venv.in_project off): its venv.location, <data>/pdm/venvs/<project>-<hash>-<python>
    places.append((_data_home(env) / "pdm" / "venvs", 1))
    # poetry (virtualenvs.in-project off): POETRY_VIRTUALENVS_PATH, else <cache-dir>/virtualenvs/<project>-<hash>-pyX.Y
    if env.get("POETRY_VIRTUALENVS_PATH"):
        places.append((Path(env["POETRY_VIRTUALENVS_PATH"]), 1))
    else:
        cache = Path(env["POETRY_CACHE_DIR"]) if env.get("POETRY_CACHE_DIR") else _cache_home(env) / "pypoetry"
        places.append((cache / "virtualenvs", 1))
    return places


def environments_under(folder: Path, depth: int) -> Iterator[Path]:
    """Find the environments (folders holding ``pyvenv.cfg``) at or below ``folder``.

    :param folder: where to start; followed when it is a symlink, as the user named it
    :param depth: how many levels below ``folder`` to look; folders below are not followed through symlinks, and an
        environment is not looked into

    :returns: the environments, in name order

    """
    if (folder / "pyvenv.cfg").is_file():
        yield folder
        return
    if depth <= 0:
        return
    try:
        children = sorted(
            entry.name
            for entry in os.scandir(folder)
            if entry.is_dir(follow_symlinks=False) and entry.name not in _SKIP
        )
    except OSError:  # unreadable, or gone meanwhile: nothing to list there
        return
    for name in children:
        yield from environments_under(folder / name, depth - 1)


def _maker(env: Environment) -> str:
    for key in ("virtualenv", "uv"):
        if key in env.keys:
            return f"{key} {env.keys[key]}".strip()
    return "venv"


def _what_is(path: Path) -> str:
    if path.is_symlink():
        return f"a symlink to {path.readlink()}"
    if not path.exists():
        return "missing"
    return "a file, not a stub" if path.is_file() else "not a file"


def judge(folder: Path) -> Finding:
    """Say whether the environment at ``folder`` is symlink-safe, and why not.

    :param folder: the environment's folder

    :returns: the finding

    :raises StubUnavailable: when this installation's stub cannot be asked for its decision

    """
    path = Path(folder).absolute()
    try:
        env = open_environment(path)
    except ForeignLayout as refusal:
        return Finding(path, Verdict.FOREIGN, str(refusal))
    except NotAnEnvironment as refusal:
        return Finding(path, Verdict.BROKEN, str(refusal))
    maker = _maker(env)
    if (left := unfinished(path.resolve())) is not None:
        why = f"{left} ({left.path})"
        return Finding(path, Verdict.UNFINISHED, why, "create it again with virtualenv", maker)
    python = path / "bin" / "python"
    if not python.exists():
        return Finding(path, Verdict.BROKEN, f"bin/python is {_what_is(python)}", maker=maker)
    return _judge_names(env, path, maker)


def _judge_names(env: Environment, path: Path, maker: str) -> Finding:
    """Ask the stub about ``bin/python``, then look at every interpreter name."""
    decision = decide(path / "bin" / "python")
    detail = [f"decision: status {decision.status}"]
    if decision.base is not None:
        detail.append(f"decision: base {decision.base} (from '{decision.key}' in {decision.cfg})")
    if not decision.decided:
        why = f"the stub would fail for bin/python (status {decision.status}): {decision.message}"
        return Finding(path, Verdict.BROKEN, why, maker=maker, detail=tuple(detail))
    if decision.cfg is None or not _same(decision.cfg, path / "pyvenv.cfg"):
        why = f"the stub would run bin/python in another environment, the one of {decision.cfg}"
        return Finding(path, Verdict.BROKEN, why, maker=maker, detail=tuple(detail))
    convert = f"run 'virtualenv-symlink-safe convert {path}'"
    names = env.interpreter_names()
    if plain := [name for name in names if not is_stub(path / "bin" / name)]:
        why = f"bin/{plain[0]} is {_what_is(path / 'bin' / plain[0])}"
        if others := ", ".join(f"bin/{name}" for name in plain[1:]):
            why += f" ({others} not a stub either)"
        return Finding(path, Verdict.PLAIN, why, convert, maker, tuple(detail))
    shipped = Path(stub_resource()).read_bytes()
    if other := [name for name in names if (path / "bin" / name).read_bytes() != shipped]:
        why = f"{', '.join(f'bin/{name}' for name in other)}: a stub of another plugin version"
        return Finding(path, Verdict.OTHER_STUB, why, convert + " to upgrade it", maker, tuple(detail))
    return Finding(path, Verdict.SAFE, maker=maker, detail=tuple(detail))


def _same(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def check(folders: list[str] | None = None) -> Report:
    """Find the environments under ``folders`` (or the usual places) and judge each.

    :param folders: the folders named, each an environment or a folder holding some; ``None`` or empty for the usual
        places (:func:`default_places`), of which those that do not exist are passed over

    :returns: the report

    :raises StubUnavailable: when this installation's stub cannot be asked for its decision

    """
    report = Report()
    if folders:
        places = [(Path(folder).absolute(), NAMED_DEPTH) for folder in folders]
    else:
        places = [(place, depth) for place, depth in default_places() if place.is_dir()]
    seen: set[Path] = set()
    for place, depth in places:
        if not place.is_dir():
            report.missing.append(place)
            continue
        report.places.append(place)
        for found in environments_under(place, depth):
            real = found.resolve()
            if real not in seen:  # named twice, or reached through a symlink too
                seen.add(real)
                report.findings.append(judge(found))
    return report


def _count(number: int) -> str:
    return "1 environment" if number == 1 else f"{number} environments"


def run(folders: list[str], out: Output) -> int:
    """Run ``virtualenv-symlink-safe check``: one line per environment, a summary, the exit status.

    :param folders: the folders named on the command line, none for the usual places
    :param out: where and how much to print

    :returns: the exit status (``docs/reference/cli.rst``)

    """
    try:
        report = check(folders)
    except Unserved as refusal:  # no stub to ask
        out.error(str(refusal))
        return refusal.status
    for place in report.missing:
        out.error(f"{place} does not exist or is not a folder")
    for finding in report.findings:
        if finding.verdict.safe:
            out.summary(finding.line())
        else:  # printed even with -q: it is what the run is for
            print(finding.line())  # noqa: T201
        for line in finding.detail:
            out.detail(f"  {line}")
    unsafe = sum(not finding.verdict.safe for finding in report.findings)
    if not report.findings:
        where = ", ".join(map(str, report.places)) or "none of the usual places exists"
        out.summary(f"no environment found ({where})")
    elif unsafe:
        out.summary(f"{unsafe} of {_count(len(report.findings))} not symlink-safe")
    else:
        out.summary(f"{_count(len(report.findings))}, {'all ' if len(report.findings) > 1 else ''}symlink-safe")
    return report.status


__all__ = [
    "Finding",
    "Report",
    "Verdict",
    "check",
    "default_places",
    "environments_under",
    "judge",
    "run",
]
