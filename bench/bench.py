"""Measure what the stub costs: interpreter start-up through it, and the time to create an environment.

Start-up: ``python -c pass`` and ``python -S -I -c pass`` through the stub, through a plain symlink environment
(``cpython3-posix``, the baseline), through a ``--copies`` environment, and through a no-op ``execve`` trampoline
(``trampoline.c``, compiled here at run time as a static musl program, the quickest to start) that is the floor of
any launcher (``--floor-linkage dynamic`` links it against the loader instead: the floor of the musllinux stub); the
stub is also compared with the trampoline round by round. The stub is the installed one, or the one
``--stub`` names (e.g. taken out of a repaired manylinux wheel), so the figure is that of the artifact users get.
Launcher: the stub and the trampoline in front of a program that does nothing (``noop.c``), against that program
started directly, which gives the stub's own work in microseconds without an interpreter's start-up noise around it.
Creation: ``symlink-safe`` against ``cpython3-posix`` and ``venv``, with ``--no-seed`` and seeded.

Every measurement is paired: each round runs every variant once, and the ratio to the baseline is taken within the
round, so drifting machine load hits both sides of a ratio alike. The rounds go through every order of the variants
in turn, so each variant runs right after each other one equally often: what a run leaves behind (dirty pages to
write back, a cold cache) is not always paid by the same neighbour.
Results are the median ratio, a 95% confidence interval of that median and the interquartile range; a table goes
to stdout, then a verdict on each of the project's targets, and the details to a JSON file. A target counts as met
only when the whole confidence interval lies within it: on a noisy machine, ask for more rounds. The statistics
are in ``stats.py``, the verdicts in ``judge.py``; the figures are a baseline to compare a change against, not a
gate.

Start-up can also be measured in several runs (``--runs``), each with environments and a trampoline made afresh.
A run's median moves from one run to the next by more than its own confidence interval says (where its files
landed counts as well as the stub), so with five runs or more a start-up target is judged on the runs' medians.

Run it with ``tox run -e bench`` (arguments after ``--``), or with any Python that has virtualenv and this
plugin installed: ``python bench/bench.py --help``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling modules, however it is loaded
from judge import MIN_RUNS_JUDGED, format_verdicts, verdicts  # noqa: F401  # the tests read MIN_RUNS_JUDGED here
from stats import Spread

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    #: One run of start-up measurements: by command, each variant's times in milliseconds, round by round.
    StartupTimes = dict[str, dict[str, list[float]]]

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE.parent / ".bench" / "results.json"
COMMANDS = {"-c pass": ["-c", "pass"], "-S -I -c pass": ["-S", "-I", "-c", "pass"]}
STARTUP_VARIANTS = ("symlink", "stub", "copies", "trampoline")
CREATORS = ("cpython3-posix", "symlink-safe", "venv")


@dataclass
class Context:
    """What every measured run shares."""

    env: dict[str, str]
    """The environment of every run."""
    app_data: Path
    """virtualenv's app-data folder, so seed wheels are extracted once."""
    cc: list[str]
    """The C compiler command for the trampoline and the no-op program."""
    stub: Path | None = None
    """The stub to measure in place of the installed one, ``None`` for the installed one."""
    static: bool = True
    """Link the trampoline and the no-op program statically; else against the C library's loader, as rule 5 makes the
    musllinux stub."""


@dataclass
class Interpreter:
    """A base interpreter to measure."""

    exe: str
    version: str

    def __str__(self) -> str:
        """Name it in progress lines: its version and path."""
        return f"{self.version} ({self.exe})"


@dataclass
class StartupResult:
    """Start-up times of one interpreter and command through every variant."""

    interpreter: Interpreter
    command: str
    milliseconds: dict[str, Spread]
    ratio_to_symlink: dict[str, Spread]
    stub_to_trampoline: Spread
    """Per round, the stub's time over the trampoline's: how far the stub is from the floor."""
    extra_microseconds: dict[str, Spread]
    """Per round, each variant's time minus the symlink environment's: what a start costs on top."""
    run_medians: dict[str, list[float]]
    """Each run's median ratio to the symlink environment, by variant: one value per run."""


@dataclass
class LauncherResult:
    """What the trampoline and the stub cost in front of a program that does nothing."""

    direct_microseconds: Spread
    """The no-op program started directly."""
    extra_microseconds: dict[str, Spread]
    """Per round, the trampoline's and the stub's time minus the direct start's."""
    stub_over_trampoline_microseconds: Spread
    """Per round, the stub's time minus the trampoline's: the stub's own work."""


@dataclass
class CreationResult:
    """Creation times of one interpreter with and without seeding, for every creator."""

    interpreter: Interpreter
    seeded: bool
    milliseconds: dict[str, Spread] = field(default_factory=dict)
    ratio_to_cpython3_posix: dict[str, Spread] = field(default_factory=dict)
    skipped: str | None = None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line.

    :param argv: the arguments, ``None`` for ``sys.argv``

    :returns: the options

    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", default=[], help="an interpreter to measure (repeatable)")
    parser.add_argument(
        "--rounds", type=int, default=300, help="start-up rounds per interpreter and command, 0 to skip"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=1,
        help="start-up runs, each with environments made afresh; 5+ judge by their medians",
    )
    parser.add_argument("--warmup", type=int, default=24, help="unrecorded rounds first, to fill caches")
    parser.add_argument(
        "--launcher-rounds", type=int, default=3000, help="rounds of the stub in front of a no-op program, 0 to skip"
    )
    parser.add_argument("--creation-rounds", type=int, default=30, help="creation rounds with --no-seed")
    parser.add_argument("--seeded-rounds", type=int, default=10, help="creation rounds with the default seeder")
    parser.add_argument(
        "--convert-rounds", type=int, default=30, help="rounds of 'convert' against a bare start, 0 to skip"
    )
    parser.add_argument(
        "--interpreter-rounds",
        type=int,
        default=300,
        help="rounds of a converted interpreter (convert PREFIX) against the same one unconverted, 0 to skip",
    )
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write results ({DEFAULT_JSON})")
    parser.add_argument("--cc", help="C compiler for the trampoline and no-op program (default: musl-gcc, else zig cc)")
    parser.add_argument(
        "--floor-linkage",
        choices=("static", "dynamic"),
        default="static",
        help="link the trampoline and no-op program statically (the floor), or against the C library's loader as the"
        " musllinux stub must be (rule 5; with musl-gcc, musl's loader)",
    )
    parser.add_argument(
        "--stub", type=Path, help="the stub to measure instead of the installed one, e.g. taken out of a wheel"
    )
    parser.add_argument("--keep", action="store_true", help="keep the environments made, and say where")
    return parser.parse_args(argv)


def discover(chosen: Sequence[str]) -> list[Interpreter]:
    """Find the interpreters to measure: those given, or every pyenv CPython 3.8+ and the system ``python3``.

    :param chosen: interpreters named on the command line

    :returns: the interpreters with their versions

    """
    paths = list(chosen)
    if not paths:
        root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
        found = []
        for folder in root.iterdir() if root.is_dir() else []:
            parts = folder.name.split(".")
            if len(parts) == 3 and all(part.isdigit() for part in parts) and (int(parts[0]), int(parts[1])) >= (3, 8):  # noqa: PLR2004
                found.append((tuple(map(int, parts)), str(folder / "bin" / "python3")))
        paths = [path for _, path in sorted(found)]
        if Path("/usr/bin/python3").exists():
            paths.append("/usr/bin/python3")
    code = "import platform; print(platform.python_version())"
    return [Interpreter(p, subprocess.check_output([p, "-c", code], text=True).strip()) for p in paths]


def clean_environ(config: Path) -> dict[str, str]:
    """Build the environment every measured process runs with: no user virtualenv config, no ``PYTHON*``.

    :param config: an empty virtualenv configuration file

    :returns: the environment

    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUALENV_", "PYTHON", "PIP_"))}
    env["VIRTUALENV_CONFIG_FILE"] = str(config)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def timed(args: Sequence[str], env: dict[str, str]) -> float:
    """Run a program to its end, output discarded, and time it.

    posix_spawn, not subprocess: less of the parent's own work lands inside the measured interval.

    :param args: the program and its arguments
    :param env: its environment

    :returns: the wall time in milliseconds

    :raises RuntimeError: when the program fails

    """
    actions = [
        (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
    ]
    start = time.perf_counter_ns()
    pid = os.posix_spawn(args[0], list(args), env, file_actions=actions)
    _, status = os.waitpid(pid, 0)
    elapsed = (time.perf_counter_ns() - start) / 1e6
    if os.waitstatus_to_exitcode(status) != 0:
        failed = subprocess.run(list(args), env=env, capture_output=True, text=True, check=False)
        msg = f"{' '.join(args)} failed: {failed.stderr.strip() or failed.returncode}"
        raise RuntimeError(msg)
    return elapsed


def ordered(items: Sequence[str], index: int) -> list[str]:
    """Give round ``index`` its order: the rounds go through every permutation of ``items`` in turn.

    A mere rotation keeps the cyclic order, so one variant would always follow the same other; over every
    permutation each follows each equally often.

    :param items: the variants
    :param index: the round number

    :returns: the variants in this round's order

    """
    orders = list(itertools.permutations(items))
    return list(orders[index % len(orders)])


def paired(run: dict[str, list[str]], rounds: int, warmup: int, env: dict[str, str]) -> dict[str, list[float]]:
    """Run every variant once per round, alternating, and collect the recorded times.

    :param run: each variant's command line
    :param rounds: recorded rounds
    :param warmup: rounds run first and not recorded
    :param env: the environment of every run

    :returns: each variant's times in milliseconds, round by round

    """
    times: dict[str, list[float]] = {name: [] for name in run}
    for index in range(warmup + rounds):
        for name in ordered(list(run), index):
            elapsed = timed(run[name], env)
            if index >= warmup:
                times[name].append(elapsed)
    return times


def per_round(
    times: dict[str, list[float]], baseline: str, compare: Callable[[float, float], float]
) -> dict[str, Spread]:
    """Summarise each variant against the baseline, compared within each round.

    :param times: each variant's times in milliseconds, round by round
    :param baseline: the variant to compare with
    :param compare: the comparison of one round's time of a variant with the baseline's

    :returns: the spread of the comparisons of every other variant

    """
    base = times[baseline]
    return {
        name: Spread.of([compare(mine, theirs) for mine, theirs in zip(values, base)])
        for name, values in times.items()
        if name != baseline
    }


def ratio(mine: float, theirs: float) -> float:
    """Divide one time by another."""
    return mine / theirs


def extra_microseconds(mine: float, theirs: float) -> float:
    """Give how much longer, in microseconds, a time in milliseconds is than another."""
    return (mine - theirs) * 1000


def virtualenv(*args: str, app_data: Path) -> list[str]:
    """Build a virtualenv command line run by this Python, which has the plugin installed.

    :param args: virtualenv's arguments
    :param app_data: the app-data folder shared by every run, so seed wheels are extracted once

    :returns: the command line

    """
    return [sys.executable, "-m", "virtualenv", "--app-data", str(app_data), "--quiet", *args]


def base_of(venv: Path, fallback: str) -> str:
    """Read the base interpreter from an environment's ``pyvenv.cfg``, as the stub does.

    :param venv: the environment
    :param fallback: the interpreter to use when no base key is there

    :returns: the base interpreter's path

    """
    from virtualenv_symlink_safe.environment import read_cfg  # noqa: PLC0415  # the plugin under measurement

    values = read_cfg(str(venv / "pyvenv.cfg"))
    return values.get("base-executable") or values.get("executable") or os.path.realpath(fallback)


def stub_build() -> dict[str, str]:
    """Read how the installed stub was built.

    :returns: the content of ``stub-build.json`` next to the stub, empty when the build wrote none

    """
    info = files("virtualenv_symlink_safe").joinpath("stub-build.json")
    if not info.is_file():
        return {}
    loaded: dict[str, str] = json.loads(info.read_text())
    return loaded


#: zig's name of a machine's architecture, where it differs from ``platform.machine()``.
ZIG_ARCH = {"i686": "x86", "i386": "x86", "armv7l": "arm", "ppc64le": "powerpc64le"}


def floor_compiler(cc: str | None) -> list[str]:
    """Choose the compiler of the trampoline and the no-op program: one that links musl in, the quickest start.

    :param cc: the compiler asked for, ``None`` to choose

    :returns: the command: ``cc``, else musl-gcc, else zig cc (``SYMLINK_SAFE_ZIG``, the ziglang module or ``PATH``)

    :raises RuntimeError: when none is asked for or found

    """
    if cc:
        return [cc]
    if shutil.which("musl-gcc"):
        return ["musl-gcc"]
    zig = os.environ.get("SYMLINK_SAFE_ZIG") or shutil.which("zig")
    if not zig:
        try:
            import ziglang  # type: ignore[import-not-found]  # noqa: PLC0415  # optional: 100 MB
        except ImportError:
            pass
        else:
            zig = str(Path(ziglang.__file__).parent / "zig")
    if not zig:
        msg = "no musl-gcc or zig for the trampoline (apt-get install musl-tools, pip install ziglang, or give --cc)"
        raise RuntimeError(msg)
    machine = platform.machine()
    abi = "eabihf" if machine == "armv7l" else ""
    return [zig, "cc", "-target", f"{ZIG_ARCH.get(machine, machine)}-linux-musl{abi}"]


def compile_program(context: Context, source: str, out: Path, macros: Sequence[str] = ()) -> None:
    """Compile one of the benchmark's C programs, linked as ``--floor-linkage`` says.

    :param context: what every run shares: the compiler and the linkage
    :param source: the file's name in the benchmark's folder
    :param out: the executable to write
    :param macros: ``-D`` options

    """
    flags = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-s"]
    if context.static:
        flags.append("-static")
    subprocess.run([*context.cc, *flags, *macros, "-o", str(out), str(HERE / source)], check=True)


def compile_trampoline(context: Context, base: str, argv0: str, out: Path) -> None:
    """Compile the no-op trampoline for one base.

    :param context: what every run shares: the compiler and the linkage
    :param base: the program it execs
    :param argv0: the ``argv[0]`` it passes, inside the stub environment
    :param out: the executable to write

    """
    # json.dumps escapes quotes and backslashes as a C string literal wants them.
    macros = [f"-DBASE={json.dumps(base, ensure_ascii=False)}", f"-DARGV0={json.dumps(argv0, ensure_ascii=False)}"]
    compile_program(context, "trampoline.c", out, macros)


def put_stub(context: Context, env: Path) -> None:
    """Put the stub asked for with ``--stub`` in an environment made by the installed plugin.

    :param context: what every run shares
    :param env: the environment

    """
    if context.stub is None:
        return
    python = env / "bin" / "python"
    staged = python.with_name(".python.bench")
    shutil.copyfile(context.stub, staged)
    staged.chmod(0o755)
    staged.replace(python)


def describe_stub(context: Context) -> dict[str, str]:
    """Say which stub is measured: the installed one's build record, or the file ``--stub`` gave.

    :param context: what every run shares

    :returns: the build record, or the path and ELF header of the given file

    """
    if context.stub is None:
        return stub_build()
    from virtualenv_symlink_safe.elf import read_header  # noqa: PLC0415  # the plugin under measurement

    return {"path": str(context.stub), "header": read_header(context.stub).describe()}


def measure_startup(
    interpreter: Interpreter, context: Context, work: Path, *, rounds: int, warmup: int
) -> StartupTimes:
    """Measure start-up of one interpreter through every variant, for every command, in environments made here.

    :param interpreter: the base interpreter
    :param context: what every run shares
    :param work: a folder for its environments, which must not exist yet
    :param rounds: recorded rounds per command
    :param warmup: unrecorded rounds first

    :returns: the times of this run

    """
    envs = {name: work / name for name in ("symlink", "stub", "copies")}
    creators = {"symlink": ["--creator", "cpython3-posix"], "stub": ["--creator", "symlink-safe"]}
    creators["copies"] = ["--creator", "cpython3-posix", "--copies"]
    for name, dest in envs.items():
        subprocess.run(
            virtualenv("-p", interpreter.exe, "--no-seed", *creators[name], str(dest), app_data=context.app_data),
            env=context.env,
            check=True,
        )
    put_stub(context, envs["stub"])
    trampoline = work / "trampoline"
    compile_trampoline(
        context, base_of(envs["stub"], interpreter.exe), str(envs["stub"] / "bin" / "python"), trampoline
    )
    programs = {name: str(dest / "bin" / "python") for name, dest in envs.items()}
    programs["trampoline"] = str(trampoline)
    run = {
        command: {name: [programs[name], *extra] for name in STARTUP_VARIANTS} for command, extra in COMMANDS.items()
    }
    return {command: paired(lines, rounds, warmup, context.env) for command, lines in run.items()}


def summarise_startup(interpreter: Interpreter, runs: Sequence[StartupTimes]) -> list[StartupResult]:
    """Summarise the start-up runs of one interpreter: every round of every run pooled, and each run's median ratio.

    :param interpreter: the base interpreter
    :param runs: the times of each run

    :returns: one result per command

    """
    results = []
    for command in COMMANDS:
        times = {name: [t for run in runs for t in run[command][name]] for name in STARTUP_VARIANTS}
        medians: dict[str, list[float]] = {name: [] for name in STARTUP_VARIANTS if name != "symlink"}
        for run in runs:
            for name, spread in per_round(run[command], "symlink", ratio).items():
                medians[name].append(spread.median)
        milliseconds = {name: Spread.of(values) for name, values in times.items()}
        on_top = per_round(times, "symlink", extra_microseconds)
        floor = per_round(times, "trampoline", ratio)["stub"]
        results.append(
            StartupResult(
                interpreter, command, milliseconds, per_round(times, "symlink", ratio), floor, on_top, medians
            )
        )
    return results


def measure_launcher(context: Context, work: Path, *, rounds: int, warmup: int) -> LauncherResult:
    """Measure the stub and the trampoline in front of a program that does nothing.

    Interpreter start-up varies by several percent from one run to the next, far more than the stub's own work;
    with a no-op program behind it, what is left to vary is the launcher.

    :param context: what every run shares
    :param work: a folder for the environment and the programs
    :param rounds: recorded rounds
    :param warmup: unrecorded rounds first

    :returns: the result

    """
    noop, trampoline, env = work / "noop", work / "trampoline", work / "env"
    work.mkdir(parents=True)
    compile_program(context, "noop.c", noop)
    subprocess.run(
        virtualenv("--no-seed", "--creator", "symlink-safe", str(env), app_data=context.app_data),
        env=context.env,
        check=True,
    )
    # The stub takes the first base-executable it reads; the rest of pyvenv.cfg stays as virtualenv wrote it.
    put_stub(context, env)
    cfg = env / "pyvenv.cfg"
    cfg.write_text(f"base-executable = {noop}\n{cfg.read_text()}")
    compile_trampoline(context, str(noop), str(env / "bin" / "python"), trampoline)
    run = {"direct": [str(noop)], "trampoline": [str(trampoline)], "stub": [str(env / "bin" / "python")]}
    times = paired(run, rounds, warmup, context.env)
    own = per_round(times, "trampoline", extra_microseconds)["stub"]
    return LauncherResult(
        Spread.of([t * 1000 for t in times["direct"]]), per_round(times, "direct", extra_microseconds), own
    )


def measure_creation(
    interpreter: Interpreter, context: Context, work: Path, *, seeded: bool, rounds: int
) -> CreationResult:
    """Measure the creation of an environment by each creator, paired round by round.

    :param interpreter: the base interpreter
    :param context: what every run shares
    :param work: a folder for the environments
    :param seeded: whether virtualenv's default seeder installs pip
    :param rounds: recorded rounds (one unrecorded round runs first)

    :returns: the result, or one saying why it was skipped

    """
    result = CreationResult(interpreter, seeded)
    if seeded and tuple(map(int, interpreter.version.split(".")[:2])) < (3, 9):
        result.skipped = "virtualenv's bundled seeder has no pip for CPython 3.8"
        return result
    if rounds <= 0:
        result.skipped = "no rounds asked for"
        return result
    times: dict[str, list[float]] = {creator: [] for creator in CREATORS}
    for index in range(1 + rounds):
        for creator in ordered(CREATORS, index):
            # Outside the timed part: one path for every creator, emptied, and the last tree written out, so no
            # creation pays for the one before it.
            dest = work / "env"
            shutil.rmtree(dest, ignore_errors=True)
            os.sync()
            seed = [] if seeded else ["--no-seed"]
            elapsed = timed(
                virtualenv("-p", interpreter.exe, "--creator", creator, *seed, str(dest), app_data=context.app_data),
                context.env,
            )
            if index > 0:
                times[creator].append(elapsed)
    result.milliseconds = {name: Spread.of(values) for name, values in times.items()}
    result.ratio_to_cpython3_posix = per_round(times, "cpython3-posix", ratio)
    return result


def installation_copy(exe: str, dest: Path) -> Path:
    """Lay out an installation at ``dest`` for the interpreter ``exe``: its file copied, the rest of its prefix linked.

    ``bin/`` holds a copy of the interpreter's real file and a link ``python3`` to it, as an installation has; every
    other entry of the prefix (``lib``, ``include``...) is a symlink to the original, which CPython's search for its
    prefix follows. Two such copies differ only in what ``convert`` makes of one.

    :param exe: the interpreter
    :param dest: a folder that must not exist yet

    :returns: the copied interpreter file

    """
    real = Path(os.path.realpath(exe))
    source = real.parent.parent
    (dest / "bin").mkdir(parents=True)
    for entry in source.iterdir():
        if entry.name != "bin":
            (dest / entry.name).symlink_to(entry)
    copied = dest / "bin" / real.name
    shutil.copy2(real, copied)
    (dest / "bin" / "python3").symlink_to(real.name)
    return copied


def measure_converted_interpreter(
    interpreter: Interpreter, context: Context, work: Path, *, rounds: int, warmup: int
) -> dict[str, dict[str, Spread]]:
    """Measure a converted interpreter (contract rule 10) against the same interpreter unconverted, paired by round.

    :param interpreter: the interpreter to copy twice
    :param context: what every run shares
    :param work: a folder for the two copies, which must not exist yet
    :param rounds: recorded rounds per command
    :param warmup: unrecorded rounds first

    :returns: for each way of starting it, the ratio converted / plain per round

    """
    from virtualenv_symlink_safe.installation import convert_installation  # noqa: PLC0415  # the plugin under test

    plain = installation_copy(interpreter.exe, work / "plain")
    installation_copy(interpreter.exe, work / "converted")
    convert_installation(work / "converted")
    for folder in ("plain", "converted"):  # venv links bin/python to the interpreter (the launcher, once converted)
        python = str(work / folder / "bin" / "python3")
        subprocess.run(
            [python, "-m", "venv", "--without-pip", str(work / f"{folder}-venv")], env=context.env, check=True
        )
    results = {}
    ways = {
        "bin/python3 -c pass": ("{}/bin/python3", ""),
        f"bin/{plain.name} -c pass": (f"{{}}/bin/{plain.name}", ""),
        "venv bin/python -c pass": ("{}/bin/python", "-venv"),
    }
    for way, (path, suffix) in ways.items():
        run = {
            "plain": [path.format(work / f"plain{suffix}"), "-c", "pass"],
            "converted": [path.format(work / f"converted{suffix}"), "-c", "pass"],
        }
        times = paired(run, rounds, warmup, context.env)
        results[way] = {"ratio": per_round(times, "plain", ratio)["converted"]}
    return results


def measure_converted_interpreters(
    interpreters: Sequence[Interpreter], context: Context, work: Path, *, rounds: int, warmup: int
) -> dict[str, dict[str, dict[str, Spread]]]:
    """Run :func:`measure_converted_interpreter` for each interpreter; none when ``rounds`` is 0."""
    measured = {}
    for interpreter in interpreters if rounds > 0 else []:
        print(f"measuring {interpreter} converted", file=sys.stderr, flush=True)
        folder = work / interpreter.version / "interpreter"
        measured[interpreter.version] = measure_converted_interpreter(
            interpreter, context, folder, rounds=rounds, warmup=warmup
        )
    return measured


def format_converted(measured: dict[str, dict[str, dict[str, Spread]]]) -> str:
    """Format the converted interpreters' ratios, one line per interpreter and way of starting it."""
    if not measured:
        return ""
    lines = [
        "",
        "converted interpreter (convert PREFIX): ratio to the same interpreter unconverted (target <= 1.02)",
        "",
    ]
    for version, ways in measured.items():
        for way, spreads in ways.items():
            lines.append(f"{version:10} {way:28} {spreads['ratio'].cell()}")
    return "\n".join(lines)


def machine() -> dict[str, object]:
    """Describe the machine the figures come from.

    :returns: CPU count, CPU model, kernel, load averages and the Python running the benchmark

    """
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    for line in cpuinfo.read_text().splitlines() if cpuinfo.exists() else []:
        if line.startswith("model name"):
            model = line.partition(":")[2].strip()
            break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "kernel": platform.release(),
        "system": platform.platform(),
        "loadavg": os.getloadavg(),
        "driver": platform.python_version(),
    }


CELL = 34


def report(startup: list[StartupResult], launcher: LauncherResult | None, creation: list[CreationResult]) -> str:
    """Format the results as three plain-text tables.

    :param startup: start-up results
    :param launcher: the launcher result, ``None`` when skipped
    :param creation: creation results

    :returns: the tables

    """
    lines = ["every cell: median [95% confidence interval of the median] (p25-p75)", ""]
    lines += [
        "start-up: ratio to a symlink environment, and the stub's to the trampoline (the floor); the symlink",
        "environment's median in ms, and the stub's median extra in us",
        "",
    ]
    head = f"{'python':10} {'command':15} {'symlink ms':>10} {'stub us':>7}  "
    columns = ("stub", "copies", "trampoline", "stub/trampoline")
    lines.append(head + "".join(f"{name:{CELL}}" for name in columns))
    for item in startup:
        cells = "".join(f"{item.ratio_to_symlink[name].cell():{CELL}}" for name in ("stub", "copies", "trampoline"))
        cells += f"{item.stub_to_trampoline.cell():{CELL}}"
        base = item.milliseconds["symlink"].median
        extra = item.extra_microseconds["stub"].median
        lines.append(f"{item.interpreter.version:10} {item.command:15} {base:10.2f} {extra:7.0f}  {cells}")
    if any(len(item.run_medians["stub"]) > 1 for item in startup):
        lines += ["", "start-up run by run: the stub's median ratio in each run; their median [lowest-highest]", ""]
        for item in startup:
            medians = item.run_medians["stub"]
            each = " ".join(f"{value:.3f}" for value in medians)
            summary = f"{statistics.median(medians):.3f} [{min(medians):.3f}-{max(medians):.3f}]"
            lines.append(f"{item.interpreter.version:10} {item.command:15} {each}  {summary}")
    if launcher is not None:
        direct = launcher.direct_microseconds.median
        lines += ["", f"launcher: extra us per start over a no-op program started directly ({direct:.0f} us)", ""]
        for name in ("trampoline", "stub"):
            lines.append(f"{name:26} {launcher.extra_microseconds[name].cell(0)}")
        lines.append(f"{'stub minus trampoline':26} {launcher.stub_over_trampoline_microseconds.cell(0)}")
    lines += ["", "creation: ratio to cpython3-posix; its median in ms", ""]
    lines.append(
        f"{'python':10} {'seed':8} {'posix ms':>10}  " + "".join(f"{n:{CELL}}" for n in ("symlink-safe", "venv"))
    )
    for entry in creation:
        seed = "seeded" if entry.seeded else "no-seed"
        if entry.skipped:
            lines.append(f"{entry.interpreter.version:10} {seed:8} skipped: {entry.skipped}")
            continue
        cells = "".join(f"{entry.ratio_to_cpython3_posix[n].cell():{CELL}}" for n in ("symlink-safe", "venv"))
        base = entry.milliseconds["cpython3-posix"].median
        lines.append(f"{entry.interpreter.version:10} {seed:8} {base:10.1f}  {cells}")
    return "\n".join(lines)


def console_script() -> tuple[Path, str]:
    """Find the ``virtualenv-symlink-safe`` console script installed beside the running interpreter, as users run it.

    :returns: the script and the interpreter its ``#!`` line names

    :raises RuntimeError: when there is no such script (the bench runs from an environment the package is installed in,
        as ``tox run -e bench`` does)

    """
    script = Path(sys.executable).with_name("virtualenv-symlink-safe")
    if not script.is_file():
        msg = f"no virtualenv-symlink-safe console script beside {sys.executable}: install the package there"
        raise RuntimeError(msg)
    with script.open("rb") as handle:
        first = handle.readline()
    if not first.startswith(b"#!"):
        msg = f"{script} does not start with a #! line"
        raise RuntimeError(msg)
    return script, first[2:].decode().strip()


def measure_convert(work: Path, rounds: int, script: tuple[Path, str] | None) -> dict[str, float | str] | None:
    """Time ``virtualenv-symlink-safe convert`` through its installed console script against a bare interpreter start.

    The console script is what a user runs (pip's launcher, which imports more than the command itself); the bare
    start is ``python -c pass`` of the interpreter its ``#!`` line names, paired round by round. The environment is
    made by ``python -m venv`` and reverted between rounds, untimed, so every timed conversion has work to do.

    :param work: a folder for the environment
    :param rounds: recorded rounds
    :param script: what :func:`console_script` found, looked up before any measurement; ``None`` for no rounds

    :returns: the median times in milliseconds, the median of the per-round ratios and the script timed; ``None`` for
        no rounds

    """
    if rounds <= 0 or script is None:
        return None
    print("measuring convert", file=sys.stderr, flush=True)
    executable, python = script
    env = work / "convert-env"
    subprocess.run([python, "-m", "venv", "--without-pip", str(env)], check=True)
    bare: list[float] = []
    convert: list[float] = []
    variants = {
        "bare": (bare, [python, "-c", "pass"]),
        "convert": (convert, [str(executable), "convert", "-q", str(env)]),
    }
    for index in range(rounds):
        subprocess.run([str(executable), "revert", "-q", str(env)], check=True)
        for name in ordered(list(variants), index):
            times, args = variants[name]
            times.append(timed(args, dict(os.environ)))
    ratios = [c / b for b, c in zip(bare, convert)]
    return {
        "rounds": rounds,
        "script": str(executable),
        "python": python,
        "bare_ms": statistics.median(bare),
        "convert_ms": statistics.median(convert),
        "ratio": statistics.median(ratios),
    }


def format_convert(converting: dict[str, float | str] | None) -> str:
    """Say what one ``convert`` costs against a bare start, as a paragraph to append; empty when not measured.

    :param converting: what :func:`measure_convert` returned

    :returns: the paragraph, with its leading blank line

    """
    if converting is None:
        return ""
    return (
        f"\n\nconvert: {converting['convert_ms']:.1f} ms through {converting['script']},"
        f" a bare 'python -c pass' {converting['bare_ms']:.1f} ms: ratio {converting['ratio']:.2f}"
        f" (median of {converting['rounds']} paired rounds)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark.

    :param argv: the arguments, ``None`` for ``sys.argv``

    :returns: the exit status: 0 when every measurement ran, 1 when one could not (one line on stderr says
        why), 2 for bad arguments (from argparse)

    """
    args = parse_args(argv)
    try:
        return run(args)
    except (OSError, RuntimeError, subprocess.CalledProcessError) as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    """Measure every interpreter asked for and report.

    :param args: the options

    :returns: 0

    """
    if args.stub is not None and not args.stub.is_file():
        msg = f"--stub {args.stub}: no such file"
        raise RuntimeError(msg)
    interpreters = discover(args.python)
    script = console_script() if args.convert_rounds > 0 else None  # before measuring anything else for long
    work = Path(tempfile.mkdtemp(prefix="symlink-safe-bench-")).resolve()
    try:
        config = work / "virtualenv.ini"
        config.write_text("")
        stub = args.stub.resolve() if args.stub else None
        static = args.floor_linkage == "static"
        context = Context(clean_environ(config), work / "app-data", floor_compiler(args.cc), stub, static)
        started = machine()
        startup: list[StartupResult] = []
        creation: list[CreationResult] = []
        launcher = None
        if args.launcher_rounds > 0:
            print("measuring the launcher", file=sys.stderr, flush=True)
            launcher = measure_launcher(context, work / "launcher", rounds=args.launcher_rounds, warmup=args.warmup)
        # Run by run, every interpreter in each, so that a slow drift of the machine spreads over all of them.
        runs: list[list[StartupTimes]] = [[] for _ in interpreters]
        for index in range(args.runs if args.rounds > 0 else 0):
            for interpreter, times in zip(interpreters, runs):
                print(
                    f"measuring start-up of {interpreter}, run {index + 1} of {args.runs}", file=sys.stderr, flush=True
                )
                folder = work / interpreter.version / f"startup-{index + 1}"
                times.append(measure_startup(interpreter, context, folder, rounds=args.rounds, warmup=args.warmup))
        for interpreter, times in zip(interpreters, runs):
            if times:
                startup += summarise_startup(interpreter, times)
            if args.creation_rounds > 0 or args.seeded_rounds > 0:
                print(f"measuring creation with {interpreter}", file=sys.stderr, flush=True)
            folder = work / interpreter.version
            for seeded, rounds in ((False, args.creation_rounds), (True, args.seeded_rounds)):
                creation.append(measure_creation(interpreter, context, folder / "create", seeded=seeded, rounds=rounds))
        interpreted = measure_converted_interpreters(
            interpreters, context, work, rounds=args.interpreter_rounds, warmup=args.warmup
        )
        converting = measure_convert(work, args.convert_rounds, script)
        settings = {k: v for k, v in vars(args).items() if k not in {"json", "python", "keep", "stub"}}
        judged = verdicts(startup, creation)
        document = {
            "machine": started,
            "loadavg_after": os.getloadavg(),
            "stub_build": describe_stub(context),
            "floor_compiler": " ".join(context.cc),
            "settings": settings,
            "startup": [asdict(item) for item in startup],
            "launcher": asdict(launcher) if launcher else None,
            "creation": [asdict(item) for item in creation],
            "targets": judged,
            "convert": converting,
            "converted_interpreter": {
                version: {way: {k: asdict(v) for k, v in spreads.items()} for way, spreads in ways.items()}
                for version, ways in interpreted.items()
            },
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(report(startup, launcher, creation) + format_converted(interpreted))
        print(f"\n{format_verdicts(judged)}{format_convert(converting)}")
        print(f"\nwritten to {args.json}", file=sys.stderr)
    finally:
        if args.keep:
            print(f"environments kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
