/*
 * fuzz_cfg.c - libFuzzer target for the stub's pyvenv.cfg reader (rules 3.1, 3.4).
 *
 * Feeds arbitrary bytes to parse_cfg() exactly as read_cfg() would after
 * reading a file, then checks what it promises: every value found lies
 * inside the text, ends within it and carries no surrounding white space,
 * UTF-8 encoded white space included.
 */

#define SYMLINK_SAFE_NO_MAIN
#include "../src/stub/stub.c"

#include <stdint.h>

static void check_value(const char *value, size_t size)
{
    size_t n;
    if (!value)
        return;
    if (value < cfg_text || value > cfg_text + size)
        abort();
    n = strlen(value);
    if ((size_t)(value - cfg_text) + n > size)
        abort();
    if (n && (space_length(value, n) || space_before(value, value + n)))
        abort(); /* stripped as str.strip() strips, UTF-8 white space included */
    if (memchr(value, '\n', n))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cfg_keys keys;
    if (size > MAX_CFG_SIZE)
        return 0;
    memcpy(cfg_text, data, size);
    if (parse_cfg(&keys, cfg_text, size) != STATUS_OK) {
        if (!memchr(data, '\0', size))
            abort(); /* only NUL bytes may make text "not text" */
        return 0;
    }
    check_value(keys.base_executable, size);
    check_value(keys.executable, size);
    check_value(keys.home, size);
    check_value(keys.version_info, size);
    check_value(keys.version, size);
    return 0;
}
