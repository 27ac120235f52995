/*
 * harness.c - test-only entry points into the stub's pure parts.
 *
 * Built as a shared library by tests/test_stub_harness.py and called through
 * ctypes, so property tests can put thousands of inputs through the very
 * code the stub runs, without a process per input.  Never shipped.
 */

#define SYMLINK_SAFE_NO_MAIN
#include "../../src/stub/stub.c"

/* Rule 2.1's lexical normalisation: 0, or a status with harness_message(). */
int harness_normalize(char *out, const char *in)
{
    return lexical_normalize(out, in);
}

/*
 * Rule 3.1's reading of pyvenv.cfg.  text must hold len + 1 writable bytes;
 * values receives base-executable, executable, home, version_info, version
 * (NULL when absent), pointing into text.
 */
int harness_parse_cfg(char *text, size_t len, const char **values)
{
    struct cfg_keys keys;
    int status = parse_cfg(&keys, text, len);
    values[0] = keys.base_executable;
    values[1] = keys.executable;
    values[2] = keys.home;
    values[3] = keys.version_info;
    values[4] = keys.version;
    return status;
}

/* Rule 2's walk from an absolute path: venv and cfg are PATH_MAX buffers. */
int harness_find_env(const char *start, char *venv, char *cfg)
{
    struct stat start_st, cfg_st;
    int status = stat_step(start, &start_st);
    return status != STATUS_OK ? status : find_env(venv, cfg, &cfg_st, start, &start_st);
}

const char *harness_message(void)
{
    return message.text;
}

int harness_path_max(void)
{
    return PATH_MAX;
}

/* Rule 2.6's verdict: 0 when the pyvenv.cfg counts, else why not (TRUST_*). */
int harness_cfg_trust(unsigned int dir_mode, unsigned long dir_uid, unsigned long entry_uid, unsigned long entry_nlink,
                      unsigned int file_mode, unsigned long euid)
{
    return cfg_trust(dir_mode, dir_uid, entry_uid, entry_nlink, file_mode, euid);
}

/* Rule 2.6: whether the verdict needs the directory at all (else it is 0). */
int harness_cfg_trust_needs_dir(unsigned long entry_uid, unsigned long entry_nlink, unsigned int file_mode,
                                unsigned long euid)
{
    return cfg_trust_needs_dir(entry_uid, entry_nlink, file_mode, euid);
}
