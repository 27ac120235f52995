/*
 * fuzz_trust.c - libFuzzer target for rule 2.6, whose pyvenv.cfg counts.
 *
 * Reads a directory's mode and owner, an entry's owner, a file's mode and
 * the effective user from the input, and checks cfg_trust() against the
 * rule written out once more, plainly, plus what find_cfg() relies on: when
 * cfg_trust_needs_dir() says no, no directory whatever changes the verdict.
 */

#define SYMLINK_SAFE_NO_MAIN
#include "../src/stub/stub.c"

#include <stdint.h>

static uint32_t take(const uint8_t *data, size_t size, size_t i)
{
    uint32_t v = 0;
    size_t k;
    for (k = 0; k < 4 && i + k < size; k++)
        v |= (uint32_t)data[i + k] << (8 * k);
    return v;
}

/* The rule as the contract words it, without cfg_trust()'s shortcuts. */
static int expected(unsigned int dir_mode, unsigned long dir_uid, unsigned long entry_uid, unsigned int file_mode,
                    unsigned long euid)
{
    int anyone_adds = (dir_mode & 01002) == 01002;  /* sticky and world-writable: add, not replace */
    int anyone_replaces = (dir_mode & 01002) == 02; /* world-writable, not sticky */
    if (anyone_adds && !(entry_uid == euid || entry_uid == 0 || entry_uid == dir_uid))
        return TRUST_STICKY_OTHER;
    if ((file_mode & 02) && !anyone_replaces)
        return TRUST_WORLD_WRITABLE;
    return TRUST_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Small uids collide often, as they do for real (0, the user, the directory's owner). */
    unsigned int dir_mode = take(data, size, 0) & 07777, file_mode = take(data, size, 4) & 07777;
    unsigned long dir_uid = take(data, size, 8), entry_uid = take(data, size, 12), euid = take(data, size, 16);
    unsigned int other_mode = take(data, size, 20) & 07777;
    unsigned long other_uid = take(data, size, 24);
    int verdict = cfg_trust(dir_mode, dir_uid, entry_uid, file_mode, euid);

    if (verdict != expected(dir_mode, dir_uid, entry_uid, file_mode, euid))
        abort();
    if (!cfg_trust_needs_dir(entry_uid, file_mode, euid) &&
        (verdict != TRUST_OK || cfg_trust(other_mode, other_uid, entry_uid, file_mode, euid) != TRUST_OK))
        abort();
    /* Only the sticky and world-write bits of the directory, and world-write of the file, matter. */
    if (cfg_trust(dir_mode & 01002, dir_uid, entry_uid, file_mode & 02, euid) != verdict)
        abort();
    return 0;
}
