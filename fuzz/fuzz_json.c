/*
 * Fuzz target "json": the VKS upload body reader (hkp_json_keytext) and
 * the JSON writer (shared/json.c). The input is read as a body, and its
 * bytes are also written as a JSON string.
 *
 * Invariants (abort on violation):
 *   - a refusal has a reason; a found keytext is no longer than the input;
 *   - whatever the writer produces for any bytes reads back as a valid
 *     object, and for bytes below 0x80 the keytext reads back as itself;
 *   - the writer never reports an error for well-nested calls.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json.h"

typedef struct {
    uint8_t *p;
    size_t   len, cap;
} buf_t;

static void
sink(void *ctx, const void *p, size_t n)
{
    buf_t *b = ctx;

    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2;
        uint8_t *np = realloc(b->p, cap);
        FUZZ_CHECK(np != NULL, "out of memory");
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *text = NULL, *back = NULL;
    size_t tl = 0, bl = 0, i;
    const char *err = NULL;
    hkp_json_t w;
    buf_t b = { NULL, 0, 0 };
    int ascii = 1;

    if (hkp_json_keytext(data, size, &text, &tl, &err) == 0) {
        FUZZ_CHECK(text != NULL && tl <= size, "keytext within the input");
        free(text);
    } else {
        FUZZ_CHECK(err != NULL && *err != '\0', "a refusal has a reason");
    }

    hkp_json_init(&w, sink, &b);
    hkp_json_obj(&w);
    hkp_json_key(&w, "other");
    hkp_json_arr(&w);
    hkp_json_int(&w, -42);
    hkp_json_bool(&w, 1);
    hkp_json_null(&w);
    hkp_json_time(&w, (int64_t) size * 1000003);
    hkp_json_end(&w);
    hkp_json_key(&w, "keytext");
    hkp_json_str(&w, data, size);
    hkp_json_end(&w);
    FUZZ_CHECK(w.err == 0 && w.depth == 0, "well-nested writes succeed");

    err = NULL;
    FUZZ_CHECK(hkp_json_keytext(b.p, b.len, &back, &bl, &err) == 0,
        "the writer's output reads back");
    for (i = 0; i < size; i++)
        if (data[i] >= 0x80)
            ascii = 0;
    if (ascii)
        FUZZ_CHECK(bl == size && memcmp(back, data, size) == 0,
            "ASCII keytext reads back as itself");
    free(back);
    free(b.p);
    return 0;
}
