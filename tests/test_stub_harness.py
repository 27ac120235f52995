"""The stub's pure parts, driven in-process through tests/harness, against Python's and the kernel's own semantics.

Property tests (hypothesis) compare the C code with ``posixpath.normpath`` (rule 2.1), with CPython's reading of
``pyvenv.cfg`` (rule 3.1), and the lookup walk (rule 2) with a reference built on ``os.path.realpath``,
``os.stat`` and ``os.readlink`` over randomly generated trees of links. The fuzzers' corpus is replayed here too.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import posixpath
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import Status
from virtualenv_symlink_safe.environment import read_cfg

ROOT = Path(__file__).parent.parent
HARNESS_C = Path(__file__).parent / "harness" / "harness.c"
CORPUS = ROOT / "fuzz" / "corpus"
KEYS = ("base-executable", "executable", "home", "version_info", "version")


@dataclass
class Harness:
    """The stub's functions, called through ctypes."""

    lib: ctypes.CDLL

    @property
    def path_max(self) -> int:
        value: int = self.lib.harness_path_max()
        return value

    def message(self) -> str:
        self.lib.harness_message.restype = ctypes.c_char_p
        text: bytes = self.lib.harness_message()
        return text.decode()

    def normalize(self, path: bytes) -> tuple[int, bytes]:
        out = ctypes.create_string_buffer(self.path_max)
        status: int = self.lib.harness_normalize(out, path)
        return status, out.value

    def parse_cfg(self, text: bytes) -> tuple[int, dict[str, bytes]]:
        buffer = ctypes.create_string_buffer(text, len(text) + 1)
        values = (ctypes.c_char_p * len(KEYS))()
        status: int = self.lib.harness_parse_cfg(buffer, ctypes.c_size_t(len(text)), values)
        return status, {key: value for key, value in zip(KEYS, values) if value is not None}

    def cfg_trust(self, case: tuple[int, int, int, int, int, int]) -> int:
        """The verdict on (directory mode, directory owner, entry owner, entry links, file mode, effective user)."""
        self.lib.harness_cfg_trust.argtypes = [
            ctypes.c_uint,
            ctypes.c_ulong,
            ctypes.c_ulong,
            ctypes.c_ulong,
            ctypes.c_uint,
            ctypes.c_ulong,
        ]
        verdict: int = self.lib.harness_cfg_trust(*case)
        return verdict

    def cfg_trust_needs_dir(self, entry_uid: int, entry_nlink: int, file_mode: int, euid: int) -> bool:
        self.lib.harness_cfg_trust_needs_dir.argtypes = [ctypes.c_ulong, ctypes.c_ulong, ctypes.c_uint, ctypes.c_ulong]
        return bool(self.lib.harness_cfg_trust_needs_dir(entry_uid, entry_nlink, file_mode, euid))

    def find_env(self, start: bytes) -> tuple[int, bytes, bytes]:
        venv, cfg = ctypes.create_string_buffer(self.path_max), ctypes.create_string_buffer(self.path_max)
        status: int = self.lib.harness_find_env(start, venv, cfg)
        return (status, venv.value, cfg.value) if status == 0 else (status, b"", b"")


@pytest.fixture(scope="session")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    """Build the harness from the stub's own source, with the same warnings as the stub."""
    library = tmp_path_factory.mktemp("harness") / "libstubharness.so"
    flags = ["-std=c99", "-O1", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", "-pedantic"]
    cmd = [os.environ.get("CC", "cc"), *flags, "-Wno-unused-function", "-o", str(library), str(HARNESS_C)]
    subprocess.run(cmd, check=True)
    return Harness(ctypes.CDLL(str(library)))


# ---------------------------------------------------------------------------------------------------------------------
# Rule 2.1: lexical normalisation is posixpath.normpath, with a leading "//" made "/" (rule 4.1 wants a clean path,
# and Linux gives "//" no meaning of its own).


def normpath_reference(path: bytes) -> bytes:
    return b"/" + posixpath.normpath(path).lstrip(b"/")


path_parts = st.sampled_from([b"", b".", b"..", b"a", b"bc", b"...", b".a", b"a.", b" ", b"\n", b"\xff"])
absolute_paths = st.builds(
    lambda slashes, parts: b"/" * slashes + b"/".join(parts),
    st.integers(min_value=1, max_value=3),
    st.lists(path_parts, max_size=16),
)


@pytest.mark.contract("rule 2.1")
@given(path=absolute_paths)
def test_normalize_is_normpath(harness: Harness, path: bytes) -> None:
    assert harness.normalize(path) == (0, normpath_reference(path))


@given(path=st.binary(min_size=1, max_size=600).filter(lambda b: b"\0" not in b).map(lambda b: b"/" + b))
def test_normalize_arbitrary_bytes(harness: Harness, path: bytes) -> None:
    status, out = harness.normalize(path)
    assert status == 0
    assert out == normpath_reference(path)
    assert harness.normalize(out) == (0, out), "normalising twice changes nothing"


def test_normalize_too_long(harness: Harness) -> None:
    longest = b"/" + b"a" * (harness.path_max - 2)
    assert harness.normalize(longest) == (0, longest)
    status, _ = harness.normalize(longest + b"b")
    assert status == Status.PATH_TOO_LONG
    assert "path too long" in harness.message()
    # what does not end up in the result costs nothing, however long the input
    assert harness.normalize(b"/" + b"./" * harness.path_max + b"x") == (0, b"/x")


# ---------------------------------------------------------------------------------------------------------------------
# Rule 3.1: pyvenv.cfg is read as CPython's getpath reads it (Modules/getpath.c, readlines, 3.11 and later): bytes
# decoded as UTF-8 with surrogateescape, lines ending at "\n" only, the first "=" splits, key and value str.strip()ped
# (Unicode white space: a no-break space, U+2000-U+200A, U+3000...), keys compared case-insensitively, the first
# occurrence of a key winning.


def cpython_reads(text: bytes) -> dict[str, bytes]:
    found: dict[str, str] = {}
    for line in text.decode("utf-8", "surrogateescape").split("\n"):
        key, had_equals, value = line.partition("=")
        name = key.strip().lower()
        if had_equals and name in KEYS and name not in found:
            found[name] = value.strip()
    return {key: value.encode("utf-8", "surrogateescape") for key, value in found.items()}


#: Every character str.isspace() is true of, and bytes that look like white space but are not, or not alone.
UNICODE_SPACE = [chr(c) for c in range(0x110000) if chr(c).isspace()]
NOT_SPACE = ["\u200b", "\ufeff", "\u180e", "\xad", "\U0001f600", "x"]
RAW_BYTES = [b"\xc2", b"\xa0", b"\xe2\x80", b"\x80", b"\xf0", b"\xe3\x80", b"\xff", b"\xed\xa0\x80"]
ascii_noise = st.text(st.characters(min_codepoint=1, max_codepoint=127), max_size=12)
padding = st.lists(
    st.one_of(st.sampled_from(UNICODE_SPACE).map(str.encode), st.sampled_from([*NOT_SPACE, " "]).map(str.encode)),
    max_size=3,
).map(b"".join)
values = st.lists(st.one_of(ascii_noise.map(str.encode), st.sampled_from(RAW_BYTES)), max_size=3).map(b"".join)
cfg_keys = st.sampled_from([*KEYS, "HOME", "Base-Executable", " version ", "\thome\x1c", "prompt", "", "home x"])
cfg_lines = st.one_of(
    st.builds(
        lambda k, sep, lead, v, trail: k.encode() + sep.encode() + lead + v + trail,
        cfg_keys,
        st.sampled_from(["=", " = ", "\t=\x0b", "==", " =\r", "\u00a0=\u3000"]),
        padding,
        values,
        padding,
    ),
    ascii_noise.map(str.encode),
)
cfg_texts = st.builds(
    lambda lines, end: end.join(lines),
    st.lists(cfg_lines, max_size=12),
    st.sampled_from([b"\n", b"\r\n", b"\n\n", b"\r"]),
)


@pytest.mark.contract("rule 3.1")
@given(text=cfg_texts)
def test_cfg_is_read_as_cpython_reads_it(harness: Harness, text: bytes) -> None:
    assert harness.parse_cfg(text) == (0, cpython_reads(text))


@pytest.mark.contract("rule 3.1")
@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=cfg_texts)
def test_python_model_reads_as_the_stub(harness: Harness, text: bytes, tmp_path: Path) -> None:
    """environment.read_cfg, which convert and explain use, takes the same values as the stub."""
    cfg = tmp_path / "pyvenv.cfg"
    cfg.write_bytes(text)
    model = {key: value.encode("utf-8", "surrogateescape") for key, value in read_cfg(str(cfg)).items()}
    assert {key: value for key, value in model.items() if key in KEYS} == harness.parse_cfg(text)[1]


@pytest.mark.contract("rule 3.1")
@pytest.mark.parametrize("space", [c for c in UNICODE_SPACE if c != "\n"], ids=lambda c: f"U+{ord(c):04X}")
def test_cfg_strips_every_unicode_space(harness: Harness, space: str) -> None:
    padded = space.encode()
    text = b"home =" + padded + b"/usr/bin" + padded * 2 + b"\n"
    assert harness.parse_cfg(text) == (0, {"home": b"/usr/bin"})


@pytest.mark.contract("rule 3.1")
@pytest.mark.parametrize("lookalike", [*NOT_SPACE[:-1], "\u00a0\u0301"], ids=lambda c: c.encode().hex())
def test_cfg_keeps_what_is_not_white_space(harness: Harness, lookalike: str) -> None:
    text = f"home = /usr/bin{lookalike}\n".encode()
    assert harness.parse_cfg(text) == (0, cpython_reads(text))
    assert harness.parse_cfg(text)[1]["home"] != b"/usr/bin"


@pytest.mark.contract("rule 3.4")
@given(text=st.binary(max_size=300))
def test_cfg_arbitrary_bytes(harness: Harness, text: bytes) -> None:
    status, values = harness.parse_cfg(text)
    if b"\0" in text:
        assert (status, values) == (105, {})
    else:
        assert status == 0
        assert all(value in text for value in values.values())


@pytest.mark.contract("rule 3.1")
def test_cfg_real_virtualenv_file(harness: Harness) -> None:
    text = (
        b"home = /usr/bin\nimplementation = CPython\nversion_info = 3.11.2.final.0\nversion = 3.11.2\n"
        b"executable = /usr/bin/python3.11\nbase-executable = /usr/bin/python3\nprompt = = odd =\n"
    )
    status, values = harness.parse_cfg(text)
    assert status == 0
    assert values == {
        "home": b"/usr/bin",
        "version_info": b"3.11.2.final.0",
        "version": b"3.11.2",
        "executable": b"/usr/bin/python3.11",
        "base-executable": b"/usr/bin/python3",
    }


# ---------------------------------------------------------------------------------------------------------------------
# Rule 2.6: whose pyvenv.cfg counts. The reference says it as the contract does; the C code takes shortcuts.

TRUST_OK, TRUST_STICKY_OTHER, TRUST_WORLD_WRITABLE, TRUST_SHARED_LINKED, TRUST_SHARED_WRITABLE = 0, 1, 2, 3, 4

#: (directory mode, directory owner, entry owner, entry links, file mode, effective user)
Case = tuple[int, int, int, int, int, int]


def trust_reference(case: Case) -> int:
    dir_mode, dir_uid, entry_uid, entry_nlink, file_mode, euid = case
    shared = bool(dir_mode & stat.S_ISVTX and dir_mode & (stat.S_IWGRP | stat.S_IWOTH))  # add, but not replace
    anyone_replaces = bool(dir_mode & stat.S_IWOTH and not dir_mode & stat.S_ISVTX)
    if shared and entry_uid not in {euid, 0, dir_uid}:
        return TRUST_STICKY_OTHER
    if file_mode & stat.S_IWOTH and not anyone_replaces:
        return TRUST_WORLD_WRITABLE
    if shared and entry_nlink != 1:
        return TRUST_SHARED_LINKED
    if shared and file_mode & stat.S_IWGRP:
        return TRUST_SHARED_WRITABLE
    return TRUST_OK


modes = st.integers(min_value=0, max_value=0o7777)
uids = st.one_of(st.sampled_from([0, 1, 1000, 65534, 2**32 - 1]), st.integers(min_value=0, max_value=2**32 - 1))
nlinks = st.one_of(st.sampled_from([1, 1, 2]), st.integers(min_value=0, max_value=2**32 - 1))


@pytest.mark.contract("rule 2.6")
@given(case=st.tuples(modes, uids, uids, nlinks, modes, uids))
def test_trust_verdict_is_the_reference_models(harness: Harness, case: Case) -> None:
    verdict = harness.cfg_trust(case)
    assert verdict == trust_reference(case)
    _, _, entry_uid, entry_nlink, file_mode, euid = case
    if not harness.cfg_trust_needs_dir(entry_uid, entry_nlink, file_mode, euid):
        assert verdict == TRUST_OK, "cfg_trusted skips the directory's stat() only where it cannot matter"


@pytest.mark.contract("rule 2.6")
@pytest.mark.parametrize(
    ("case", "verdict"),
    [
        ((0o1777, 0, 65534, 1, 0o644, 0), TRUST_STICKY_OTHER),  # E7: planted in /tmp by nobody, run by root
        ((0o1777, 0, 1000, 1, 0o644, 0), TRUST_STICKY_OTHER),
        ((0o1770, 0, 1001, 1, 0o644, 1000), TRUST_STICKY_OTHER),  # a group member's, in a group's sticky folder
        ((0o1730, 0, 1001, 1, 0o644, 0), TRUST_STICKY_OTHER),  # write without read is enough to plant
        ((0o1777, 0, 1000, 1, 0o644, 1000), TRUST_OK),  # the effective user's own
        ((0o1770, 0, 1000, 1, 0o644, 1000), TRUST_OK),
        ((0o1777, 0, 0, 1, 0o644, 1000), TRUST_OK),  # root's
        ((0o1777, 65534, 65534, 1, 0o644, 0), TRUST_OK),  # the directory owner's
        ((0o1777, 0, 1000, 2, 0o644, 1000), TRUST_SHARED_LINKED),  # the user's file, but anyone may have linked it
        ((0o1770, 0, 1000, 2, 0o644, 1000), TRUST_SHARED_LINKED),
        ((0o1770, 0, 1000, 2, 0o664, 1000), TRUST_SHARED_LINKED),  # a group member's hard link of a shared note
        ((0o1770, 0, 1000, 1, 0o664, 1000), TRUST_SHARED_WRITABLE),  # the group may rewrite it
        ((0o1755, 0, 1001, 2, 0o664, 1000), TRUST_OK),  # sticky, but only its owner may add
        ((0o775, 1000, 1001, 2, 0o664, 1002), TRUST_OK),  # a group-writable CI workspace
        ((0o2775, 1000, 1000, 1, 0o664, 1000), TRUST_OK),  # umask 002, a group of one's own
        ((0o755, 1000, 1000, 3, 0o644, 2000), TRUST_OK),  # another uid's environment, hard-linked copies: NFS
        ((0o777, 1000, 1000, 1, 0o666, 0), TRUST_OK),  # chmod -R 777: anyone replaces anything anyway
        ((0o755, 0, 0, 1, 0o666, 0), TRUST_WORLD_WRITABLE),  # anyone could rewrite it, nothing else
        ((0o1777, 0, 0, 1, 0o666, 0), TRUST_WORLD_WRITABLE),
        ((0o755, 0, 0, 1, 0o4775, 0), TRUST_OK),
    ],
)
def test_trust_verdict_of_chosen_layouts(harness: Harness, case: Case, verdict: int) -> None:
    assert harness.cfg_trust(case) == verdict


# ---------------------------------------------------------------------------------------------------------------------
# Rule 2: the walk, over random trees of links, against a reference built on the kernel's own resolution.


def c_dirname(path: bytes) -> bytes:
    cut = path.rfind(b"/")
    return b"." if cut < 0 else path[: max(cut, 1)]


def c_join(directory: bytes, name: bytes) -> bytes:
    return directory + name if directory.endswith(b"/") else directory + b"/" + name


def cfg_counts(candidate: bytes) -> bool:
    """A regular file that rule 2.6 lets count, judged from the kernel's answers."""
    try:
        entry, file = os.lstat(candidate), os.stat(candidate)
        holder = os.stat(c_dirname(candidate))
    except OSError:
        return False
    if not stat.S_ISREG(file.st_mode):
        return False
    case = (holder.st_mode, holder.st_uid, entry.st_uid, entry.st_nlink, file.st_mode, os.geteuid())
    return trust_reference(case) == TRUST_OK


def find_cfg(directory: bytes) -> bytes | None:
    for candidate in (c_join(c_dirname(directory), b"pyvenv.cfg"), c_join(directory, b"pyvenv.cfg")):
        if cfg_counts(candidate):
            return candidate
    return None


def status_for(err: int) -> int:
    return {errno.ELOOP: Status.LINK_LOOP, errno.ENAMETOOLONG: Status.PATH_TOO_LONG}.get(err, Status.NO_ENV)


def walk_reference(start: bytes) -> tuple[int, bytes, bytes]:  # noqa: PLR0911  # one return per rule, as in stub.c
    path = start
    for _ in range(41):
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):
                return Status.NO_ENV, b"", b""
        except OSError as exception:
            return status_for(exception.errno or 0), b"", b""
        lexical = normpath_reference(path)
        try:
            same = os.path.samefile(path, lexical)
        except OSError:
            same = False
        if same and (cfg := find_cfg(c_dirname(lexical))):
            return 0, lexical, cfg
        try:
            real = os.path.realpath(c_dirname(path), strict=True)
        except OSError as exception:
            return status_for(exception.errno or 0), b"", b""
        if cfg := find_cfg(real):
            return 0, c_join(real, path[path.rfind(b"/") + 1 :]), cfg
        try:
            target = os.readlink(path)
        except OSError as exception:
            return (Status.NO_ENV if exception.errno == errno.EINVAL else status_for(exception.errno or 0)), b"", b""
        path = target if target.startswith(b"/") else c_join(real, target)
    return Status.LINK_LOOP, b"", b""


LINK_PLACES = [b"l1", b"a/l2", b"a/b/l3", b"env/bin/l4", b"flat/l5", b"c/l6", b"d"]
TARGET_PARTS = [b"a", b"b", b"c", b"d", b"env", b"bin", b"flat", b"python", b"python3", b"..", b".", b"", b"l1", b"l4"]
START_PARTS = [*TARGET_PARTS, b"l2", b"l3", b"l5", b"l6"]
# random parts seldom reach an environment: mix in paths and targets that do, relative to the tree's root
MEANINGFUL = [
    b"tools/python",
    b"tools/python3",
    b"env/bin/python",
    b"env/bin/python3",
    b"flat/python",
    b"env/bin",
    b"flat",
    b"l1",
    b"a/l2",
    b"a/b/l3",
]
MEANINGFUL += [b"env/bin/l4", b"d/python", b"../env/bin/python", b"../../env/bin/python3", b"../flat/python", b"../l1"]
link_targets = st.one_of(
    st.sampled_from(MEANINGFUL).map(lambda path: path.split(b"/")),
    st.lists(st.sampled_from(TARGET_PARTS), min_size=1, max_size=5),
)
start_paths = st.one_of(
    st.sampled_from(MEANINGFUL).map(lambda path: path.split(b"/")),
    st.lists(st.sampled_from(START_PARTS), min_size=1, max_size=6),
)


def build_tree(root: bytes, links: list[tuple[bytes, list[bytes], bool]], *, cfg_in_bin: bool) -> None:
    """Two environments (bin/ layout and flat layout), some directories, then the drawn links.

    With ``cfg_in_bin``, ``env/bin`` holds a pyvenv.cfg too: the one a level up must win, as in CPython.
    """
    for directory in (b"env/bin", b"flat", b"a/b", b"c"):
        os.makedirs(root + b"/" + directory)
    for cfg in (b"env/pyvenv.cfg", b"flat/pyvenv.cfg", *([b"env/bin/pyvenv.cfg"] if cfg_in_bin else [])):
        Path(os.fsdecode(root + b"/" + cfg)).write_text("home = /usr/bin\n")
    for exe in (b"env/bin/python", b"flat/python"):
        Path(os.fsdecode(root + b"/" + exe)).write_bytes(b"")
    os.link(root + b"/env/bin/python", root + b"/env/bin/python3")
    os.symlink(b"env/bin", root + b"/tools")  # a linked bin directory: only the physical check finds env
    for place, parts, absolute in links:
        target = b"/".join(parts)
        if absolute:
            target = root + b"/" + target
        with contextlib.suppress(FileExistsError, FileNotFoundError):
            os.symlink(target, root + b"/" + place)


@pytest.mark.contract("rule 2.3")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    links=st.lists(
        st.tuples(st.sampled_from(LINK_PLACES), link_targets, st.booleans()),
        max_size=7,
    ),
    start_parts=start_paths,
    cfg_in_bin=st.booleans(),
)
def test_walk_matches_the_kernel(
    harness: Harness, links: list[tuple[bytes, list[bytes], bool]], start_parts: list[bytes], *, cfg_in_bin: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = os.fsencode(os.path.realpath(tmp))
        build_tree(root, links, cfg_in_bin=cfg_in_bin)
        start = root + b"/" + b"/".join(start_parts)
        got = harness.find_env(start)
        assert got == walk_reference(start)
        status, venv, cfg = got
        if status == 0:
            assert os.path.samefile(venv, start), "the venv path names another file than the one invoked"
            assert venv == normpath_reference(venv), "argv[0] handed over must be clean (rule 4.1)"
            assert posixpath.basename(cfg) == b"pyvenv.cfg"
            assert c_dirname(cfg) in (c_dirname(venv), c_dirname(c_dirname(venv)))


@pytest.mark.contract("rule 2.5")
def test_walk_gives_up_after_40_links(harness: Harness, tmp_path: Path) -> None:
    (tmp_path / "env" / "bin").mkdir(parents=True)
    (tmp_path / "env" / "pyvenv.cfg").write_text("")
    (tmp_path / "env" / "bin" / "python").write_text("")
    for count, expected in ((40, 0), (41, Status.LINK_LOOP)):
        chain = tmp_path / f"chain{count}"
        chain.mkdir()
        links = [chain / f"l{i}" for i in range(count)]
        for here, there in zip(links, links[1:]):
            here.symlink_to(there.name)
        links[-1].symlink_to(tmp_path / "env" / "bin" / "python")
        assert harness.find_env(os.fsencode(links[0]))[0] == expected


# ---------------------------------------------------------------------------------------------------------------------
# The fuzzers' corpus (fuzz/corpus), replayed: every input the fuzzers kept must pass the same checks.


def corpus(kind: str) -> list[Path]:
    return sorted(p for p in (CORPUS / kind).iterdir() if p.is_file())


@pytest.mark.parametrize("sample", corpus("cfg"), ids=lambda p: p.name)
def test_cfg_corpus(harness: Harness, sample: Path) -> None:
    text = sample.read_bytes()
    status, values = harness.parse_cfg(text)
    if b"\0" in text:
        assert status == 105
    else:
        assert (status, values) == (0, cpython_reads(text))


@pytest.mark.contract("rule 2.6")
@pytest.mark.parametrize("sample", corpus("trust"), ids=lambda p: p.name)
def test_trust_verdict_over_the_fuzz_corpus(harness: Harness, sample: Path) -> None:
    data = sample.read_bytes().ljust(32, b"\0")
    dir_mode, file_mode, dir_uid, entry_uid, euid, _, _, nlink = (
        int.from_bytes(data[i : i + 4], "little") for i in range(0, 32, 4)
    )
    dir_mode, file_mode, nlink = dir_mode & 0o7777, file_mode & 0o7777, nlink % 4  # as fuzz/fuzz_trust.c takes them
    case = (dir_mode, dir_uid, entry_uid, nlink, file_mode, euid)
    assert harness.cfg_trust(case) == trust_reference(case)


@pytest.mark.parametrize("sample", corpus("normalize"), ids=lambda p: p.name)
def test_normalize_corpus(harness: Harness, sample: Path) -> None:
    path = b"/" + sample.read_bytes().split(b"\0")[0]
    status, out = harness.normalize(path)
    if status == 0:
        assert out == normpath_reference(path)
    else:
        assert status == Status.PATH_TOO_LONG
