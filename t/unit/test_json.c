/*
 * Unit tests for shared/json.c: the writer (nesting, commas, escaping,
 * UTF-8 repair, misuse, times) and the "keytext" reader (escapes,
 * surrogates, grammar errors, depth, duplicates).
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "json.h"

typedef struct {
    char    buf[4096];
    size_t  len;
} sbuf_t;

static void
sink(void *ctx, const void *p, size_t n)
{
    sbuf_t *b = ctx;

    if (b->len + n < sizeof(b->buf)) {
        memcpy(b->buf + b->len, p, n);
        b->len += n;
        b->buf[b->len] = '\0';
    }
}

static void
test_writer(void)
{
    sbuf_t b = { "", 0 };
    hkp_json_t w;
    static const uint8_t fpr[] = { 0xAB, 0x01, 0xFF };
    static const uint8_t bad[] = { 'a', 0xC3, 0xA9, 0xFF, 'b', 0x01, 0x7F };

    hkp_json_init(&w, sink, &b);
    hkp_json_obj(&w);
    hkp_json_key(&w, "version");
    hkp_json_int(&w, 6);
    hkp_json_key(&w, "fingerprint");
    hkp_json_hex(&w, fpr, sizeof(fpr), 0);
    hkp_json_key(&w, "list");
    hkp_json_arr(&w);
    hkp_json_int(&w, -9223372036854775807LL - 1);
    hkp_json_bool(&w, 0);
    hkp_json_null(&w);
    hkp_json_cstr(&w, "q\"\\\n\t");
    hkp_json_end(&w);
    hkp_json_key(&w, "t");
    hkp_json_time(&w, 1700000000);
    hkp_json_key(&w, "s");
    hkp_json_str(&w, bad, sizeof(bad));
    hkp_json_end(&w);
    ok(w.err == 0 && w.depth == 0, "well-nested writes");
    is_str(b.buf, "{\"version\":6,\"fingerprint\":\"ab01ff\",\"list\":"
        "[-9223372036854775808,false,null,\"q\\\"\\\\\\n\\t\"],"
        "\"t\":\"2023-11-14T22:13:20Z\",\"s\":\"a\xC3\xA9\xEF\xBF\xBD"
        "b\\u0001\\u007f\"}", "writer output");

    b.len = 0;
    hkp_json_init(&w, sink, &b);
    hkp_json_obj(&w);
    hkp_json_int(&w, 1);
    ok(w.err != 0, "a member without a key is refused");

    b.len = 0;
    hkp_json_init(&w, sink, &b);
    for (int i = 0; i <= HKP_JSON_MAX_DEPTH; i++)
        hkp_json_arr(&w);
    ok(w.err != 0, "nesting past HKP_JSON_MAX_DEPTH is refused");

    b.len = 0;
    hkp_json_init(&w, sink, &b);
    hkp_json_end(&w);
    ok(w.err != 0 && b.len == 0, "an end without a start is refused");
}

static int
kt(const char *in, const char *want, const char *want_err)
{
    uint8_t *out = NULL;
    size_t n = 0;
    const char *err = NULL;
    int rc = hkp_json_keytext((const uint8_t *) in, strlen(in), &out, &n,
        &err);

    if (want != NULL) {
        int good = rc == 0 && n == strlen(want) && memcmp(out, want, n) == 0;
        if (!good)
            diag("%s: rc %d err %s", in, rc, err ? err : "-");
        free(out);
        return good;
    }
    if (rc == 0) {
        free(out);
        return 0;
    }
    if (want_err != NULL && strstr(err, want_err) == NULL) {
        diag("%s: error \"%s\", want \"%s\"", in, err, want_err);
        return 0;
    }
    return 1;
}

static void
test_reader(void)
{
    ok(kt("{\"keytext\":\"abc\"}", "abc", NULL), "plain keytext");
    ok(kt(" {\"a\": [1, 2.5e-3, {\"b\": null}], \"keytext\" : "
          "\"x\\n\\\"y\\\\\\/\\u00e9\\ud83d\\ude00\" , \"c\": true}\n",
          "x\n\"y\\/\xC3\xA9\xF0\x9F\x98\x80", NULL),
       "escapes, surrogate pair, other members skipped");
    ok(kt("{\"keytext\":\"\"}", "", NULL), "empty keytext");
    ok(kt("{\"a\":{\"keytext\":\"no\"}}", NULL, "no \"keytext\""),
       "a nested keytext is not the member");
    ok(kt("{\"keytext\":\"a\",\"keytext\":\"b\"}", NULL, "twice"),
       "keytext twice is refused");
    ok(kt("{\"keytext\":1}", NULL, "not a string"), "keytext not a string");
    ok(kt("[\"keytext\"]", NULL, "not a JSON object"), "an array");
    ok(kt("{\"keytext\":\"\\udc00\"}", NULL, "surrogate"), "lone low");
    ok(kt("{\"keytext\":\"\\ud800x\"}", NULL, "surrogate"), "lone high");
    ok(kt("{\"keytext\":\"a\x01\"}", NULL, "control"), "control char");
    ok(kt("{\"keytext\":\"abc", NULL, "unterminated"), "unterminated");
    ok(kt("{\"keytext\":\"a\"} x", NULL, "after"), "trailing data");
    ok(kt("{\"keytext\":\"a\",}", NULL, NULL), "trailing comma");
    ok(kt("{\"n\":01,\"keytext\":\"a\"}", NULL, NULL), "leading zero");
    ok(kt("{\"n\":tru,\"keytext\":\"a\"}", NULL, "not JSON"), "bad literal");
    ok(kt("{\"a\":[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]],\"keytext\":\"a\"}",
          NULL, "deeply"), "too deep");
    ok(kt("", NULL, "not a JSON object"), "empty body");
}

int
main(void)
{
    test_writer();
    test_reader();
    return tap_done();
}
