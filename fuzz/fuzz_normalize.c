/*
 * fuzz_normalize.c - libFuzzer target for the stub's lexical normalisation
 * (rule 2.1), whose result becomes the interpreter's argv[0] (rule 4.1).
 *
 * Checks that the result is absolute and clean (no "//", no "." or ".."
 * component, no trailing "/"), never longer than the input, and that
 * normalising it again changes nothing.
 */

#define SYMLINK_SAFE_NO_MAIN
#include "../src/stub/stub.c"

#include <stdint.h>

static int is_clean(const char *p)
{
    const char *c;
    if (p[0] != '/')
        return 0;
    if (p[1] == '\0')
        return 1;
    for (c = p; *c; c++) {
        if (c[0] != '/')
            continue;
        if (c[1] == '/' || c[1] == '\0')
            return 0;
        if (c[1] == '.' && (c[2] == '/' || c[2] == '\0'))
            return 0;
        if (c[1] == '.' && c[2] == '.' && (c[3] == '/' || c[3] == '\0'))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char in[2 * PATH_MAX + 2], out[PATH_MAX], again[PATH_MAX];
    if (size > 2 * PATH_MAX)
        return 0;
    in[0] = '/';
    memcpy(in + 1, data, size);
    in[size + 1] = '\0'; /* a NUL in the data ends the path there, as in a real one */
    if (lexical_normalize(out, in) != STATUS_OK)
        return 0;
    if (!is_clean(out) || strlen(out) > strlen(in))
        abort();
    if (lexical_normalize(again, out) != STATUS_OK || strcmp(again, out) != 0)
        abort();
    return 0;
}
