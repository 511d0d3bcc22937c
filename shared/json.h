/*
 * A small JSON writer and the one JSON reading the server does.
 *
 * Writer: values go to a sink (the caller's buffer builder); commas and
 * nesting are tracked, at most HKP_JSON_MAX_DEPTH levels. Strings are
 * escaped per RFC 8259 (", \, control characters; bytes >= 0x80 are passed
 * on as they are when they form valid UTF-8, and replaced by U+FFFD when
 * they do not, so the output is always valid JSON text). A misuse (too
 * deep, a value where a key is due) sets w->err and writes nothing more.
 *
 * Reader: hkp_json_keytext() takes the "keytext" string member out of a
 * top-level object, as VKS uploads send it ({"keytext": "-----BEGIN..."}).
 * It validates the whole text (RFC 8259 grammar, nesting at most
 * HKP_JSON_MAX_DEPTH, input at most HKP_JSON_MAX_INPUT bytes) and never
 * reads past len; other members are skipped.
 */
#ifndef HKP_JSON_H
#define HKP_JSON_H

#include <stddef.h>
#include <stdint.h>

#define HKP_JSON_MAX_DEPTH   16
#define HKP_JSON_MAX_INPUT   (16 * 1024 * 1024)

typedef void (*hkp_json_sink)(void *ctx, const void *p, size_t n);

typedef struct {
    hkp_json_sink  sink;
    void          *ctx;
    int            depth;
    int            err;
    uint8_t        obj[HKP_JSON_MAX_DEPTH];    /* level is an object */
    uint8_t        count[HKP_JSON_MAX_DEPTH];  /* members written (0/1) */
    uint8_t        keyed;                      /* a key waits for its value */
} hkp_json_t;

void hkp_json_init(hkp_json_t *w, hkp_json_sink sink, void *ctx);
void hkp_json_obj(hkp_json_t *w);       /* { */
void hkp_json_arr(hkp_json_t *w);       /* [ */
void hkp_json_end(hkp_json_t *w);       /* } or ] */
void hkp_json_key(hkp_json_t *w, const char *name);
void hkp_json_str(hkp_json_t *w, const uint8_t *p, size_t n);
void hkp_json_cstr(hkp_json_t *w, const char *s);
/* upper (1) or lower (0) case hex of n bytes, as a string */
void hkp_json_hex(hkp_json_t *w, const uint8_t *p, size_t n, int upper);
void hkp_json_int(hkp_json_t *w, int64_t v);
void hkp_json_bool(hkp_json_t *w, int v);
void hkp_json_null(hkp_json_t *w);
/* A UTC time as an RFC 3339 string, "2026-12-02T16:23:34Z". */
void hkp_json_time(hkp_json_t *w, int64_t t);

/* "YYYY-MM-DDTHH:MM:SSZ" + NUL into out (HKP_RFC3339_LEN + 1 bytes). */
#define HKP_RFC3339_LEN  20
void hkp_rfc3339(int64_t t, char out[HKP_RFC3339_LEN + 1]);

/*
 * The value of the "keytext" string member of the top-level object in
 * buf[len], unescaped (UTF-8), in a malloc'd buffer the caller frees.
 * 0 with *out and *outlen, or -1 with *err: not JSON, not an object, too deep
 * or too long, no "keytext" member or not a string.
 */
int hkp_json_keytext(const uint8_t *buf, size_t len, uint8_t **out,
    size_t *outlen, const char **err);

#endif
