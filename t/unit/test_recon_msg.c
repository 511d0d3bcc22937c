/*
 * reconsvc/msg.c: frames of every message type byte-exact against
 * field-vectors.txt / sks-captures.txt (doc/recon.md), decoding, limits,
 * Config rules and verdicts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "tap.h"
#include "util.h"

static int
buf_is(const rbuf_t *b, const char *hex)
{
    static uint8_t want[8192];
    size_t n = unhex(hex, want, sizeof(want));
    return rbuf_avail(b) == n && memcmp(rbuf_data(b), want, n) == 0;
}

static const char *SV[6] = {
    "0eb98df4e065bcf025c35387de4e2c7e01", "df2712d4b7ce07366ba920a6b201763301",
    "76d6b932cb5d1433a958188daca5fa3100", "a5a0d3080d10f1cd3f02c7ca22881f5900",
    "c4cbf9e844d0738dcdd2c76cd06ef0f400", "4fe403fb7627924c4ae4195e0dbd8d8501" };

static void
hash(const char *hex, uint8_t out[HKP_HASH_LEN])
{
    unhex(hex, out, 16);
}

int
main(void)
{
    rbuf_t b = { 0 };
    uint8_t sv[6][17], h[4][HKP_HASH_LEN], frame[8192];
    const char *err = NULL;
    recon_msg_t m;
    size_t flen, n;

    for (int i = 0; i < 6; i++)
        unhex(SV[i], sv[i], sizeof(sv[i]));
    hash("50ED94C61884E160D6F8C91DA546C429", h[0]);
    hash("B01DB9A46CE7264D3DCD64479010D335", h[1]);
    hash("84D77DC5D86163BC803AD2CD5C789E99", h[2]);
    hash("D6098F23D29F7D3D776892775ADDBE3C", h[3]);

    /* ---- encoders, byte-exact */
    ok(recon_enc_poly(&b, NULL, 0, 4, (const uint8_t (*)[17]) sv) == 0
        && buf_is(&b, "0000007700000000000000000000000004000000060eb98df4e065bcf025c35387de4e2c7e01df2712d4b7ce07366ba920a6b20176330176d6b932cb5d1433a958188daca5fa3100a5a0d3080d10f1cd3f02c7ca22881f5900c4cbf9e844d0738dcdd2c76cd06ef0f4004fe403fb7627924c4ae4195e0dbd8d8501"),
        "ReconRqst_Poly root frame");
    n = rbuf_avail(&b);
    memcpy(frame, rbuf_data(&b), n);
    ok(recon_frame_check(frame, n, &flen, &err) == 1 && flen == n, "frame complete");
    ok(recon_frame_check(frame, n - 1, &flen, &err) == 0, "frame short by one: incomplete");
    ok(recon_msg_parse(frame, n, &m, &err) == 0 && m.type == RECON_MSG_POLY
        && m.nbits == 0 && m.size == 4 && memcmp(m.sv, sv, sizeof(sv)) == 0,
        "Poly decodes");
    recon_msg_free(&m);
    rbuf_free(&b);

    {
        uint8_t pfx[1] = { 0x40 }, two[2][HKP_HASH_LEN];
        memcpy(two[0], h[0], HKP_HASH_LEN);
        memcpy(two[1], h[2], HKP_HASH_LEN);
        ok(recon_enc_full(&b, pfx, 2, (const hkp_hash_t *) two, 2) == 0
            && buf_is(&b, "00000030010000000200000001400000000250ed94c61884e160d6f8c91da546c4290084d77dc5d86163bc803ad2cd5c789e9900"),
            "ReconRqst_Full frame");
        n = rbuf_avail(&b);
        memcpy(frame, rbuf_data(&b), n);
        ok(recon_msg_parse(frame, n, &m, &err) == 0 && m.type == RECON_MSG_FULL
            && m.nbits == 2 && m.prefix[0] == 0x40 && m.nset == 2
            && memcmp(m.set[1], h[2], HKP_HASH_LEN) == 0, "Full decodes");
        recon_msg_free(&m);
        rbuf_free(&b);
    }
    ok(recon_enc_set(&b, RECON_MSG_ELEMENTS, (const hkp_hash_t *) h[3], 1) == 0
        && buf_is(&b, "000000160200000001d6098f23d29f7d3d776892775addbe3c00"), "Elements({k4})");
    rbuf_free(&b);
    ok(recon_enc_set(&b, RECON_MSG_ELEMENTS, NULL, 0) == 0 && buf_is(&b, "000000050200000000"), "Elements({})");
    rbuf_free(&b);
    ok(recon_enc_set(&b, RECON_MSG_FULLELEMENTS, NULL, 0) == 0 && buf_is(&b, "000000050300000000"), "FullElements({})");
    rbuf_free(&b);
    {
        /* A frame encoded while earlier output is partly sent: the buffer
         * compacts in the middle of the frame, and the length word must
         * still land at the frame's start. */
        static uint8_t junk[3000], many[200][HKP_HASH_LEN];
        memset(junk, 0xAA, sizeof(junk));
        for (size_t i = 0; i < 200; i++)
            memset(many[i], (int) i, 16);
        int good = rbuf_put(&b, junk, sizeof(junk)) == 0;
        rbuf_consume(&b, 2500);
        good = good && recon_enc_set(&b, RECON_MSG_ELEMENTS,
            (const hkp_hash_t *) many, 200) == 0;
        const uint8_t *d = rbuf_data(&b);
        size_t flen = 0;
        const char *err = NULL;
        good = good && rbuf_avail(&b) == 500 + 4 + 1 + 4 + 200 * 17
            && d[0] == 0xAA && d[499] == 0xAA
            && recon_get_u32(d + 500) == 1 + 4 + 200 * 17
            && d[504] == RECON_MSG_ELEMENTS
            && recon_frame_check(d + 500, rbuf_avail(&b) - 500, &flen, &err) == 1;
        ok(good, "frame stays intact when the buffer compacts under it");
        rbuf_free(&b);
    }
    {
        /* An Elements frame for an empty peer carries every key: over
         * RECON_MAX_FRAME (4 MiB) is allowed up to the elements ceiling,
         * and one over the ceiling is refused before anything is read. */
        size_t n = 300000;
        hkp_hash_t *big = calloc(n, HKP_HASH_LEN);
        const uint8_t *d;
        ok(big != NULL && recon_enc_set(&b, RECON_MSG_ELEMENTS,
            (const hkp_hash_t *) big, n) == 0, "Elements of 300000 (5.1 MB) encodes");
        d = rbuf_data(&b);
        ok(rbuf_avail(&b) == 4 + RECON_SET_FRAME_LEN(n)
            && recon_get_u32(d) == RECON_SET_FRAME_LEN(n)
            && recon_get_u32(d + 5) == n, "with its length word and count");
        rbuf_free(&b);
        ok(recon_enc_set(&b, RECON_MSG_ELEMENTS, (const hkp_hash_t *) big,
            (size_t) RECON_MAX_ELEMENTS_CEIL + 1) == -1 && rbuf_avail(&b) == 0,
            "a set over RECON_MAX_ELEMENTS_CEIL is refused, nothing left behind");
        rbuf_free(&b);
        free(big);
    }
    ok(recon_enc_empty(&b, RECON_MSG_SYNCFAIL) == 0 && buf_is(&b, "0000000104"), "SyncFail");
    rbuf_free(&b);
    ok(recon_enc_empty(&b, RECON_MSG_DONE) == 0 && buf_is(&b, "0000000105"), "Done");
    rbuf_free(&b);
    ok(recon_enc_empty(&b, RECON_MSG_FLUSH) == 0 && buf_is(&b, "0000000106"), "Flush");
    rbuf_free(&b);
    ok(recon_enc_error(&b, "x") == 0 && buf_is(&b, "00000006070000000178"), "Error('x')");
    n = rbuf_avail(&b);
    memcpy(frame, rbuf_data(&b), n);
    ok(recon_msg_parse(frame, n, &m, &err) == 0 && m.type == RECON_MSG_ERROR
        && strcmp(m.text, "x") == 0, "Error decodes");
    recon_msg_free(&m);
    rbuf_free(&b);
    ok(recon_enc_verdict(&b, NULL) == 0 && buf_is(&b, "00000006706173736564"), "verdict passed");
    rbuf_free(&b);
    ok(recon_enc_verdict(&b, "mbar values do not match") == 0
        && buf_is(&b, "000000066661696c6564000000186d6261722076616c75657320646f206e6f74206d61746368"),
        "verdict failed + reason");
    {
        int passed = -1;
        char reason[100];
        size_t used;
        n = rbuf_avail(&b);
        memcpy(frame, rbuf_data(&b), n);
        ok(recon_verdict_parse(frame, n - 1, &used, &passed, reason, sizeof(reason), &err) == 0,
            "verdict incomplete");
        ok(recon_verdict_parse(frame, n, &used, &passed, reason, sizeof(reason), &err) == 1
            && used == n && passed == 0 && strcmp(reason, "mbar values do not match") == 0,
            "verdict failed parses");
        ok(recon_verdict_parse((const uint8_t *) "\xff\xff\xff\xff", 4, &used, &passed,
            reason, sizeof(reason), &err) == -1, "huge verdict refused");
    }
    rbuf_free(&b);

    /* ---- Config, byte-exact against SKS's */
    ok(recon_enc_config(&b, 21371) == 0 && buf_is(&b,
        "0000007e0a00000005"
        "0000000a6269747175616e74756d0000000400000002"
        "0000000766696c746572730000001b796d696e736b792e64656475702c796d696e736b792e6d65726765"
        "000000096874747020706f7274000000040000537b"
        "000000046d6261720000000400000005"
        "0000000776657273696f6e00000005312e312e36"), "Config frame = SKS's");
    {
        recon_config_t c;
        char reason[512];
        n = rbuf_avail(&b);
        memcpy(frame, rbuf_data(&b), n);
        ok(recon_config_parse(frame, n, &c, &err) == 0 && c.http_port == 21371
            && c.http_port_ok && recon_config_check(&c, reason, sizeof(reason)) == NULL,
            "own Config accepted");
        ok(recon_msg_parse(frame, n, &m, &err) == -1, "Config is no session message");
        c.mbar = 6;
        is_str(recon_config_check(&c, reason, sizeof(reason)), "mbar values do not match", "mbar");
        c.mbar = 5;
        c.bitquantum = 3;
        is_str(recon_config_check(&c, reason, sizeof(reason)), "bitquantum values do not match", "bitquantum");
        c.bitquantum = 2;
        c.mbar_ok = 0;
        is_str(recon_config_check(&c, reason, sizeof(reason)), "Error parsing configdata: End_of_file", "text mbar");
        c.mbar_ok = 1;
        strcpy(c.filters, "yminsky.dedup");
        c.filters_len = strlen(c.filters);
        is_str(recon_config_check(&c, reason, sizeof(reason)),
            "filters do not match.\n\tlocal filters: [ yminsky.dedup yminsky.merge ]\n\tremote filters: [ yminsky.dedup ]",
            "filters");
        strcpy(c.filters, "yminsky.merge,yminsky.dedup,yminsky.merge");
        c.filters_len = strlen(c.filters);
        ok(recon_config_check(&c, reason, sizeof(reason)) == NULL, "filters: order and duplicates ignored");
        const char *bad[][2] = {
            { "1.1.6+", "Error parsing configdata: Failure(\"int_of_string\")" },
            { "1.1.6.1", "Error parsing configdata: Failure(\"int_of_string\")" },
            { "1.2", "Error parsing configdata: Invalid_argument(\"index out of bounds\")" },
            { "0.1.4", "Requires version at least 0.1.5.  0.1.4 provided " } };
        for (size_t i = 0; i < 4; i++) {
            strcpy(c.version, bad[i][0]);
            c.version_len = strlen(c.version);
            is_str(recon_config_check(&c, reason, sizeof(reason)), bad[i][1], bad[i][0]);
        }
        strcpy(c.version, "0.1.5");
        c.version_len = 5;
        ok(recon_config_check(&c, reason, sizeof(reason)) == NULL, "0.1.5 accepted");
        c.has_mbar = 0;
        is_str(recon_config_check(&c, reason, sizeof(reason)), "Missing entry in configdata", "missing mbar");
    }
    rbuf_free(&b);
    {   /* extra keys ignored, later duplicate wins */
        const char *keys[] = { "mbar", "bitquantum", "filters", "extra", "version", "mbar" };
        const uint8_t *vals[] = { (const uint8_t *) "\0\0\0\6", (const uint8_t *) "\0\0\0\2",
            (const uint8_t *) RECON_FILTERS, (const uint8_t *) "zz", (const uint8_t *) "1.1.6",
            (const uint8_t *) "\0\0\0\5" };
        size_t lens[] = { 4, 4, strlen(RECON_FILTERS), 2, 5, 4 };
        recon_config_t c;
        char reason[256];
        ok(recon_enc_config_pairs(&b, 6, keys, vals, lens) == 0
            && recon_config_parse(rbuf_data(&b), rbuf_avail(&b), &c, &err) == 0
            && recon_config_check(&c, reason, sizeof(reason)) == NULL && !c.has_http_port,
            "extra key ignored, later mbar wins, no http port");
        rbuf_free(&b);
    }

    /* ---- hostile input */
    ok(recon_frame_check((const uint8_t *) "\xff\xff\xff\xff\x02", 5, &flen, &err) == -1,
        "huge length refused");
    ok(recon_frame_check((const uint8_t *) "\0\0\0\0", 4, &flen, &err) == -1, "zero length refused");
    n = unhex("000000160200000001d6098f23d29f7d3d776892775addbe3c01", frame, sizeof(frame));
    ok(recon_msg_parse(frame, n, &m, &err) == -1, "element with 17th byte set refused (%s)", err);
    n = unhex("00000009020000ffff00000000", frame, sizeof(frame));
    ok(recon_msg_parse(frame, n, &m, &err) == -1, "set count past the frame refused");
    n = unhex("0000000c0b0000000000000000000000", frame, sizeof(frame));
    ok(recon_msg_parse(frame, 16, &m, &err) == -1, "unknown type refused");
    n = unhex("0000000108", frame, sizeof(frame));
    ok(recon_msg_parse(frame, n, &m, &err) == -1, "DbRqst refused");
    n = unhex("000000060500000000", frame, sizeof(frame));
    ok(recon_msg_parse(frame, 10, &m, &err) == -1, "trailing bytes refused");
    /* Poly with a sample value = p */
    ok(recon_enc_poly(&b, NULL, 0, 1, (const uint8_t (*)[17]) sv) == 0, "poly built");
    n = rbuf_avail(&b);
    memcpy(frame, rbuf_data(&b), n);
    unhex("1b43a530d9851fc9df1f8b87e4101d8f01", frame + 4 + 1 + 8 + 8, 17);
    ok(recon_msg_parse(frame, n, &m, &err) == -1, "svalue = p refused");
    unhex("1a43a530d9851fc9df1f8b87e4101d8f01", frame + 4 + 1 + 8 + 8, 17);
    ok(recon_msg_parse(frame, n, &m, &err) == 0, "svalue = p-1 accepted");
    recon_msg_free(&m);
    rbuf_free(&b);
    n = unhex("0000000d0000000003000000010000000000", frame, sizeof(frame));
    ok(recon_msg_parse(frame, n, &m, &err) == -1, "prefix nbytes mismatch refused");
    {
        char s[8];
        uint8_t p = 0x40;
        recon_prefix_str(&p, 4, s);
        is_str(s, "0100", "prefix text");
    }
    return tap_done();
}
