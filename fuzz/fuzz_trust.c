/*
 * fuzz_trust.c - libFuzzer target for rule 2.6, whose pyvenv.cfg counts.
 *
 * Reads a directory's mode and owner, an entry's owner and link count, a
 * file's mode and the effective user from the input, and checks cfg_trust()
 * against the rule written out once more, plainly, plus what cfg_trusted()
 * relies on: when cfg_trust_needs_dir() says no, no directory whatever
 * changes the verdict.
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
static int expected(unsigned int dir_mode, unsigned long dir_uid, unsigned long entry_uid, unsigned long entry_nlink,
                    unsigned int file_mode, unsigned long euid)
{
    int shared = (dir_mode & 01000) && (dir_mode & 022);   /* sticky, writable by group or all: add, not replace */
    int anyone_replaces = (dir_mode & 01002) == 02;         /* world-writable, not sticky */
    int trusted_owner = entry_uid == euid || entry_uid == 0 || entry_uid == dir_uid;
    if (shared && !trusted_owner)
        return TRUST_STICKY_OTHER;
    if ((file_mode & 02) && !anyone_replaces)
        return TRUST_WORLD_WRITABLE;
    if (shared && entry_nlink != 1)
        return TRUST_SHARED_LINKED;
    if (shared && (file_mode & 020))
        return TRUST_SHARED_WRITABLE;
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
    unsigned long nlink = take(data, size, 28) % 4; /* 0 to 3: one link is what matters */
    int verdict = cfg_trust(dir_mode, dir_uid, entry_uid, nlink, file_mode, euid);

    if (verdict != expected(dir_mode, dir_uid, entry_uid, nlink, file_mode, euid))
        abort();
    if (!cfg_trust_needs_dir(entry_uid, nlink, file_mode, euid) &&
        (verdict != TRUST_OK || cfg_trust(other_mode, other_uid, entry_uid, nlink, file_mode, euid) != TRUST_OK))
        abort();
    /* Only the sticky, group- and world-write bits of the directory, and the write bits of the file, matter. */
    if (cfg_trust(dir_mode & 01022, dir_uid, entry_uid, nlink, file_mode & 022, euid) != verdict)
        abort();
    return 0;
}
