/*
 * Fuzz target "armor": ASCII armor decoding and encoding (shared/armor.c).
 * The input is text to dearmor, and also binary to armor.
 *
 * Invariants (abort on violation):
 *   - armor(x) writes exactly hkp_armor_encoded_len(|x|) bytes and
 *     dearmors back to x: one block, same bytes;
 *   - whatever dearmors, re-armored, dearmors to the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "armor.h"
#include "fuzz.h"

/* armor(bin) must dearmor to bin. */
static void
roundtrip(const uint8_t *bin, size_t len, const char *what)
{
    size_t alen = hkp_armor_encoded_len(len), outlen = 0;
    uint8_t *text = malloc(alen + 1), *out = NULL;
    const char *err = NULL;
    int n;

    FUZZ_CHECK(text != NULL, "out of memory");
    FUZZ_CHECK(hkp_armor_encode(bin, len, text) == text + alen,
        "armor writes hkp_armor_encoded_len bytes");
    n = hkp_armor_decode(text, alen, &out, &outlen, &err);
    FUZZ_CHECK(n == 1, what);
    FUZZ_CHECK(outlen == len && (len == 0 || memcmp(out, bin, len) == 0),
        what);
    free(out);
    free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *out = NULL;
    size_t outlen = 0;
    const char *err = NULL;
    int n;

    n = hkp_armor_decode(data, size, &out, &outlen, &err);
    if (n < 0)
        FUZZ_CHECK(err != NULL, "a broken block has a reason");
    if (n > 0)
        roundtrip(out, outlen, "dearmor(armor(dearmor(x))) == dearmor(x)");
    free(out);

    roundtrip(data, size, "dearmor(armor(x)) == x");
    (void) hkp_crc24(data, size);
    return 0;
}
