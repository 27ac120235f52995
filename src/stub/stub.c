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
 * The rules are those of the stub contract (docs/explanation): the numbers
 * in the comments below ("rule 2.2") refer to it.  The program is read top
 * to bottom: find ourselves, find the environment, find the base, hand over.
 *
 * It holds no path: every environment made by one plugin version gets the
 * same bytes, and an environment still works after mv or cp -a.
 *
 * Every failure prints one line on stderr and exits with its own status,
 * chosen clear of the interpreter's own (0, 1, 2, 120) and of the shell's
 * (126, 127, 128 + N).  On success nothing is printed.
 */

#define _XOPEN_SOURCE 700  /* realpath(), readlink() */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* Exit statuses: documented in docs/reference/exit-statuses.rst. */
enum {
    STATUS_NO_SELF = 101,       /* cannot tell which file is running */
    STATUS_NO_ENV = 102,        /* no pyvenv.cfg reachable */
    STATUS_CFG_UNREADABLE = 103,
    STATUS_CFG_TOO_LARGE = 104,
    STATUS_CFG_NOT_TEXT = 105,
    STATUS_NO_BASE_KEY = 106,
    STATUS_BASE_UNUSABLE = 107, /* base interpreter missing or not executable */
    STATUS_LINK_LOOP = 108,     /* more than MAX_LINK_STEPS symlinks followed */
    STATUS_NESTING = 109,       /* stubs as bases nested too deep, or a cycle */
    STATUS_PATH_TOO_LONG = 110,
    STATUS_EXEC_FAILED = 111
};

#define MAX_LINK_STEPS 40    /* rule 2.5: the same bound as the kernel's */
#define MAX_NESTING 8        /* rule 3.3 */
#define MAX_CFG_SIZE (1024 * 1024)

/*
 * Every stub carries this string; a base interpreter that contains it is one
 * of our stubs (rule 3.3), even one built by another plugin version.  Bases
 * larger than MAX_STUB_SIZE are real interpreters and are not read.
 */
static const char STUB_MARKER[] = "virtualenv-symlink-safe stub marker 1";
#define MAX_STUB_SIZE (1024 * 1024)

static const char PROGRAM[] = "symlink-safe";

/* Large buffers are static: one per purpose, never on the stack. */
static char cfg_text[MAX_CFG_SIZE + 1];

/* ---------------------------------------------------------------------------
 * Reporting
 */

/* Paths may hold any byte but NUL; keep the message on one line. */
static void put_escaped(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == '\\')
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
}

/*
 * Print "symlink-safe: <what> <path>[: <strerror>][; <hint>]" and exit.
 * errnum 0 means no system call failed.
 */
static void fail(int status, const char *what, const char *path, int errnum,
                 const char *hint)
{
    fprintf(stderr, "%s: %s", PROGRAM, what);
    if (path) {
        fputs(" ", stderr);
        put_escaped(path);
    }
    if (errnum)
        fprintf(stderr, ": %s", strerror(errnum));
    if (hint)
        fprintf(stderr, "; %s", hint);
    fputc('\n', stderr);
    exit(status);
}

/* ---------------------------------------------------------------------------
 * Path helpers: all outputs are PATH_MAX buffers, overflow is a failure.
 */

static void copy_path(char *out, const char *in)
{
    size_t n = strlen(in);
    if (n >= PATH_MAX)
        fail(STATUS_PATH_TOO_LONG, "path too long:", in, 0, NULL);
    memcpy(out, in, n + 1);
}

/* out = dir + "/" + name, without doubling the slash after "/". */
static void join_path(char *out, const char *dir, const char *name)
{
    size_t d = strlen(dir), n = strlen(name);
    int slash = (d > 0 && dir[d - 1] == '/') ? 0 : 1;
    if (d + (size_t)slash + n >= PATH_MAX)
        fail(STATUS_PATH_TOO_LONG, "path too long:", dir, 0, NULL);
    memmove(out, dir, d);
    if (slash)
        out[d] = '/';
    memcpy(out + d + slash, name, n + 1);
}

static void dir_name(char *out, const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n;
    if (!slash) {
        copy_path(out, ".");
        return;
    }
    n = (slash == path) ? 1 : (size_t)(slash - path);
    memmove(out, path, n);
    out[n] = '\0';
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Absolute form of path against the working directory (no resolving). */
static int make_absolute(char *out, const char *path)
{
    char cwd[PATH_MAX];
    if (path[0] == '/') {
        copy_path(out, path);
        return 0;
    }
    if (!getcwd(cwd, sizeof cwd))
        return -1;
    join_path(out, cwd, path);
    return 0;
}

/*
 * Collapse ".", ".." and repeated "/" textually, as CPython 3.11+ does to
 * argv[0].  The input is absolute; ".." at the root stays at the root.
 */
static void lexical_normalize(char *out, const char *in)
{
    size_t len = 0;
    const char *p = in;
    out[len++] = '/';
    while (*p) {
        const char *start, *end;
        size_t n;
        while (*p == '/')
            p++;
        start = p;
        while (*p && *p != '/')
            p++;
        end = p;
        n = (size_t)(end - start);
        if (n == 0 || (n == 1 && start[0] == '.'))
            continue;
        if (n == 2 && start[0] == '.' && start[1] == '.') {
            while (len > 1 && out[len - 1] != '/')
                len--;
            if (len > 1)
                len--;  /* drop the slash before the removed component */
            continue;
        }
        if (len + (len > 1 ? 1 : 0) + n >= PATH_MAX)
            fail(STATUS_PATH_TOO_LONG, "path too long:", in, 0, NULL);
        if (len > 1)
            out[len++] = '/';
        memcpy(out + len, start, n);
        len += n;
    }
    out[len] = '\0';
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static int is_regular(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_executable_file(const char *path)
{
    return is_regular(path) && access(path, X_OK) == 0;
}

/* ---------------------------------------------------------------------------
 * Rule 1: the invocation path.
 */

/* Like execvp: the first PATH entry holding an executable regular file. */
static int search_path(char *out, const char *name)
{
    const char *path = getenv("PATH");
    const char *p;
    char dir[PATH_MAX];
    if (!path)
        path = "/bin:/usr/bin";  /* execvp's default when PATH is unset */
    p = path;
    for (;;) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n < sizeof dir) {
            char candidate[PATH_MAX];
            memcpy(dir, p, n);
            dir[n] = '\0';
            /* An empty entry means the current directory. */
            join_path(candidate, n ? dir : ".", name);
            if (is_executable_file(candidate) && make_absolute(out, candidate) == 0)
                return 0;
        }
        if (!end)
            return -1;
        p = end + 1;
    }
}

/*
 * The path this invocation was made by: argv[0], searched on PATH when it
 * has no slash.  argv[0] is whatever the caller chose to pass, so it is only
 * believed when it leads to the file that is running (rule 1.3); otherwise
 * the kernel's own record of the running program is used.
 */
static void invocation_path(char *out, const char *argv0)
{
    char kernel[PATH_MAX];
    struct stat self, st;
    int have_self = stat("/proc/self/exe", &self) == 0;
    int have_argv0 = 0;
    ssize_t n;

    if (argv0 && argv0[0]) {
        if (strchr(argv0, '/'))
            have_argv0 = make_absolute(out, argv0) == 0;
        else
            have_argv0 = search_path(out, argv0) == 0;
    }
    if (have_argv0 && stat(out, &st) == 0 && (!have_self || same_file(&st, &self)))
        return;

    n = have_self ? readlink("/proc/self/exe", kernel, sizeof kernel) : -1;
    if (n < 0) {
        /* Without the kernel's record, argv[0] is trusted if it exists. */
        if (have_argv0 && stat(out, &st) == 0)
            return;
        fail(STATUS_NO_SELF, "cannot tell which file is running; argv[0] is",
             argv0 ? argv0 : "(null)", 0, NULL);
    }
    if ((size_t)n >= sizeof kernel)
        fail(STATUS_PATH_TOO_LONG, "path too long:", "/proc/self/exe", 0, NULL);
    kernel[n] = '\0';
    copy_path(out, kernel);
}

/* ---------------------------------------------------------------------------
 * Rule 2: finding the environment.
 */

/*
 * A pyvenv.cfg for an interpreter in dir: CPython looks one level up first,
 * then in dir itself, and so do we, so that we read the file it will read.
 */
static int find_cfg(char *cfg, const char *dir)
{
    char parent[PATH_MAX];
    dir_name(parent, dir);
    join_path(cfg, parent, "pyvenv.cfg");
    if (is_regular(cfg))
        return 1;
    join_path(cfg, dir, "pyvenv.cfg");
    return is_regular(cfg);
}

/* Rule 2.4: name the file that is missing and the two ways to get here. */
static void no_env(const char *path, const char *real_dir)
{
    char parent[PATH_MAX], cfg[PATH_MAX];
    dir_name(parent, real_dir);
    join_path(cfg, parent, "pyvenv.cfg");
    fprintf(stderr, "%s: no environment for ", PROGRAM);
    put_escaped(path);
    fputs(": ", stderr);
    put_escaped(cfg);
    fputs(" does not exist; either the environment lost its pyvenv.cfg, or this file is a hard link"
          " or copy taken out of its environment (use a symlink to it instead)\n", stderr);
    exit(STATUS_NO_ENV);
}

/*
 * Walk from start (an absolute path) to the first environment met: the
 * lexical check, the physical check, then one symlink, until a file that is
 * not a link.  On success venv holds the path to give CPython as argv[0] and
 * cfg the pyvenv.cfg that decided it.
 */
static void find_env(char *venv, char *cfg, const char *start)
{
    char p[PATH_MAX], lex[PATH_MAX], dir[PATH_MAX], real[PATH_MAX];
    char target[PATH_MAX];
    int step;

    copy_path(p, start);
    for (step = 0; step <= MAX_LINK_STEPS; step++) {
        struct stat st_p, st_lex;
        ssize_t n;

        /* 2.1: what CPython itself would decide if started as lex. */
        lexical_normalize(lex, p);
        if (stat(p, &st_p) == 0 && stat(lex, &st_lex) == 0 && same_file(&st_p, &st_lex)) {
            dir_name(dir, lex);
            if (find_cfg(cfg, dir)) {
                copy_path(venv, lex);
                return;
            }
        }

        /* 2.2: a symlinked directory on the way, e.g. ~/tools -> env/bin. */
        dir_name(dir, p);
        if (!realpath(dir, real))
            fail(STATUS_NO_ENV, "cannot resolve directory", dir, errno, NULL);
        if (find_cfg(cfg, real)) {
            join_path(venv, real, base_name(p));
            return;
        }

        /* 2.3: follow one link, relative to the link's real directory. */
        n = readlink(p, target, sizeof target);
        if (n < 0) {
            if (errno == EINVAL)  /* 2.4: not a link, the walk ends here */
                no_env(p, real);
            fail(STATUS_NO_ENV, "cannot read link", p, errno, NULL);
        }
        if ((size_t)n >= sizeof target)
            fail(STATUS_PATH_TOO_LONG, "link target too long:", p, 0, NULL);
        target[n] = '\0';
        if (target[0] == '/')
            copy_path(p, target);
        else
            join_path(p, real, target);
    }
    fail(STATUS_LINK_LOOP, "too many levels of symbolic links from", start, 0, NULL);
}

/* ---------------------------------------------------------------------------
 * Rule 3: the base interpreter.
 */

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Trim [*s, *e) in place and NUL-terminate it. */
static char *strip(char *s, char *e)
{
    while (s < e && is_space(*s))
        s++;
    while (e > s && is_space(e[-1]))
        e--;
    *e = '\0';
    return s;
}

static int key_is(const char *key, const char *want)
{
    for (; *key && *want; key++, want++) {
        char c = *key;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != *want)
            return 0;
    }
    return *key == '\0' && *want == '\0';
}

struct cfg_keys {
    const char *base_executable, *executable, *home, *version_info, *version;
};

/* Read pyvenv.cfg as CPython does: "key = value", first "=" splits. */
static void read_cfg(struct cfg_keys *keys, const char *cfg)
{
    size_t len = 0;
    char *line, *end;
    int fd = open(cfg, O_RDONLY);

    if (fd < 0)
        fail(STATUS_CFG_UNREADABLE, "cannot read", cfg, errno, NULL);
    for (;;) {
        ssize_t n = read(fd, cfg_text + len, sizeof cfg_text - len);
        if (n < 0) {
            int err = errno;
            if (err == EINTR)
                continue;
            close(fd);
            fail(STATUS_CFG_UNREADABLE, "cannot read", cfg, err, NULL);
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > MAX_CFG_SIZE) {
            close(fd);
            fail(STATUS_CFG_TOO_LARGE, "pyvenv.cfg larger than 1 MiB:", cfg, 0, NULL);
        }
    }
    close(fd);
    if (memchr(cfg_text, '\0', len))
        fail(STATUS_CFG_NOT_TEXT, "pyvenv.cfg is not text (it holds NUL bytes):", cfg, 0, NULL);
    cfg_text[len] = '\0';

    memset(keys, 0, sizeof *keys);
    for (line = cfg_text; line < cfg_text + len; line = end + 1) {
        char *eq, *key, *value;
        end = line + strcspn(line, "\r\n");
        eq = memchr(line, '=', (size_t)(end - line));
        if (!eq) {
            *end = '\0';
            continue;
        }
        key = strip(line, eq);
        value = strip(eq + 1, end);
        /* The first occurrence wins, as for "home" in CPython's getpath. */
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
    }
}

/* "3.12.1.final.0" or "3.12.1" -> "python3.12"; 0 if it is not such a string. */
static int versioned_name(char *out, size_t size, const char *version)
{
    size_t major = strspn(version, "0123456789"), minor;
    if (!major || version[major] != '.')
        return 0;
    minor = strspn(version + major + 1, "0123456789");
    if (!minor || major + minor + 8 > size)
        return 0;
    memcpy(out, "python", 6);
    memcpy(out + 6, version, major + 1 + minor);
    out[6 + major + 1 + minor] = '\0';
    return 1;
}

/* Rule 3.1 and 3.2: the base interpreter named by cfg, checked to be usable. */
static void base_from_cfg(char *base, const char *cfg)
{
    struct cfg_keys keys;
    const char *key = NULL, *value = NULL;

    read_cfg(&keys, cfg);
    if (keys.base_executable) {
        key = "base-executable";
        value = keys.base_executable;
    } else if (keys.executable) {
        key = "executable";
        value = keys.executable;
    } else if (keys.home) {
        char name[32];
        const char *version = keys.version_info ? keys.version_info : keys.version;
        if (version && versioned_name(name, sizeof name, version)) {
            join_path(base, keys.home, name);
            if (is_executable_file(base))
                return;
        }
        join_path(base, keys.home, "python3");
        if (is_executable_file(base))
            return;
        join_path(base, keys.home, "python");
        if (is_executable_file(base))
            return;
        fprintf(stderr, "%s: no python interpreter in 'home' of ", PROGRAM);
        put_escaped(cfg);
        fputs(": ", stderr);
        put_escaped(keys.home);
        fputc('\n', stderr);
        exit(STATUS_BASE_UNUSABLE);
    } else {
        fail(STATUS_NO_BASE_KEY,
             "no base-executable, executable or home key in", cfg, 0, NULL);
    }

    copy_path(base, value);
    if (!is_executable_file(base)) {
        int err = errno;
        struct stat st;
        if (stat(base, &st) == 0)
            err = S_ISREG(st.st_mode) ? EACCES : EISDIR;
        fprintf(stderr, "%s: base interpreter from '%s' in ", PROGRAM, key);
        put_escaped(cfg);
        fputs(" is not usable: ", stderr);
        put_escaped(base);
        fprintf(stderr, ": %s\n", strerror(err));
        exit(STATUS_BASE_UNUSABLE);
    }
}

/*
 * Rule 3.3: is path one of our stubs?  The running file always is; another
 * stub is recognised by its marker.  Real interpreters are either larger than
 * any stub or lack the marker; a small one costs one short read.
 */
static int is_stub(const char *path, const struct stat *self)
{
    static char buf[MAX_STUB_SIZE];
    struct stat st;
    size_t len = 0, m = sizeof STUB_MARKER - 1, i;
    int fd;

    if (stat(path, &st) != 0)
        return 0;
    if (self && same_file(&st, self))
        return 1;
    if (st.st_size > MAX_STUB_SIZE)
        return 0;
    fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof buf)
            break;
    }
    close(fd);
    for (i = 0; len >= m && i <= len - m; i++)
        if (buf[i] == STUB_MARKER[0] && memcmp(buf + i, STUB_MARKER, m) == 0)
            return 1;
    return 0;
}

/* ---------------------------------------------------------------------------
 * Rule 4: the hand-over.
 */

extern char **environ;

int main(int argc, char **argv)
{
    static char invoked[PATH_MAX], venv[PATH_MAX], cfg[PATH_MAX];
    static char base[PATH_MAX], ignored[PATH_MAX];
    char *fallback_argv[2];
    struct stat self;
    int have_self = stat("/proc/self/exe", &self) == 0;
    int depth;

    invocation_path(invoked, argc > 0 ? argv[0] : NULL);
    find_env(venv, cfg, invoked);

    /*
     * The base may itself be a stub: "python -m venv nested" run from a stub
     * environment on 3.8-3.10 writes "home = env/bin".  Exec'ing it would
     * start this same decision again, forever, so walk on to that stub's
     * own environment and its base instead.
     */
    for (depth = 0;; depth++) {
        base_from_cfg(base, cfg);
        if (!is_stub(base, have_self ? &self : NULL))
            break;
        if (depth == MAX_NESTING)
            fail(STATUS_NESTING, "environments nested too deep, or in a cycle, at", cfg, 0, NULL);
        if (make_absolute(invoked, base) != 0)
            fail(STATUS_NO_SELF, "cannot read the working directory for", base, errno, NULL);
        find_env(ignored, cfg, invoked);
    }

    /* No fork, no wrapper: the interpreter takes over this very process. */
    if (argc > 0) {
        argv[0] = venv;
    } else {
        fallback_argv[0] = venv;
        fallback_argv[1] = NULL;
        argv = fallback_argv;
    }
    execve(base, argv, environ);
    fail(STATUS_EXEC_FAILED, "cannot execute", base, errno, NULL);
    return STATUS_EXEC_FAILED;
}
