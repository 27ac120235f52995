/*
 * stub.c - bin/python of a virtualenv-symlink-safe environment.
 *
 * A PEP 405 environment is recognised by a pyvenv.cfg next to the path the
 * interpreter was started by, and CPython takes that path from argv[0]
 * without resolving symlinks.  So a symlink to env/bin/python placed
 * anywhere else starts the *base* interpreter, not the environment.
 *
 * This program stands where env/bin/python would be.  It works out which
 * environment the invocation belongs to, reads the base interpreter from that
 * environment's pyvenv.cfg and execve()s it with argv[0] set to a clean,
 * absolute path inside the environment.  CPython then sees exactly what it
 * sees when started from a --copies environment.
 *
 * The rules are those of the stub contract (docs/reference/contract.rst): the
 * numbers in the comments below ("rule 2.2") refer to it.  Part 1 holds the
 * pure functions; part 2 reads top to bottom: find ourselves, find the
 * environment, find the base, hand over.
 *
 * It holds no path: every environment made by one plugin version gets the
 * same bytes, and an environment still works after mv or cp -a.
 *
 * Every failure prints one line on stderr and exits with its own status,
 * chosen clear of the interpreter's own (0, 1, 2, 120) and of the shell's
 * (126, 127, 128 + N).  On success nothing is printed, unless the trace
 * variable SYMLINK_SAFE_TRACE asks for every check and decision (rule 7).
 *
 * Only main() prints and exits.  Every other function reports a failure by
 * returning its status, the message kept in `message`, so that the test
 * harness and the fuzzers (tests/harness, fuzz/) can drive them in-process:
 * they include this file with -DSYMLINK_SAFE_NO_MAIN.
 */

#define _XOPEN_SOURCE 700 /* realpath(), readlink(), lstat() */
/*
 * 64-bit file offsets, inode numbers and times on 32-bit glibc (i686,
 * armv7l): without them stat() fails with EOVERFLOW on a file whose inode
 * number is above 2^32 (XFS, btrfs, overlayfs) or whose time is after 2038.
 * glibc 2.34+ honours _TIME_BITS only with _FILE_OFFSET_BITS 64; musl and
 * 64-bit builds have both always.  Before any include, and so in the test
 * harness and the fuzzers too, which include this file first.
 */
#define _FILE_OFFSET_BITS 64
#define _TIME_BITS 64

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif
#ifndef NAME_MAX
#define NAME_MAX 255
#endif

/* Exit statuses: documented in docs/reference/exit-statuses.rst. */
enum {
    STATUS_OK = 0,
    STATUS_NO_SELF = 101,       /* cannot tell which file is running */
    STATUS_NO_ENV = 102,        /* no pyvenv.cfg reachable */
    STATUS_CFG_UNREADABLE = 103,
    STATUS_CFG_TOO_LARGE = 104,
    STATUS_CFG_NOT_TEXT = 105,
    STATUS_NO_BASE_KEY = 106,
    STATUS_BASE_UNUSABLE = 107, /* base interpreter missing or not executable */
    STATUS_LINK_LOOP = 108,     /* more than MAX_LINK_STEPS symlinks */
    STATUS_NESTING = 109,       /* stubs as bases nested too deep, or a cycle */
    STATUS_PATH_TOO_LONG = 110,
    STATUS_EXEC_FAILED = 111,
    STATUS_QUERY_UNWRITTEN = 112, /* query mode: the answer could not be written */
    STATUS_COMPANION_UNUSABLE = 113 /* rule 10.4: a launcher's interpreter is not one to start */
};

/* Rule 2.6: why a pyvenv.cfg found does not count; 0 when it does. */
enum {
    TRUST_OK = 0,
    TRUST_STICKY_OTHER = 1,     /* another user's, in a sticky directory others may write */
    TRUST_WORLD_WRITABLE = 2    /* anyone may rewrite it, though not its directory */
};

#define MAX_LINK_STEPS 40    /* rule 2.5: the same bound as the kernel's */
#define MAX_NESTING 8        /* rule 3.3 */
#define MAX_CFG_SIZE (1024 * 1024)

/*
 * Rule 10: a converted interpreter installation.  Its bin/pythonX.Y is a stub
 * (a launcher) and the real interpreter lies beside it, hard-linked as
 * ".pythonX.Y" COMPANION_SUFFIX: the launcher's companion.
 */
#define COMPANION_SUFFIX ".symlink-safe-real"

/*
 * Every stub carries this string; a base interpreter that holds it is one of
 * our stubs (rule 3.3), even one built by another plugin version.  It sits in
 * an ELF note, and linkers place notes right after the ELF and program
 * headers, so it lies within the first STUB_HEAD bytes of every stub: telling
 * a real interpreter from a stub costs one short read, not a read of the
 * whole file.  `readelf -n` shows it; the tests check where it lies.
 */
#define STUB_MARKER "virtualenv-symlink-safe stub marker 1"
#define STUB_HEAD 4096

/*
 * No stub build comes near this size (musl 46 KiB, static glibc 800 KiB, the
 * sanitizer build 1.5 MiB); a larger base, such as a statically linked
 * interpreter, is not read at all.
 */
#define MAX_STUB_SIZE (4 * 1024 * 1024)

static const struct {
    uint32_t namesz, descsz, type; /* the note header: 32-bit in ELF32 and ELF64 alike */
    char name[16];                 /* "symlink-safe" and its NUL, padded to 4 bytes */
    char desc[(sizeof STUB_MARKER + 3) / 4 * 4];
} stub_note __attribute__((used, aligned(4), section(".note.symlink_safe"))) = {
    sizeof "symlink-safe", sizeof STUB_MARKER, 1, "symlink-safe", STUB_MARKER};

static const char PROGRAM[] = "symlink-safe";

/*
 * Every buffer of PATH_MAX or more is static, never on the stack, and one per
 * purpose, or shared by purposes that never overlap (said where it is).  A
 * page of a static buffer costs a page fault (some 2 microseconds) once
 * something is written to it, while a 4 KiB array on the stack pushes every
 * deeper call onto fresh pages, written or not.  For the same reason the
 * common path writes few of them: an absolute argv[0] and a base path from
 * pyvenv.cfg are used where they lie, the lexical form is built where the
 * answer goes, and a directory that is only read is passed as a length.
 * docs/explanation/cost.rst measures what that saves.
 */
static char cfg_text[MAX_CFG_SIZE + 1];

/* ---------------------------------------------------------------------------
 * Reporting: one message line for a failure, trace lines when asked.
 */

/* Room for two escaped paths (4 bytes per byte at worst) and the words. */
#define MESSAGE_SIZE (8 * PATH_MAX + 512)

struct line {
    size_t len; /* first: a short line then touches one page of memory, not two */
    char text[MESSAGE_SIZE];
};

static struct line message; /* the failure to report, if any */
static struct line tracing_line;

/*
 * The stub's small state, in one initialised object: it lives in .data, on
 * the page the kernel has written already, where separate variables would be
 * zeroed .bss scattered between the buffers, each page a fault when first
 * touched.
 */
static struct {
    /*
     * Rule 7: whether to trace, read from SYMLINK_SAFE_TRACE by the first
     * trace(); -1 until then.
     */
    int tracing;
    /*
     * Elevated privileges (AT_SECURE: setuid, setgid, file capabilities, an
     * LSM transition), set by main() before anything else.  Then the caller's
     * word is not taken: no trace (the caller's variable, printed with
     * privileges), no argv[0] or PATH (only the kernel's record of the
     * running file), no base path relative to the caller's working directory.
     */
    bool privileged;
    /*
     * The query mode (rule 7.2): set by main() when it is asked to report its
     * decision instead of acting on it.  Then each step of the decision is
     * written on stdout as a record "key=value" ended by a NUL byte, in the
     * order the walk makes them; a path may hold any byte but NUL, so it is
     * written as it is.  Otherwise record() costs one test and nothing more.
     */
    bool querying;
    /* running_file()'s descriptor of /proc/self/exe, -1 when not opened; closed before the exec. */
    int self_fd;
    /* Whether rule 2.6 ignored a pyvenv.cfg in this walk (untrusted_cfg says which); reset per walk. */
    bool untrusted_seen;
    /*
     * The pyvenv.cfg that find_cfg() opened and chose, kept open so that
     * read_cfg() reads the very file that was judged, without opening it
     * again: the descriptor, and the buffer and length of the path it was
     * found by.  Close-on-exec, so the interpreter never inherits it.
     */
    int held_fd;
    const char *held_for;
    size_t held_len;
    /*
     * Where the last walk ended without an environment (rule 2.4): a file
     * that is not a link, what stat() said of it, and its folder resolved.
     * Rule 10.3 takes a launcher's resolved path from it, saving a look into
     * /proc.
     */
    struct {
        const char *path, *real_dir;
        struct stat st;
    } walk_end;
} state = {.tracing = -1, .self_fd = -1, .held_fd = -1};

static void add_text(struct line *l, const char *s)
{
    size_t n = strlen(s);
    if (n > sizeof l->text - 1 - l->len)
        n = sizeof l->text - 1 - l->len;
    memcpy(l->text + l->len, s, n);
    l->len += n;
    l->text[l->len] = '\0';
}

/* Paths may hold any byte but NUL; keep the line on one line. */
static void add_path(struct line *l, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    for (; *s && l->len + 5 < sizeof l->text; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == '\\') {
            l->text[l->len++] = '\\';
            l->text[l->len++] = 'x';
            l->text[l->len++] = hex[c >> 4];
            l->text[l->len++] = hex[c & 0xf];
        } else {
            l->text[l->len++] = (char)c;
        }
    }
    l->text[l->len] = '\0';
}

static void msg_text(const char *s)
{
    add_text(&message, s);
}

static void msg_path(const char *s)
{
    add_path(&message, s);
}

static void msg_begin(void)
{
    message.len = 0;
    message.text[0] = '\0';
}

/* Finish the message with the system's words for errnum, if any. */
static int msg_end(int status, int errnum)
{
    if (errnum) {
        msg_text(": ");
        msg_text(strerror(errnum));
    }
    return status;
}

/* The common shape: "<text><path>[: <strerror>]". */
static int fail(int status, int errnum, const char *text, const char *path)
{
    msg_begin();
    msg_text(text);
    if (path)
        msg_path(path);
    return msg_end(status, errnum);
}

/* Rule 7: "symlink-safe: trace: <a><path a><b><path b>" when tracing. */
static void trace(const char *a, const char *path_a, const char *b, const char *path_b)
{
    struct line *l = &tracing_line;
    if (state.tracing < 0) {
        const char *wanted = state.privileged ? NULL : getenv("SYMLINK_SAFE_TRACE");
        state.tracing = wanted && wanted[0] && strcmp(wanted, "0") != 0;
    }
    if (!state.tracing)
        return;
    l->len = 0;
    add_text(l, a);
    if (path_a)
        add_path(l, path_a);
    if (b)
        add_text(l, b);
    if (path_b)
        add_path(l, path_b);
    fprintf(stderr, "%s: trace: %s\n", PROGRAM, l->text);
}

static void record(const char *key, const char *value)
{
    if (!state.querying)
        return;
    fputs(key, stdout);
    putc('=', stdout);
    fputs(value, stdout);
    putc('\0', stdout);
}

/* ===========================================================================
 * Part 1: pure functions.  They make no system call and keep no state but
 * the message of a failure, so the test harness (tests/harness/harness.c)
 * and the fuzzers (fuzz/) include this file and drive them in-process.
 */

/* ---------------------------------------------------------------------------
 * Paths as text: outputs are PATH_MAX buffers; overflow is a failure.
 */

static int copy_path(char *out, const char *in)
{
    size_t n = strlen(in);
    if (n >= PATH_MAX)
        return fail(STATUS_PATH_TOO_LONG, 0, "path too long: ", in);
    memmove(out, in, n + 1);
    return STATUS_OK;
}

/*
 * out = the first d bytes of dir + "/" + name, without doubling the slash
 * after "/".  out may be dir itself.
 */
static int join_prefix(char *out, const char *dir, size_t d, const char *name)
{
    size_t n = strlen(name);
    size_t slash = (d > 0 && dir[d - 1] == '/') ? 0 : 1;
    if (d + slash + n >= PATH_MAX)
        return fail(STATUS_PATH_TOO_LONG, 0, "path too long: ", dir);
    memmove(out, dir, d);
    if (slash)
        out[d] = '/';
    memmove(out + d + slash, name, n + 1);
    return STATUS_OK;
}

static int join_path(char *out, const char *dir, const char *name)
{
    return join_prefix(out, dir, strlen(dir), name);
}

/*
 * The length of the directory part of path's first n bytes: up to the last
 * "/", which is dropped unless it is the root ("/a/b" -> 2, "/a" -> 1), or 0
 * when there is no slash.  Where the directory is only read, this saves a
 * buffer to hold it.
 */
static size_t dir_length(const char *path, size_t n)
{
    while (n > 0 && path[n - 1] != '/')
        n--;
    if (n > 1)
        n--;
    return n;
}

/* The directory part; never longer than path, so it cannot overflow. */
static void dir_name(char *out, const char *path)
{
    size_t n = dir_length(path, strlen(path));
    if (n == 0) {
        out[0] = '.';
        out[1] = '\0';
        return;
    }
    memmove(out, path, n);
    out[n] = '\0';
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/*
 * Collapse ".", ".." and repeated "/" textually.  The result is absolute and
 * clean (rule 4.1): ".." at the root stays at the root, and a leading "//"
 * becomes "/" too, since Linux gives it no meaning of its own.
 */
static int lexical_normalize(char *out, const char *in)
{
    size_t len = 0;
    const char *p = in;
    out[len++] = '/';
    while (*p) {
        const char *start;
        size_t n;
        while (*p == '/')
            p++;
        start = p;
        while (*p && *p != '/')
            p++;
        n = (size_t)(p - start);
        if (n == 0 || (n == 1 && start[0] == '.'))
            continue;
        if (n == 2 && start[0] == '.' && start[1] == '.') {
            while (len > 1 && out[len - 1] != '/')
                len--;
            if (len > 1)
                len--; /* drop the slash before the removed component */
            continue;
        }
        if (len + (len > 1 ? 1 : 0) + n >= PATH_MAX)
            return fail(STATUS_PATH_TOO_LONG, 0, "path too long: ", in);
        if (len > 1)
            out[len++] = '/';
        memcpy(out + len, start, n);
        len += n;
    }
    out[len] = '\0';
    return STATUS_OK;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* The status a failed path lookup deserves, by its errno. */
static int status_for(int err, int otherwise)
{
    if (err == ELOOP)
        return STATUS_LINK_LOOP;
    if (err == ENAMETOOLONG)
        return STATUS_PATH_TOO_LONG;
    return otherwise;
}

/* ---------------------------------------------------------------------------
 * Reading pyvenv.cfg (rule 3.1), from text already in memory.
 */

/*
 * The length of the white space character the n bytes at s begin with, or 0:
 * what Python's str.strip() removes (str.isspace()), as UTF-8.  CPython
 * decodes pyvenv.cfg as UTF-8 and strips the decoded text, so a "home" that
 * ends in a no-break space (C2 A0) names the directory without it.  Each
 * sequence starts with a byte that cannot continue another, so one found at
 * either end is decoded as itself whatever surrounds it.
 */
static size_t space_length(const char *text, size_t n)
{
    const unsigned char *s = (const unsigned char *)text;
    if (n >= 1 && (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r') || (s[0] >= 0x1c && s[0] <= 0x1f)))
        return 1;
    if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0)) /* U+0085, U+00A0 */
        return 2;
    if (n < 3)
        return 0;
    if ((s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80) ||                       /* U+1680 */
        (s[0] == 0xe2 && s[1] == 0x80 && s[2] >= 0x80 && s[2] <= 0x8a) ||     /* U+2000-200A */
        (s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) ||   /* U+2028, U+2029 */
        (s[0] == 0xe2 && s[1] == 0x80 && s[2] == 0xaf) ||                     /* U+202F */
        (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f) ||                     /* U+205F */
        (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80))                       /* U+3000 */
        return 3;
    return 0;
}

/* The length of the white space character [s, e) ends with, or 0. */
static size_t space_before(const char *s, const char *e)
{
    size_t k;
    for (k = 1; k <= 3 && k <= (size_t)(e - s); k++)
        if (space_length(e - k, k) == k)
            return k;
    return 0;
}

/* Trim [s, e) in place as str.strip() trims the decoded text, and NUL-terminate it. */
static char *strip(char *s, char *e)
{
    size_t k;
    while (s < e && (k = space_length(s, (size_t)(e - s))) != 0)
        s += k;
    while (e > s && (k = space_before(s, e)) != 0)
        e -= k;
    *e = '\0';
    return s;
}

static bool key_is(const char *key, const char *want)
{
    for (; *key && *want; key++, want++) {
        char c = *key;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != *want)
            return false;
    }
    return *key == '\0' && *want == '\0';
}

struct cfg_keys {
    const char *base_executable, *executable, *home, *version_info, *version, *implementation;
};

/*
 * Parse text[0..len) in place as CPython's getpath reads pyvenv.cfg: lines
 * end at "\n", "key = value" splits at the first "=", key and value are
 * stripped, keys compare case-insensitively; the first occurrence wins, as
 * for "home" in CPython.  text[len] must be writable.
 */
static int parse_cfg(struct cfg_keys *keys, char *text, size_t len)
{
    char *line, *end;

    memset(keys, 0, sizeof *keys);
    if (memchr(text, '\0', len))
        return STATUS_CFG_NOT_TEXT;
    text[len] = '\0';
    for (line = text; line < text + len; line = end + 1) {
        char *eq, *key, *value;
        end = line + strcspn(line, "\n");
        eq = memchr(line, '=', (size_t)(end - line));
        if (!eq) {
            *end = '\0';
            continue;
        }
        key = strip(line, eq);
        value = strip(eq + 1, end);
        if (key_is(key, "base-executable") && !keys->base_executable)
            keys->base_executable = value;
        else if (key_is(key, "executable") && !keys->executable)
            keys->executable = value;
        else if (key_is(key, "home") && !keys->home)
            keys->home = value;
        else if (key_is(key, "version_info") && !keys->version_info)
            keys->version_info = value;
        else if (key_is(key, "version") && !keys->version)
            keys->version = value;
        else if (key_is(key, "implementation") && !keys->implementation)
            keys->implementation = value;
    }
    return STATUS_OK;
}

/* ("python", "3.12.1.final.0") -> "python3.12"; 0 if version is not such a string. */
static bool versioned_name(char *out, size_t size, const char *stem, const char *version)
{
    size_t stem_len = strlen(stem), major = strspn(version, "0123456789"), minor;
    if (!major || version[major] != '.')
        return false;
    minor = strspn(version + major + 1, "0123456789");
    if (!minor || stem_len + major + 1 + minor + 1 > size)
        return false;
    memcpy(out, stem, stem_len);
    memcpy(out + stem_len, version, major + 1 + minor);
    out[stem_len + major + 1 + minor] = '\0';
    return true;
}

/* ---------------------------------------------------------------------------
 * Whom to trust (rule 2.6), from what stat() said.
 */

/* Rule 2.6, continued: why a pyvenv.cfg in a shared sticky directory does not count. */
enum {
    TRUST_SHARED_LINKED = 3,   /* it has more than one link: anyone who may add there could have made this one */
    TRUST_SHARED_WRITABLE = 4  /* its group may write it */
};

/*
 * Rule 2.6, the pure part: may a pyvenv.cfg count, judging only by who could
 * have put it where it is, or written it since?  dir_mode and dir_uid
 * describe the directory that holds its entry; entry_uid and entry_nlink the
 * entry (the link itself, when the pyvenv.cfg is a symlink, as
 * fs.protected_symlinks judges links); file_mode the file it leads to; euid
 * the effective user running the stub.
 *
 * - A sticky directory that its group or every user may write (/tmp, a
 *   team's drop folder of mode 1770) is shared: whoever may write it may add
 *   an entry but may replace only their own.  There a file counts only if it
 *   is surely the doing of someone trusted anyway: its entry belongs to the
 *   effective user, root or the directory's owner, it has a single link (a
 *   hard link keeps the owner of the file it names, so an entry of the
 *   victim's own may have been added by anyone allowed to link that file),
 *   and no one else may write it (not group- or world-writable).
 * - A world-writable file counts only in a world-writable directory without
 *   the sticky bit.  There anyone may already replace every entry, the
 *   environment's own bin/ or the link being followed included, so the
 *   file's mode gives nobody anything more, and ignoring it would only break
 *   a "chmod -R 777" environment that plain CPython runs.  Anywhere else it
 *   would let anyone name the program this user runs.
 * - Anything else counts, whoever owns it and however many links it has:
 *   whoever may write a directory that is not sticky may replace its entries
 *   anyway (group-writable CI workspaces, root's system environments, NFS and
 *   containers with uids of their own), and a group-writable file outside a
 *   shared directory is what umask 002 makes with a group of one's own.
 */
static int cfg_trust(unsigned int dir_mode, unsigned long dir_uid, unsigned long entry_uid, unsigned long entry_nlink,
                     unsigned int file_mode, unsigned long euid)
{
    bool sticky = (dir_mode & S_ISVTX) != 0;
    bool shared = sticky && (dir_mode & (S_IWGRP | S_IWOTH)) != 0; /* others may add, not replace */
    bool open_dir = !sticky && (dir_mode & S_IWOTH) != 0;          /* anyone may replace anything */
    if (shared && entry_uid != euid && entry_uid != 0 && entry_uid != dir_uid)
        return TRUST_STICKY_OTHER;
    if ((file_mode & S_IWOTH) && !open_dir)
        return TRUST_WORLD_WRITABLE;
    if (shared && entry_nlink != 1)
        return TRUST_SHARED_LINKED;
    if (shared && (file_mode & S_IWGRP))
        return TRUST_SHARED_WRITABLE;
    return TRUST_OK;
}

/*
 * Whether cfg_trust() needs the directory at all: a file of the effective
 * user's or root's, with one link, that only its owner may write counts
 * wherever it lies.  That is the common case, so it costs no stat() of the
 * directory.
 */
static bool cfg_trust_needs_dir(unsigned long entry_uid, unsigned long entry_nlink, unsigned int file_mode,
                                unsigned long euid)
{
    return (entry_uid != euid && entry_uid != 0) || entry_nlink != 1 || (file_mode & (S_IWGRP | S_IWOTH)) != 0;
}

/* ===========================================================================
 * Part 2: the walk, top to bottom: find ourselves (rule 1), find the
 * environment (rule 2), find the base (rule 3), hand over (rule 4).  These
 * make the system calls.
 */

/* ---------------------------------------------------------------------------
 * Files.
 */

/* Absolute form of path against the working directory (no resolving). */
static int make_absolute(char *out, const char *path)
{
    static char cwd[PATH_MAX];
    if (path[0] == '/')
        return copy_path(out, path);
    if (!getcwd(cwd, sizeof cwd))
        return fail(errno == ERANGE || errno == ENAMETOOLONG ? STATUS_PATH_TOO_LONG : STATUS_NO_SELF,
                    errno, "cannot read the working directory to complete ", path);
    return join_path(out, cwd, path);
}

/* st receives what stat() said, for callers that need more than yes or no. */
static bool is_regular(const char *path, struct stat *st)
{
    return stat(path, st) == 0 && S_ISREG(st->st_mode);
}

static bool is_executable_file(const char *path, struct stat *st)
{
    return is_regular(path, st) && access(path, X_OK) == 0;
}

/*
 * stat() for a step of the walk (rule 2).  Every step leads to the running
 * program; one that leads nowhere (a link changed meanwhile) must not name an
 * environment.
 */
static int stat_step(const char *p, struct stat *st)
{
    if (stat(p, st) != 0)
        return fail(status_for(errno, STATUS_NO_ENV), errno, "cannot follow ", p);
    return STATUS_OK;
}

/* ---------------------------------------------------------------------------
 * Rule 1: the invocation path.
 */

/*
 * Like execvp: the first PATH entry holding an executable regular file.  An
 * empty entry means the current directory, a relative one is taken against
 * it; an unset PATH means execvp's default.  Entries too long to use are
 * skipped, as execvp skips them.
 */
static int search_path(char *out, const char **found, const char *name)
{
    const char *path = getenv("PATH");
    const char *p;
    if (!path)
        path = "/bin:/usr/bin";
    for (p = path;;) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        static char dir[PATH_MAX], candidate[PATH_MAX];
        struct stat st;
        if (n < sizeof dir) {
            memcpy(dir, p, n);
            dir[n] = '\0';
            if (join_path(candidate, n ? dir : ".", name) == STATUS_OK && is_executable_file(candidate, &st)) {
                trace("found on PATH: ", candidate, NULL, NULL);
                *found = candidate;
                return make_absolute(out, candidate);
            }
        }
        if (!end)
            return STATUS_NO_SELF;
        p = end + 1;
    }
}

/*
 * The running file as the kernel records it (rule 1.3), in st; NULL when /proc
 * cannot say.  Opened and fstat()ed rather than stat()ed: under qemu-user,
 * stat("/proc/self/exe") describes the emulator, while open() of it is
 * translated to the emulated program.  A stub its user may not read
 * (execute-only) cannot be opened; stat() then says what it can.  The
 * descriptor stays in self_fd for invocation_path() to read the kernel's path
 * through, until main() closes it; no O_CLOEXEC, which musl would pay a
 * fcntl() for.  A fresh process's first look into /proc/self costs about as
 * much as the rest of the stub's work together, so it is made only when needed.
 */
static const struct stat *running_file(struct stat *st)
{
    state.self_fd = open("/proc/self/exe", O_RDONLY);
    return (state.self_fd >= 0 ? fstat(state.self_fd, st) : stat("/proc/self/exe", st)) == 0 ? st : NULL;
}

/*
 * The path this invocation was made by: argv[0], searched on PATH when it
 * has no slash.  argv[0] is whatever the caller chose to pass, so it is only
 * believed when it leads to the file that is running (rule 1.3); otherwise
 * the kernel's own record of the running program is used.  It does when its
 * text (or the PATH entry found for it) is the file name the kernel executed
 * (AT_EXECFN): then what stat() says of it is the running file, and *self
 * points there with no look into /proc.  Otherwise *self is the kernel's record
 * (running_file()), or NULL.  *out is argv[0] itself when that is absolute
 * (the common case, so nothing is copied), else a static buffer; st receives
 * what stat() said of it.
 */
static int invocation_path(const char **out, struct stat *st, const char *argv0, const struct stat **self,
                           struct stat *self_st)
{
    static char absolute[PATH_MAX], kernel[PATH_MAX];
    const char *executed = (const char *)getauxval(AT_EXECFN);
    const char *path = NULL, *given = argv0;
    ssize_t n;

    trace("argv[0] is ", argv0 ? argv0 : "(none)", NULL, NULL);
    if (state.privileged)
        argv0 = NULL; /* the caller's word, and the caller's PATH: only the kernel's record is taken */
    if (argv0 && argv0[0] == '/' && strlen(argv0) < PATH_MAX)
        path = argv0;
    else if (argv0 && argv0[0] &&
             (strchr(argv0, '/') ? make_absolute(absolute, argv0) : search_path(absolute, &given, argv0)) == STATUS_OK)
        path = absolute;
    if (path && stat(path, st) == 0) {
        if (executed && strcmp(given, executed) == 0) {
            trace("the file executed is ", executed, NULL, NULL);
            *self_st = *st;
            *self = self_st;
        } else {
            *self = running_file(self_st);
        }
        if (!*self || same_file(st, *self)) {
            trace("invocation path ", path, NULL, NULL);
            *out = path;
            return STATUS_OK;
        }
        trace("not the running file, ignored: ", path, NULL, NULL);
    } else {
        *self = running_file(self_st);
    }
    if (!*self && state.privileged)
        return fail(STATUS_NO_SELF, 0, "cannot tell which file is running: ",
                    "/proc/self/exe is unavailable, and argv[0] is not believed under elevated privileges");
    if (!*self)
        return fail(STATUS_NO_SELF, 0, "cannot tell which file is running; argv[0] is ",
                    argv0 ? argv0 : "(none)");
    /*
     * The kernel's path of the running file, read from the descriptor
     * running_file() opened on /proc/self/exe where there is one: on hardware
     * the same path as readlink("/proc/self/exe"); under qemu-user, which
     * answers that readlink itself with realpath() of the path it was started
     * by (failing as ENAMETOOLONG in a working directory deeper than
     * PATH_MAX), the only one the kernel gives.
     */
    if (state.self_fd >= 0) {
        char fd_link[32];
        snprintf(fd_link, sizeof fd_link, "/proc/self/fd/%d", state.self_fd);
        n = readlink(fd_link, kernel, sizeof kernel);
    } else {
        n = readlink("/proc/self/exe", kernel, sizeof kernel);
    }
    if (n < 0)
        return fail(status_for(errno, STATUS_NO_SELF), errno, "cannot read ", "/proc/self/exe");
    if ((size_t)n >= sizeof kernel)
        return fail(STATUS_PATH_TOO_LONG, 0, "path too long: ", "/proc/self/exe");
    kernel[n] = '\0';
    trace("invocation path (the kernel's record) ", kernel, NULL, NULL);
    *out = kernel;
    return stat_step(kernel, st);
}

/* ---------------------------------------------------------------------------
 * Rule 2: finding the environment.
 */

/* The effective user, from the kernel's auxiliary vector (no system call), else geteuid(). */
static unsigned long effective_uid(void)
{
    unsigned long uid;
    errno = 0;
    uid = getauxval(AT_EUID);
    return errno ? (unsigned long)geteuid() : uid;
}

/* The last pyvenv.cfg rule 2.6 ignored in this walk and why, for the message if the walk finds nothing. */
static char untrusted_cfg[PATH_MAX];
static char untrusted_why[160];

static void hold(int fd, const char *cfg)
{
    if (state.held_fd >= 0)
        close(state.held_fd);
    state.held_fd = fd;
    state.held_for = cfg;
    state.held_len = fd >= 0 ? strlen(cfg) : 0;
}

/* What cfg_examine() found. */
enum { CFG_ABSENT, CFG_COUNTS, CFG_UNREADABLE };

static void explain_verdict(int verdict, const struct stat *entry, const struct stat *dir_st, unsigned long euid)
{
    unsigned long mode = (unsigned long)dir_st->st_mode & 07777;
    if (verdict == TRUST_STICKY_OTHER)
        snprintf(untrusted_why, sizeof untrusted_why,
                 "owned by uid %lu in a sticky directory other users may write (mode %04lo, owned by uid %lu), "
                 "running as uid %lu",
                 (unsigned long)entry->st_uid, mode, (unsigned long)dir_st->st_uid, euid);
    else if (verdict == TRUST_SHARED_LINKED)
        snprintf(untrusted_why, sizeof untrusted_why,
                 "it has %lu links, in a sticky directory other users may write (mode %04lo): any of them may have "
                 "linked it there",
                 (unsigned long)entry->st_nlink, mode);
    else if (verdict == TRUST_SHARED_WRITABLE)
        snprintf(untrusted_why, sizeof untrusted_why,
                 "writable by its group, in a sticky directory other users may write (mode %04lo)", mode);
    else
        snprintf(untrusted_why, sizeof untrusted_why, "writable by every user, in a directory that is not");
}

/*
 * Rule 2.6 for cfg (entry: the entry itself, as lstat() sees it; cfg_st: the
 * file it leads to).  The directory is asked about only when the owner, the
 * links or the mode need it.
 */
static bool cfg_trusted(char *cfg, const struct stat *entry, const struct stat *cfg_st)
{
    struct stat dir_st;
    size_t slash = strlen(cfg) - (sizeof "/pyvenv.cfg" - 1);
    unsigned long euid = effective_uid();
    char saved;
    int verdict, found, err;

    if (!cfg_trust_needs_dir(entry->st_uid, entry->st_nlink, cfg_st->st_mode, euid))
        return true;
    /* The directory is cfg up to its last slash ("/" for "/pyvenv.cfg"). */
    saved = cfg[slash ? slash : 1];
    cfg[slash ? slash : 1] = '\0';
    found = stat(cfg, &dir_st) == 0;
    err = errno;
    cfg[slash ? slash : 1] = saved;
    if (!found) {
        snprintf(untrusted_why, sizeof untrusted_why, "its directory cannot be examined (%s)", strerror(err));
    } else {
        verdict = cfg_trust(dir_st.st_mode, dir_st.st_uid, entry->st_uid, entry->st_nlink, cfg_st->st_mode, euid);
        if (verdict == TRUST_OK)
            return true;
        explain_verdict(verdict, entry, &dir_st, euid);
    }
    memcpy(untrusted_cfg, cfg, strlen(cfg) + 1);
    state.untrusted_seen = true;
    trace("ignored ", cfg, " (rule 2.6): ", untrusted_why);
    record("ignored", cfg);
    record("why", untrusted_why);
    return false;
}

/*
 * Is cfg a regular file that counts (rule 2.6), and may it be read?  It is
 * opened first, without following a link and without waiting on a FIFO; the
 * descriptor then tells rule 2.6 all it needs of a file that is not a link,
 * so the usual case costs open() and fstat() where it cost lstat() and
 * read_cfg()'s open() before.  A symlink is judged by lstat() (the link's
 * owner) and stat() (the file), then opened through the link.  A file that
 * may not be read is judged the same way, and is CFG_UNREADABLE if it counts.
 */
static int cfg_examine(char *cfg, struct stat *cfg_st)
{
    struct stat entry, opened;
    int fd = open(cfg, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    int err = fd < 0 ? errno : 0;

    if (fd >= 0) {
        if (fstat(fd, &entry) != 0 || !S_ISREG(entry.st_mode)) {
            close(fd);
            return CFG_ABSENT;
        }
        *cfg_st = entry;
    } else {
        /*
         * ELOOP: a symlink (or a loop on the way).  EACCES, EPERM: a file
         * CPython's open() finds unreadable too.  Anything else but absence
         * (EMFILE, EIO...): a file that exists and cannot be read, named by
         * read_cfg() rather than passed over.
         */
        if (err == ENOENT || err == ENOTDIR || lstat(cfg, &entry) != 0)
            return CFG_ABSENT;
        if (!S_ISLNK(entry.st_mode))
            *cfg_st = entry;
        else if (stat(cfg, cfg_st) != 0)
            return CFG_ABSENT;
        if (!S_ISREG(cfg_st->st_mode))
            return CFG_ABSENT;
        if (S_ISLNK(entry.st_mode)) {
            fd = open(cfg, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
            if (fd >= 0 && (fstat(fd, &opened) != 0 || !same_file(&opened, cfg_st))) {
                close(fd); /* the link changed meanwhile */
                return CFG_ABSENT;
            }
        }
    }
    if (!cfg_trusted(cfg, &entry, cfg_st)) {
        if (fd >= 0)
            close(fd);
        return CFG_ABSENT;
    }
    if (fd < 0) {
        trace("cannot read ", cfg, NULL, NULL);
        return CFG_UNREADABLE;
    }
    hold(fd, cfg);
    return CFG_COUNTS;
}

/*
 * A pyvenv.cfg for an interpreter in the directory named by the first d bytes
 * of dir, an absolute path: CPython looks one level up first, then in that
 * directory itself, and so do we, so that we read the file it will read.
 * CPython goes on to the second also when the first exists but may not be
 * read (getpath catches PermissionError as it catches FileNotFoundError), and
 * so do we.  When neither counts and one may not be read, that one is taken
 * (the first, if both), and read_cfg() names it: status 103, where CPython's
 * site module fails on it too.  cfg_st receives its identity, which decide()
 * needs to tell a cycle.
 */
static bool find_cfg(char *cfg, struct stat *cfg_st, const char *dir, size_t d)
{
    size_t up = dir_length(dir, d);
    struct stat parent_st;
    int parent, here;

    if (join_prefix(cfg, dir, up, "pyvenv.cfg") != STATUS_OK)
        return false;
    if ((parent = cfg_examine(cfg, &parent_st)) == CFG_COUNTS) {
        *cfg_st = parent_st;
        return true;
    }
    if (join_prefix(cfg, dir, d, "pyvenv.cfg") != STATUS_OK)
        return false;
    if ((here = cfg_examine(cfg, cfg_st)) == CFG_COUNTS)
        return true;
    if (parent == CFG_UNREADABLE) {
        *cfg_st = parent_st;
        return join_prefix(cfg, dir, up, "pyvenv.cfg") == STATUS_OK;
    }
    return here == CFG_UNREADABLE;
}

/*
 * Rule 2.4: name the file that is missing and the two ways to get here; and
 * when rule 2.6 passed over a pyvenv.cfg on the way, that one and why.  cfg
 * is a PATH_MAX buffer to build the missing file's path in.
 */
static int no_env(const char *path, const char *real_dir, char *cfg)
{
    if (join_prefix(cfg, real_dir, dir_length(real_dir, strlen(real_dir)), "pyvenv.cfg") != STATUS_OK)
        return STATUS_PATH_TOO_LONG;
    msg_begin();
    msg_text("no environment for ");
    msg_path(path);
    msg_text(": ");
    if (!state.untrusted_seen || strcmp(cfg, untrusted_cfg) != 0) {
        msg_path(cfg);
        msg_text(" does not exist; either the environment lost its pyvenv.cfg, or this file is a hard"
                 " link or copy taken out of its environment (use a symlink to it instead)");
        if (!state.untrusted_seen)
            return msg_end(STATUS_NO_ENV, 0);
        msg_text("; ");
    }
    msg_text("ignored ");
    msg_path(untrusted_cfg);
    msg_text(" (rule 2.6: ");
    msg_text(untrusted_why);
    msg_text(")");
    return msg_end(STATUS_NO_ENV, 0);
}

/* Are the first d bytes of a the whole of b? */
static bool same_text(const char *a, size_t d, const char *b)
{
    return strncmp(a, b, d) == 0 && b[d] == '\0';
}

/*
 * Walk from start (an absolute path; start_st what stat() said of it) to the
 * first environment met: the lexical check, the physical check, then one
 * symlink, until a file that is not a link.  On success venv holds the path
 * to give CPython as argv[0], and cfg and cfg_st the pyvenv.cfg that decided
 * it.
 */
static int find_env(char *venv, char *cfg, struct stat *cfg_st, const char *start, const struct stat *start_st)
{
    /* dir: the step's folder until it is resolved, then the step's link target (or the message's path) */
    static char walk[PATH_MAX], dir[PATH_MAX], real[PATH_MAX];
    const char *p = start;
    struct stat st_p = *start_st, st_lex;
    int step, status;
    size_t d;

    state.untrusted_seen = false;
    for (step = 0; step <= MAX_LINK_STEPS; step++) {
        ssize_t n;
        bool lexical_looked = false;

        trace("walk: ", p, NULL, NULL);
        record("walk", p);
        if (!S_ISREG(st_p.st_mode))
            return fail(STATUS_NO_ENV, 0, "not a file: ", p);

        /*
         * 2.1: what CPython itself would decide if started as the lexical
         * form, built in venv, where it stays if it is the answer.
         *
         * Rule 2.5: each folder is looked in once.  After the first step real
         * holds the folder the step before looked in (or skipped as the same
         * as the one it did look in), which a link to a name beside itself
         * (python3 -> python3.12) leads straight back to.
         */
        if ((status = lexical_normalize(venv, p)) != STATUS_OK)
            return status;
        d = dir_length(venv, strlen(venv));
        /* Most often the lexical form is p itself: no need to ask the kernel twice. */
        if (strcmp(venv, p) == 0 || (stat(venv, &st_lex) == 0 && same_file(&st_p, &st_lex))) {
            lexical_looked = true;
            if (!(step > 0 && same_text(venv, d, real)) && find_cfg(cfg, cfg_st, venv, d)) {
                trace("lexical check found ", cfg, "; argv[0] becomes ", venv);
                record("found-by", "lexical");
                record("environment", venv);
                record("cfg", cfg);
                return STATUS_OK;
            }
        }

        /*
         * 2.2: a symlinked directory on the way, e.g. ~/tools -> env/bin.  A
         * step whose folder is the real one the step before resolved (a link
         * to a name beside itself) resolves as it did then, and was looked in.
         */
        if (!(step > 0 && same_text(p, dir_length(p, strlen(p)), real))) {
            dir_name(dir, p);
            if (!realpath(dir, real))
                return fail(status_for(errno, STATUS_NO_ENV), errno, "cannot resolve directory ", dir);
            /* A folder reached through no link: the lexical check looked there already. */
            if (!(lexical_looked && same_text(venv, d, real)) && find_cfg(cfg, cfg_st, real, strlen(real))) {
                if ((status = join_path(venv, real, base_name(p))) != STATUS_OK)
                    return status;
                trace("physical check found ", cfg, "; argv[0] becomes ", venv);
                record("found-by", "physical");
                record("environment", venv);
                record("cfg", cfg);
                return STATUS_OK;
            }
        }

        /* 2.3: follow one link, relative to the link's real directory. */
        n = readlink(p, dir, sizeof dir);
        if (n < 0) {
            if (errno == EINVAL) { /* 2.4: not a link, the walk ends here */
                state.walk_end.path = p;
                state.walk_end.real_dir = real;
                state.walk_end.st = st_p;
                return no_env(p, real, dir);
            }
            return fail(status_for(errno, STATUS_NO_ENV), errno, "cannot read link ", p);
        }
        if ((size_t)n >= sizeof dir)
            return fail(STATUS_PATH_TOO_LONG, 0, "link target too long: ", p);
        dir[n] = '\0';
        trace("no pyvenv.cfg; following the link to ", dir, NULL, NULL);
        status = dir[0] == '/' ? copy_path(walk, dir) : join_path(walk, real, dir);
        if (status != STATUS_OK)
            return status;
        p = walk;
        if ((status = stat_step(p, &st_p)) != STATUS_OK)
            return status;
    }
    return fail(STATUS_LINK_LOOP, 0, "too many levels of symbolic links from ", start);
}

/* ---------------------------------------------------------------------------
 * Rule 3: the base interpreter.
 */

/*
 * Rule 3.4: read at most MAX_CFG_SIZE bytes of cfg, then parse them.  The
 * file find_cfg() chose is read through the descriptor it kept, when cfg is
 * the path it was found by.
 */
static int read_cfg(struct cfg_keys *keys, const char *cfg)
{
    size_t len = 0;
    int status, fd;

    if (state.held_fd >= 0 && cfg == state.held_for && strlen(cfg) == state.held_len) {
        fd = state.held_fd;
        state.held_fd = -1;
    } else {
        hold(-1, NULL);
        fd = open(cfg, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    }
    if (fd < 0)
        return fail(STATUS_CFG_UNREADABLE, errno, "cannot read ", cfg);
    for (;;) {
        ssize_t n = read(fd, cfg_text + len, sizeof cfg_text - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            return fail(STATUS_CFG_UNREADABLE, err, "cannot read ", cfg);
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > MAX_CFG_SIZE) {
            close(fd);
            return fail(STATUS_CFG_TOO_LARGE, 0, "pyvenv.cfg larger than 1 MiB: ", cfg);
        }
    }
    close(fd);
    if ((status = parse_cfg(keys, cfg_text, len)) != STATUS_OK)
        return fail(status, 0, "pyvenv.cfg is not text (it holds NUL bytes): ", cfg);
    return STATUS_OK;
}

/*
 * Rule 3.1: in "home", pythonX.Y (from version_info, else version), python3,
 * python.  A PyPy environment (virtualenv writes "implementation = PyPy")
 * looks for pypyX.Y, pypy3, pypy instead: Debian keeps both in /usr/bin, and
 * python3 there is CPython.
 */
static bool base_in_home(char *base, struct stat *st, const struct cfg_keys *keys)
{
    int pypy = keys->implementation && key_is(keys->implementation, "pypy");
    const char *stem = pypy ? "pypy" : "python";
    const char *version = keys->version_info ? keys->version_info : keys->version;
    char name[32];
    if (version && versioned_name(name, sizeof name, stem, version) &&
        join_path(base, keys->home, name) == STATUS_OK && is_executable_file(base, st))
        return true;
    if (join_path(base, keys->home, pypy ? "pypy3" : "python3") == STATUS_OK && is_executable_file(base, st))
        return true;
    if (join_path(base, keys->home, stem) == STATUS_OK && is_executable_file(base, st))
        return true;
    /*
     * PyPy's own venv writes no "implementation": where "home" holds no
     * python at all, its pypy names are the interpreter (a PyPy installation
     * converted by rule 10 has only those).  Never where a python is found.
     */
    if (pypy || !version || !versioned_name(name, sizeof name, "pypy", version))
        return false;
    if (join_path(base, keys->home, name) == STATUS_OK && is_executable_file(base, st))
        return true;
    return join_path(base, keys->home, "pypy3") == STATUS_OK && is_executable_file(base, st);
}

/*
 * Rule 3.1 and 3.2: the base interpreter named by cfg, checked to be usable;
 * base_st receives what stat() said of it.  A path from a key is used where
 * it lies, in cfg_text, so *base is valid until the next read_cfg().
 */
static int base_from_cfg(const char **base, struct stat *base_st, const char *cfg)
{
    static char in_home[PATH_MAX];
    struct cfg_keys keys;
    const char *key, *value;
    int status, err;
    struct stat st;

    if ((status = read_cfg(&keys, cfg)) != STATUS_OK)
        return status;
    if (keys.base_executable) {
        key = "base-executable";
        value = keys.base_executable;
    } else if (keys.executable) {
        key = "executable";
        value = keys.executable;
    } else if (keys.home) {
        if (state.privileged && keys.home[0] != '/')
            return fail(STATUS_BASE_UNUSABLE, 0, "under elevated privileges 'home' must be an absolute path: ", cfg);
        if (base_in_home(in_home, base_st, &keys)) {
            trace("base interpreter (from 'home') ", in_home, NULL, NULL);
            record("key", "home");
            record("base", in_home);
            *base = in_home;
            return STATUS_OK;
        }
        /* A 'home' behind a link loop or too long a path deserves that status (108, 110), not 107. */
        err = stat(keys.home, &st) == 0 ? 0 : errno;
        msg_begin();
        msg_text("no python interpreter in 'home' of ");
        msg_path(cfg);
        msg_text(": ");
        msg_path(keys.home);
        return msg_end(status_for(err, STATUS_BASE_UNUSABLE), err == ELOOP || err == ENAMETOOLONG ? err : 0);
    } else {
        return fail(STATUS_NO_BASE_KEY, 0, "no base-executable, executable or home key in ", cfg);
    }

    if (strlen(value) >= PATH_MAX)
        return fail(STATUS_PATH_TOO_LONG, 0, "path too long: ", value);
    /* A relative base would be found from the caller's working directory. */
    if (state.privileged && value[0] != '/') {
        msg_begin();
        msg_text("under elevated privileges the base interpreter must be an absolute path; '");
        msg_text(key);
        msg_text("' in ");
        msg_path(cfg);
        msg_text(" is ");
        msg_path(value);
        return msg_end(STATUS_BASE_UNUSABLE, 0);
    }
    if (is_executable_file(value, base_st)) {
        trace("base interpreter (from '", key, "') ", value);
        record("key", key);
        record("base", value);
        *base = value;
        return STATUS_OK;
    }
    /* Say why, in the system's words where it has some: ENOENT, ELOOP (108), EACCES, EISDIR. */
    err = errno;
    if (stat(value, &st) != 0)
        err = errno;
    else if (S_ISREG(st.st_mode))
        err = access(value, X_OK) == 0 ? 0 : errno;
    else if (S_ISDIR(st.st_mode))
        err = EISDIR;
    else
        err = 0; /* a FIFO, a socket, a device: no errno says "not a regular file" */
    msg_begin();
    msg_text("base interpreter from '");
    msg_text(key);
    msg_text("' in ");
    msg_path(cfg);
    msg_text(" is not usable: ");
    msg_path(value);
    if (!err && !S_ISREG(st.st_mode))
        msg_text(": not a regular file");
    return msg_end(status_for(err, STATUS_BASE_UNUSABLE), err);
}

/*
 * Rule 3.3: is path (st: what stat() said of it) one of our stubs?  The
 * running file always is; another stub is recognised by the marker in its
 * first STUB_HEAD bytes, so a real interpreter costs one short read, or none.
 */
static bool is_stub(const char *path, const struct stat *st, const struct stat *self)
{
    static char head[STUB_HEAD];
    size_t len = 0, m = sizeof STUB_MARKER - 1, i; /* compared with the note, so the bytes exist once */
    int fd;

    if (self && same_file(st, self))
        return true;
    if (st->st_size > MAX_STUB_SIZE)
        return false;
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return false;
    while (len < sizeof head) {
        ssize_t n = read(fd, head + len, sizeof head - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    for (i = 0; len >= m && i <= len - m; i++)
        if (head[i] == stub_note.desc[0] && memcmp(head + i, stub_note.desc, m) == 0)
            return true;
    return false;
}

/*
 * Rule 10.1: the companion of the launcher whose resolved path is real: the
 * file "." NAME COMPANION_SUFFIX in the same directory, owned by the launcher's
 * owner (convert makes both of one owner's files; another user may add a name
 * to a shared sticky folder, never one of the launcher's owner).  Returns 0
 * when there is none (the file is a stub, not a launcher), 1 when out holds a
 * companion to start, or STATUS_COMPANION_UNUSABLE (rule 10.4) when one is
 * there but is not an executable regular file, or is the running file itself.
 * out may be real itself: the name is taken out of it first.
 */
static int companion_of(char *out, const char *real, uid_t owner, const struct stat *self)
{
    char name[NAME_MAX + 1];
    struct stat st;
    const char *base = base_name(real);
    size_t n = strlen(base);

    if (n == 0 || 1 + n + sizeof COMPANION_SUFFIX > sizeof name)
        return 0;
    name[0] = '.';
    memcpy(name + 1, base, n);
    memcpy(name + 1 + n, COMPANION_SUFFIX, sizeof COMPANION_SUFFIX);
    if (join_prefix(out, real, dir_length(real, strlen(real)), name) != STATUS_OK)
        return 0;
    if (lstat(out, &st) != 0)
        return 0;
    if (st.st_uid != owner) {
        trace("ignored ", out, " (rule 10.1): not owned by the launcher's owner", NULL);
        return 0;
    }
    if (!S_ISREG(st.st_mode) || access(out, X_OK) != 0 || (self && same_file(&st, self)))
        return fail(STATUS_COMPANION_UNUSABLE, 0, "the interpreter beside this launcher cannot be started: ", out);
    trace("launcher; its interpreter is ", out, NULL, NULL);
    return 1;
}

/*
 * The running file's resolved path: where the walk ended, when that is the
 * running file (its folder resolved, its name not a link), else the kernel's
 * record; false when neither can say.
 */
static bool running_path(char *out, const struct stat *self)
{
    ssize_t n;

    if (state.walk_end.path && same_file(&state.walk_end.st, self) &&
        strlen(state.walk_end.real_dir) + 1 + strlen(base_name(state.walk_end.path)) < PATH_MAX) {
        join_path(out, state.walk_end.real_dir, base_name(state.walk_end.path));
        return true;
    }
    n = readlink("/proc/self/exe", out, PATH_MAX);
    if (n <= 0 || n >= PATH_MAX)
        return false;
    out[n] = '\0';
    return true;
}

/*
 * Rule 10.2: is the base (a stub; st what stat() said of it) a launcher?  Then
 * *base becomes its companion.  Returns 0 when it is not, 1 when it is, or a
 * failure's status.
 */
static int launcher_base(const char **base, const struct stat *st, const struct stat *self)
{
    static char real[PATH_MAX], companion[PATH_MAX];
    int found;

    if (!realpath(*base, real))
        return 0;
    if ((found = companion_of(companion, real, st->st_uid, self)) != 1)
        return found;
    record("launcher", real);
    record("base", companion);
    *base = companion;
    return 1;
}

/*
 * From an invocation path to the base to run and the argv[0] to give it.  The
 * base may itself be a stub: "python -m venv nested" run from a stub
 * environment on 3.8-3.10 writes "home = env/bin".  Exec'ing it would start
 * this same decision again, forever, so walk on to that stub's own
 * environment and its base instead, remembering each pyvenv.cfg to tell a
 * cycle from mere depth.
 */
static int decide(char *venv, const char **base, const char *invoked, const struct stat *invoked_st,
                  const struct stat *self)
{
    static char cfg[PATH_MAX], stub_path[PATH_MAX], ignored[PATH_MAX];
    struct stat seen[MAX_NESTING + 1], base_st;
    int depth, i, status;

    if ((status = find_env(venv, cfg, &seen[0], invoked, invoked_st)) != STATUS_OK)
        return status;
    for (depth = 0;; depth++) {
        for (i = 0; i < depth; i++)
            if (same_file(&seen[i], &seen[depth]))
                return fail(STATUS_NESTING, 0, "environments whose bases lead back to each other, at ", cfg);
        if ((status = base_from_cfg(base, &base_st, cfg)) != STATUS_OK)
            return status;
        if (!is_stub(*base, &base_st, self))
            return STATUS_OK;
        if ((status = launcher_base(base, &base_st, self)) != 0)
            return status == 1 ? STATUS_OK : status;
        if (depth == MAX_NESTING)
            return fail(STATUS_NESTING, 0, "environments nested more than 8 deep, at ", cfg);
        trace("the base is a stub, going on to its own environment: ", *base, NULL, NULL);
        record("nested", *base);
        if ((status = make_absolute(stub_path, *base)) != STATUS_OK ||
            (status = find_env(ignored, cfg, &seen[depth + 1], stub_path, &base_st)) != STATUS_OK)
            return status;
    }
}

/* ---------------------------------------------------------------------------
 * Rule 4: the hand-over.
 */

#ifndef SYMLINK_SAFE_NO_MAIN

extern char **environ;

/* ---------------------------------------------------------------------------
 * Rule 7.2: the query mode, "stub --symlink-safe-decide PATH".
 */

#define QUERY_OPTION "--symlink-safe-decide"

/*
 * Decide for path as for an invocation by it, and write the decision as
 * records on stdout (see record()) instead of running anything.  Rule 1 is
 * skipped, since path need not lead to this file: it is taken as the
 * invocation path, made absolute against the working directory.  Rule 3.3
 * still knows this file and the marker.  Returns the failure's own status,
 * or 0 when a base would be exec'd.
 */
static int query(const char *path, const struct stat *self)
{
    static char invoked[PATH_MAX], venv[PATH_MAX], number[16], real[PATH_MAX], companion[PATH_MAX];
    const char *base;
    struct stat invoked_st, real_st;
    int status;

    state.querying = true;
    record("format", "1");
    status = make_absolute(invoked, path);
    record("invoked", status == STATUS_OK ? invoked : path);
    if (status == STATUS_OK)
        status = stat_step(invoked, &invoked_st);
    if (status == STATUS_OK)
        status = decide(venv, &base, invoked, &invoked_st, self);
    if (status != STATUS_OK && realpath(invoked, real) && stat(real, &real_st) == 0) {
        /* Rule 10.3: a launcher that settles on no environment starts its companion. */
        int found = companion_of(companion, real, real_st.st_uid, self);
        if (found == 1) {
            record("launcher", real);
            record("base", companion);
            status = STATUS_OK;
        } else if (found != 0) {
            status = found;
        }
    }
    snprintf(number, sizeof number, "%d", status);
    record("status", number);
    if (status != STATUS_OK)
        record("message", message.text);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fail(STATUS_QUERY_UNWRITTEN, errno, "cannot write the decision on ", "stdout");
        fprintf(stderr, "%s: %s\n", PROGRAM, message.text);
        return STATUS_QUERY_UNWRITTEN;
    }
    return status;
}

int main(int argc, char **argv)
{
    static char venv[PATH_MAX];
    const char *invoked, *base;
    char *fallback_argv[2];
    struct stat self_st, invoked_st;
    /* The running file (rule 1.3): rule 3.3 knows the base by it, rule 10 the companion. */
    const struct stat *self;
    int status;

    /* Set by the kernel at exec; reading it costs no system call. */
    state.privileged = getauxval(AT_SECURE) != 0;

    /* Rule 7.2: report the decision instead of acting on it; not under elevated privileges. */
    if (argc == 3 && !state.privileged && strcmp(argv[1], QUERY_OPTION) == 0)
        return query(argv[2], running_file(&self_st));

    status = invocation_path(&invoked, &invoked_st, argc > 0 ? argv[0] : NULL, &self, &self_st);
    if (state.self_fd >= 0)
        close(state.self_fd);
    if (status == STATUS_OK)
        status = decide(venv, &base, invoked, &invoked_st, self);
    if (status != STATUS_OK) {
        /*
         * Rule 10.3: a launcher that settles on no environment (none found, or
         * one it cannot take) starts its companion with argv unchanged, so the
         * interpreter decides as it would have without the launcher.  Only on
         * this failure path: an environment's stub pays nothing for it.  venv
         * is free now: it holds the running file's path, then its companion's
         * (no fresh page to touch).
         */
        int found = self && running_path(venv, self) ? companion_of(venv, venv, self->st_uid, self) : 0;
        if (found == 1) {
            trace("no environment settled on; exec ", venv, " with argv unchanged", NULL);
            execve(venv, argv, environ);
            fail(STATUS_EXEC_FAILED, errno, "cannot execute ", venv);
            status = STATUS_EXEC_FAILED;
        } else if (found != 0) {
            status = found;
        }
        fprintf(stderr, "%s: %s\n", PROGRAM, message.text);
        return status;
    }

    /* No fork, no wrapper: the interpreter takes over this very process. */
    if (argc > 0) {
        argv[0] = venv;
    } else {
        fallback_argv[0] = venv;
        fallback_argv[1] = NULL;
        argv = fallback_argv;
    }
    trace("exec ", base, " with argv[0] ", venv);
    execve(base, argv, environ);
    fail(STATUS_EXEC_FAILED, errno, "cannot execute ", base);
    fprintf(stderr, "%s: %s\n", PROGRAM, message.text);
    return STATUS_EXEC_FAILED;
}

#endif
