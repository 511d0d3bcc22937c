/*
 * Fuzz target "recon_msg": the SKS recon wire format (reconsvc/msg.c):
 * frame detection, the message decoder, Config parsing and checking, and
 * the unframed verdicts. The input is what a peer sends.
 *
 * Invariants (abort on violation):
 *   - a decoded message, encoded again, is one complete frame that decodes
 *     to the same message, and encoding that gives the same bytes;
 *   - a frame whose prefix has no bits past nbits is re-encoded byte for
 *     byte (every message but Error with an embedded NUL);
 *   - a parsed Config, re-encoded from its fields, parses to the same
 *     fields and gets the same verdict from recon_config_check;
 *   - a "failed" verdict's (printable) reason survives a verdict
 *     round trip; a verdict uses no more bytes than it was given.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "msg.h"

/* Room for a Config verdict reason (SKS's messages are short). */
#define FUZZ_REASON_LEN  512

static void
encode(rbuf_t *b, const recon_msg_t *m)
{
    int r = -1;

    switch (m->type) {
    case RECON_MSG_POLY:
        r = recon_enc_poly(b, m->prefix, m->nbits, m->size,
            (const uint8_t (*)[HKP_ELEM_LEN]) m->sv);
        break;
    case RECON_MSG_FULL:
        r = recon_enc_full(b, m->prefix, m->nbits,
            (const hkp_hash_t *) m->set, m->nset);
        break;
    case RECON_MSG_ELEMENTS:
    case RECON_MSG_FULLELEMENTS:
        r = recon_enc_set(b, m->type, (const hkp_hash_t *) m->set,
            m->nset);
        break;
    case RECON_MSG_SYNCFAIL:
    case RECON_MSG_DONE:
    case RECON_MSG_FLUSH:
        r = recon_enc_empty(b, m->type);
        break;
    case RECON_MSG_ERROR:
        r = recon_enc_error(b, m->text);
        break;
    }
    FUZZ_CHECK(r == 0, "a decoded message encodes");
}

static void
same_msg(const recon_msg_t *a, const recon_msg_t *b)
{
    FUZZ_CHECK(a->type == b->type, "same type");
    FUZZ_CHECK(a->nbits == b->nbits
        && memcmp(a->prefix, b->prefix, sizeof(a->prefix)) == 0,
        "same prefix");
    FUZZ_CHECK(a->size == b->size && memcmp(a->sv, b->sv, sizeof(a->sv)) == 0,
        "same size and sample values");
    FUZZ_CHECK(a->nset == b->nset
        && (a->nset == 0 || memcmp(a->set, b->set, a->nset * HKP_HASH_LEN) == 0),
        "same set");
    FUZZ_CHECK((a->text == NULL) == (b->text == NULL)
        && (a->text == NULL || strcmp(a->text, b->text) == 0), "same text");
}

/* The prefix bytes of a Poly/Full frame carry no bits past nbits, and an
 * Error's text has no NUL: then re-encoding reproduces the frame. */
static int
canonical_frame(const uint8_t *frame, size_t flen, const recon_msg_t *m)
{
    if (m->type == RECON_MSG_ERROR)
        return strlen(m->text) == flen - 9;
    if (m->type == RECON_MSG_POLY || m->type == RECON_MSG_FULL) {
        size_t nb = (m->nbits + 7) / 8;
        return flen >= 13 + nb && memcmp(frame + 13, m->prefix, nb) == 0;
    }
    return 1;
}

static void
message(const uint8_t *frame, size_t flen)
{
    recon_msg_t m, m2;
    rbuf_t b = { 0 }, b2 = { 0 };
    size_t f2 = 0;
    const char *err = NULL;
    char pfx[RECON_MAX_PREFIX_BITS + 1];

    if (recon_msg_parse(frame, flen, &m, &err) != 0) {
        FUZZ_CHECK(err != NULL && m.set == NULL && m.text == NULL,
            "a refused message has a reason and holds nothing");
        return;
    }
    FUZZ_CHECK(m.nbits <= RECON_MAX_PREFIX_BITS, "prefix length");
    recon_prefix_str(m.prefix, m.nbits, pfx);
    FUZZ_CHECK(strlen(pfx) == m.nbits, "prefix text");
    encode(&b, &m);
    FUZZ_CHECK(recon_frame_check(rbuf_data(&b), rbuf_avail(&b), &f2, &err)
        == 1 && f2 == rbuf_avail(&b), "an encoded message is one frame");
    if (canonical_frame(frame, flen, &m))
        FUZZ_CHECK(f2 == flen && memcmp(rbuf_data(&b), frame, flen) == 0,
            "a canonical frame is re-encoded byte for byte");
    FUZZ_CHECK(recon_msg_parse(rbuf_data(&b), f2, &m2, &err) == 0,
        "an encoded message decodes");
    same_msg(&m, &m2);
    encode(&b2, &m2);
    FUZZ_CHECK(rbuf_avail(&b2) == f2
        && memcmp(rbuf_data(&b2), rbuf_data(&b), f2) == 0,
        "encoding is stable");
    recon_msg_free(&m2);
    recon_msg_free(&m);
    rbuf_free(&b);
    rbuf_free(&b2);
}

static void
config(const uint8_t *frame, size_t flen)
{
    recon_config_t c, c2;
    char r1[FUZZ_REASON_LEN], r2[FUZZ_REASON_LEN];
    const char *v1, *v2, *err = NULL, *keys[5];
    const uint8_t *vals[5];
    size_t vlens[5], n = 0, f2 = 0;
    uint8_t bq[4], mb[4], hp[4];
    rbuf_t b = { 0 };

    if (recon_config_parse(frame, flen, &c, &err) != 0) {
        FUZZ_CHECK(err != NULL, "a refused Config has a reason");
        return;
    }
    v1 = recon_config_check(&c, r1, sizeof(r1));
    FUZZ_CHECK(v1 == NULL || (v1 == r1 && strlen(r1) < sizeof(r1)),
        "a Config verdict");
    /* re-encode what was understood, when it was kept whole */
    if (c.version_len >= sizeof(c.version)
        || c.filters_len >= sizeof(c.filters))
        return;
#define PAIR(k, v, l) (keys[n] = (k), vals[n] = (const uint8_t *) (v), \
    vlens[n++] = (l))
#define INT(has, ok, val, name, buf)                                        \
    if (has) {                                                              \
        buf[0] = (uint8_t) ((val) >> 24), buf[1] = (uint8_t) ((val) >> 16); \
        buf[2] = (uint8_t) ((val) >> 8), buf[3] = (uint8_t) (val);          \
        PAIR(name, buf, (ok) ? 4 : 0);                                      \
    }
    if (c.has_version)
        PAIR("version", c.version, c.version_len);
    if (c.has_filters)
        PAIR("filters", c.filters, c.filters_len);
    INT(c.has_bitquantum, c.bitquantum_ok, c.bitquantum, "bitquantum", bq)
    INT(c.has_mbar, c.mbar_ok, c.mbar, "mbar", mb)
    INT(c.has_http_port, c.http_port_ok, c.http_port, "http port", hp)
#undef INT
#undef PAIR
    FUZZ_CHECK(recon_enc_config_pairs(&b, n, keys, vals, vlens) == 0,
        "a Config encodes");
    FUZZ_CHECK(recon_frame_check(rbuf_data(&b), rbuf_avail(&b), &f2, &err)
        == 1, "an encoded Config is one frame");
    FUZZ_CHECK(recon_config_parse(rbuf_data(&b), f2, &c2, &err) == 0,
        "an encoded Config parses");
    FUZZ_CHECK(memcmp(&c, &c2, sizeof(c)) == 0 || (c.version_len == c2.version_len
        && strcmp(c.version, c2.version) == 0
        && c.filters_len == c2.filters_len
        && strcmp(c.filters, c2.filters) == 0
        && c.has_version == c2.has_version && c.has_filters == c2.has_filters
        && c.has_bitquantum == c2.has_bitquantum && c.has_mbar == c2.has_mbar
        && c.has_http_port == c2.has_http_port
        && c.bitquantum_ok == c2.bitquantum_ok && c.mbar_ok == c2.mbar_ok
        && c.http_port_ok == c2.http_port_ok && c.bitquantum == c2.bitquantum
        && c.mbar == c2.mbar && c.http_port == c2.http_port),
        "a re-encoded Config has the same fields");
    v2 = recon_config_check(&c2, r2, sizeof(r2));
    FUZZ_CHECK((v1 == NULL) == (v2 == NULL)
        && (v1 == NULL || strcmp(r1, r2) == 0),
        "a re-encoded Config gets the same verdict");
    rbuf_free(&b);
}

static void
verdict(const uint8_t *data, size_t size)
{
    size_t used = 0, u2 = 0;
    int passed = -1, p2 = -1;
    char reason[FUZZ_REASON_LEN], r2[FUZZ_REASON_LEN];
    const char *err = NULL;
    rbuf_t b = { 0 };
    int r = recon_verdict_parse(data, size, &used, &passed, reason,
        sizeof(reason), &err);

    if (r < 0)
        FUZZ_CHECK(err != NULL, "a bad verdict has a reason");
    if (r != 1)
        return;
    FUZZ_CHECK(used <= size && (passed == 0 || passed == 1), "a verdict");
    FUZZ_CHECK(recon_enc_verdict(&b, passed ? NULL : reason) == 0,
        "a verdict encodes");
    FUZZ_CHECK(recon_verdict_parse(rbuf_data(&b), rbuf_avail(&b), &u2, &p2,
        r2, sizeof(r2), &err) == 1 && u2 == rbuf_avail(&b) && p2 == passed
        && strcmp(r2, reason) == 0, "a verdict round trip");
    rbuf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    const char *err = NULL;

    /* a stream of frames, as a session reads them */
    while (pos < size) {
        size_t flen = 0;
        int r = recon_frame_check(data + pos, size - pos, &flen, &err);
        if (r <= 0) {
            FUZZ_CHECK(r == 0 || err != NULL, "a bad frame has a reason");
            break;
        }
        FUZZ_CHECK(flen >= 5 && flen <= size - pos, "a frame's length");
        message(data + pos, flen);
        config(data + pos, flen);
        pos += flen;
    }
    verdict(data, size);
    return 0;
}
