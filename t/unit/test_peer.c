/*
 * Unit tests for shared/peer.c: the peer-status record (its byte layout,
 * encode/decode round trip at the field limits, every way a stored value
 * is refused, random bytes), the peer name, and the meta database
 * functions (put, get, a missing and a bad value, the walk over all
 * records and nothing else). Uses a temporary environment (mkdtemp).
 *
 * Usage: test_peer
 * Env:   TMPDIR (default /tmp).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include "util.h"
#include "peer.h"
#include "store.h"

#define MAPSIZE     ((size_t) 16 * 1024 * 1024)
#define RANDOM_RUNS 20000

static char tmpdir[4096];

static void
sample(hkp_peer_t *p)
{
    memset(p, 0, sizeof(*p));
    p->time = 1700000000;
    p->we_miss = 12;
    p->they_miss = 3;
    p->fetched = 11;
    p->duration_us = 840000;
    p->sessions_ok = 7;
    p->sessions_failed = 2;
    p->fetched_total = 1234;
    p->last_ok = 1699999000;
    p->flags = HKP_PEER_HAS_ALL;
    hkp_peer_set_text(p, "initiator", "sks", "ok");
}

static int
same(const hkp_peer_t *a, const hkp_peer_t *b)
{
    return a->time == b->time && a->we_miss == b->we_miss
        && a->they_miss == b->they_miss && a->fetched == b->fetched
        && a->duration_us == b->duration_us && a->flags == b->flags
        && a->sessions_ok == b->sessions_ok
        && a->sessions_failed == b->sessions_failed
        && a->fetched_total == b->fetched_total && a->last_ok == b->last_ok
        && a->fetch_total == b->fetch_total && a->fetch_done == b->fetch_done
        && a->fetch_rate == b->fetch_rate && a->fetch_queue == b->fetch_queue
        && a->role_len == b->role_len && a->outcome_len == b->outcome_len
        && a->profile_len == b->profile_len
        && memcmp(a->role, b->role, a->role_len + 1) == 0
        && memcmp(a->profile, b->profile, a->profile_len + 1) == 0
        && memcmp(a->outcome, b->outcome, a->outcome_len + 1) == 0;
}

static void
test_layout(void)
{
    hkp_peer_t p, q;
    uint8_t rec[HKP_PEER_RECORD_LEN];
    static const uint8_t head[] = {
        'H', 'K', 'P', 'S', 2, 9, 0x00, 0x3f,
        0, 0, 0, 0, 0x65, 0x53, 0xf1, 0x00,             /* 1700000000 */
        0, 0, 0, 0, 0, 0, 0, 12,
        0, 0, 0, 0, 0, 0, 0, 3,
        0, 0, 0, 0, 0, 0, 0, 11,
        0, 0, 0, 0, 0, 0x0c, 0xd1, 0x40,                /* 840000 */
        0, 2, 3, 0
    };

    sample(&p);
    is_int(hkp_peer_encode(&p, rec), 0, "encode");
    ok(memcmp(rec, head, sizeof(head)) == 0, "header bytes, big-endian");
    ok(memcmp(rec + 52, "initiator\0\0\0\0\0\0\0", 16) == 0,
        "role at 52, zero-padded");
    ok(memcmp(rec + 68, "sks\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0,
        "profile at 68, zero-padded");
    ok(memcmp(rec + 84, "ok\0", 3) == 0
        && rec[HKP_PEER_RECORD_V1_LEN - 1] == 0,
        "outcome at 84, zero-padded");
    ok(rec[340 + 7] == 7 && rec[348 + 7] == 2 && rec[356 + 6] == 0x04
        && rec[356 + 7] == 0xd2, "version 2 counters at 340, 348, 356");
    is_int(hkp_peer_decode(rec, sizeof(rec), &q), 0, "decode");
    ok(same(&p, &q), "round trip");
    p.flags |= HKP_PEER_HAS_FETCH;
    p.fetch_total = 50000;
    p.fetch_done = 1000;
    p.fetch_rate = 900;
    p.fetch_queue = 49000;
    is_int(hkp_peer_encode(&p, rec), 0, "encode a fetch in progress");
    ok(rec[7] == 0x7f && rec[396 + 7] == (49000 & 0xff), "fetch fields");
    is_int(hkp_peer_decode(rec, sizeof(rec), &q), 0, "decode it");
    ok(same(&p, &q), "round trip with a fetch in progress");

    /* a version 1 record (340 bytes) is still read: new fields 0 */
    sample(&p);
    hkp_peer_encode(&p, rec);
    rec[4] = 1;
    rec[7] = 0x1f;
    is_int(hkp_peer_decode(rec, HKP_PEER_RECORD_V1_LEN, &q), 0,
        "a version 1 record is read");
    ok(q.fetched == 11 && q.sessions_ok == 0 && q.fetched_total == 0
        && q.flags == 0x1f, "  with the version 2 fields 0");
    rec[7] = 0x3f;
    is_int(hkp_peer_decode(rec, HKP_PEER_RECORD_V1_LEN, &q), HKP_EPEERREC,
        "  but not with a version 2 flag");
    rec[7] = 0x1f;
    is_int(hkp_peer_decode(rec, HKP_PEER_RECORD_LEN, &q), HKP_EPEERREC,
        "  nor at version 2's length");
}

static void
test_limits(void)
{
    hkp_peer_t p, q;
    uint8_t rec[HKP_PEER_RECORD_LEN];
    char role[HKP_PEER_ROLE_MAX + 10], out[HKP_PEER_OUTCOME_MAX + 10];
    char prof[HKP_PEER_PROFILE_MAX + 10];

    memset(role, 'r', sizeof(role) - 1);
    role[sizeof(role) - 1] = '\0';
    memset(prof, 'p', sizeof(prof) - 1);
    prof[sizeof(prof) - 1] = '\0';
    memset(out, 0xff, sizeof(out) - 1);
    out[sizeof(out) - 1] = '\0';
    memset(&p, 0, sizeof(p));
    p.time = HKP_PEER_MAX_TIME;
    p.we_miss = p.they_miss = p.fetched = p.duration_us = UINT64_MAX;
    p.flags = HKP_PEER_HAS_ALL;
    hkp_peer_set_text(&p, role, prof, out);
    ok(p.role_len == HKP_PEER_ROLE_MAX && p.outcome_len
        == HKP_PEER_OUTCOME_MAX && p.profile_len == HKP_PEER_PROFILE_MAX,
        "set_text cuts at the field sizes");
    is_int(hkp_peer_encode(&p, rec), 0, "encode every field at its limit");
    is_int(hkp_peer_decode(rec, sizeof(rec), &q), 0, "decode it");
    ok(same(&p, &q), "round trip at the limits");

    memset(&p, 0, sizeof(p));
    is_int(hkp_peer_encode(&p, rec), 0, "encode an empty record");
    is_int(hkp_peer_decode(rec, sizeof(rec), &q), 0, "decode it");
    ok(same(&p, &q) && q.role[0] == '\0', "round trip, empty strings");

    sample(&p);
    p.time = HKP_PEER_MAX_TIME + 1;
    is_int(hkp_peer_encode(&p, rec), HKP_EINVAL, "encode: time over");
    sample(&p);
    p.flags = 0x80;
    is_int(hkp_peer_encode(&p, rec), HKP_EINVAL, "encode: bad flag");
    sample(&p);
    p.role_len = HKP_PEER_ROLE_MAX + 1;
    is_int(hkp_peer_encode(&p, rec), HKP_EINVAL, "encode: role over");
    sample(&p);
    p.profile_len = HKP_PEER_PROFILE_MAX + 1;
    is_int(hkp_peer_encode(&p, rec), HKP_EINVAL, "encode: profile over");
    sample(&p);
    p.outcome_len = HKP_PEER_OUTCOME_MAX + 1;
    is_int(hkp_peer_encode(&p, rec), HKP_EINVAL,
        "encode: outcome over");
}

/* A sample record with one change; decode must refuse it. */
static void
refused(const char *what, size_t off, uint8_t byte)
{
    hkp_peer_t p, q;
    uint8_t rec[HKP_PEER_RECORD_LEN];

    sample(&p);
    hkp_peer_encode(&p, rec);
    rec[off] = byte;
    q.time = 1;
    ok(hkp_peer_decode(rec, sizeof(rec), &q) == HKP_EPEERREC && q.time == 0
        && q.outcome_len == 0, "decode refuses %s", what);
}

static void
test_refused(void)
{
    hkp_peer_t p, q;
    uint8_t rec[HKP_PEER_RECORD_LEN + 1];

    sample(&p);
    hkp_peer_encode(&p, rec);
    rec[HKP_PEER_RECORD_LEN] = 0;
    is_int(hkp_peer_decode(rec, HKP_PEER_RECORD_LEN - 1, &q), HKP_EPEERREC,
        "decode refuses one byte short");
    is_int(hkp_peer_decode(rec, HKP_PEER_RECORD_LEN + 1, &q), HKP_EPEERREC,
        "decode refuses one byte more");
    is_int(hkp_peer_decode(NULL, HKP_PEER_RECORD_LEN, &q), HKP_EPEERREC,
        "decode refuses NULL");
    is_int(hkp_peer_decode("{\"time\":1700000000,\"outcome\":\"ok\"}", 34,
        &q), HKP_EPEERREC, "decode refuses the old JSON text");
    refused("another magic", 3, 'X');
    refused("version 0", 4, 0);
    refused("version 3", 4, 3);
    refused("a role over its field", 5, HKP_PEER_ROLE_MAX + 1);
    refused("an unknown flag", 7, 0xff);
    refused("an unknown high flag", 6, 0x01);
    refused("a time over HKP_PEER_MAX_TIME", 8, 0x01);
    refused("an outcome over its field", 48, 0x01);
    refused("a profile over its field", 50, HKP_PEER_PROFILE_MAX + 1);
    refused("a non-zero reserved byte", 51, 1);
    refused("a role pad byte", 52 + 9, 'x');
    refused("a profile pad byte", 68 + 3, 'x');
    refused("an outcome pad byte", HKP_PEER_RECORD_V1_LEN - 1, 'x');

    /* the last second accepted, and the one after */
    sample(&p);
    p.time = HKP_PEER_MAX_TIME;
    hkp_peer_encode(&p, rec);
    is_int(hkp_peer_decode(rec, HKP_PEER_RECORD_LEN, &q), 0,
        "time HKP_PEER_MAX_TIME accepted");
    rec[15]++;
    is_int(hkp_peer_decode(rec, HKP_PEER_RECORD_LEN, &q), HKP_EPEERREC,
        "one second more refused");
}

static void
test_random(void)
{
    uint8_t buf[HKP_PEER_RECORD_LEN + 8], rec[HKP_PEER_RECORD_LEN];
    hkp_peer_t p;
    size_t accepted = 0, mismatched = 0, runs;

    rng_state = 0x9e3779b97f4a7c15ULL;
    for (runs = 0; runs < RANDOM_RUNS; runs++) {
        size_t len = runs % 3 == 0 ? (size_t) (rnd64() % sizeof(buf))
            : HKP_PEER_RECORD_LEN;
        for (size_t i = 0; i < len; i++)
            buf[i] = (uint8_t) rnd64();
        if (runs % 2 == 0 && len >= 8) {     /* often a plausible header */
            memcpy(buf, HKP_PEER_MAGIC, 4);
            buf[4] = HKP_PEER_VERSION;
            buf[5] %= HKP_PEER_ROLE_MAX + 1;
            buf[6] = 0;
            buf[7] &= HKP_PEER_FLAGS;
            if (len > 52) {
                buf[8] = buf[9] = buf[10] = 0, buf[48] = 0;
                buf[50] %= HKP_PEER_PROFILE_MAX + 1;
                buf[51] = 0;
            }
            if (len == HKP_PEER_RECORD_LEN) {
                memset(buf + 52 + buf[5], 0, HKP_PEER_ROLE_MAX - buf[5]);
                memset(buf + 68 + buf[50], 0,
                    HKP_PEER_PROFILE_MAX - buf[50]);
                memset(buf + 84 + buf[49], 0,
                    HKP_PEER_OUTCOME_MAX - buf[49]);
            }
        }
        if (hkp_peer_decode(buf, len, &p) != 0)
            continue;
        accepted++;
        if (len != HKP_PEER_RECORD_LEN || hkp_peer_encode(&p, rec) != 0
            || memcmp(rec, buf, sizeof(rec)) != 0)
            mismatched++;
    }
    ok(accepted > 0, "random bytes: %zu of %d accepted", accepted,
        RANDOM_RUNS);
    is_int((long long) mismatched, 0,
        "every accepted value re-encodes to the same bytes");
}

static void
test_name(void)
{
    char name[HKP_PEER_NAME_MAX + 1], host[HKP_MEMBERSHIP_MAX_HOST + 2];
    size_t n;

    n = hkp_peer_name(name, "keys.example.net", 16, 11370);
    ok(n == 22 && strcmp(name, "keys.example.net 11370") == 0,
        "name \"host port\"");
    memset(host, 'h', sizeof(host));
    n = hkp_peer_name(name, host, HKP_MEMBERSHIP_MAX_HOST, 65535);
    ok(n == HKP_PEER_NAME_MAX && name[n] == '\0'
        && strcmp(name + HKP_MEMBERSHIP_MAX_HOST, " 65535") == 0,
        "the longest name fits HKP_PEER_NAME_MAX");
    is_int((long long) hkp_peer_name(name, host, HKP_MEMBERSHIP_MAX_HOST + 1,
        1), 0, "a host over HKP_MEMBERSHIP_MAX_HOST: 0");
    is_int((long long) hkp_peer_name(name, "h", 1, 0), 0, "port 0: 0");
    is_int((long long) hkp_peer_name(name, "h", 1, 65536), 0,
        "port 65536: 0");
}

typedef struct {
    size_t  n, nbad, stop_at;
    char    names[8][64];
} walk_t;

static int
walk(void *arg, const char *name, size_t len, const hkp_peer_t *p)
{
    walk_t *w = arg;
    if (w->n < 8)
        snprintf(w->names[w->n], sizeof(w->names[0]), "%.*s", (int) len,
            name);
    w->n++;
    if (p == NULL)
        w->nbad++;
    return w->stop_at != 0 && w->n == w->stop_at ? 42 : 0;
}

static void
test_db(const char *path)
{
    hkp_db_t db;
    MDB_txn *txn;
    hkp_peer_t p, q;
    char err[256];
    walk_t w;
    MDB_val k = { 13, "recon:junk 1" }, v = { 3, "bad" };
    MDB_val k2 = { 7, "recon;x" }, v2 = { 1, "x" };

    if (!ok(hkp_db_open(&db, path, 0, MAPSIZE, err, sizeof(err)) == 0,
        "open a store: %s", err))
        return;
    sample(&p);
    ok(mdb_txn_begin(db.env, NULL, 0, &txn) == 0, "write txn");
    is_int(hkp_db_peer_put(&db, txn, "b.example 2", 11, &p), 0, "put b");
    p.fetched = 99;
    hkp_peer_set_text(&p, "acceptor", NULL, "cut off: timeout");
    is_int(hkp_db_peer_put(&db, txn, "a.example 1", 11, &p), 0, "put a");
    is_int(hkp_db_peer_put(&db, txn, "", 0, &p), HKP_EINVAL,
        "put with an empty name: EINVAL");
    is_int(hkp_db_peer_put(&db, txn, err, HKP_PEER_NAME_MAX + 1, &p),
        HKP_EINVAL, "put with a name over HKP_PEER_NAME_MAX: EINVAL");
    p.flags = 0x80;
    is_int(hkp_db_peer_put(&db, txn, "c.example 3", 11, &p), HKP_EINVAL,
        "put of a bad record: EINVAL");
    k.mv_size = strlen(k.mv_data);
    ok(mdb_put(txn, db.meta, &k, &v, 0) == 0
        && mdb_put(txn, db.meta, &k2, &v2, 0) == 0,
        "a bad value, and a key just past the prefix");
    ok(mdb_txn_commit(txn) == 0, "commit");

    ok(hkp_db_rtxn(&db, &txn) == 0, "read txn");
    is_int(hkp_db_peer_get(&db, txn, "a.example 1", 11, &q), 0, "get a");
    ok(q.fetched == 99 && strcmp(q.role, "acceptor") == 0
        && q.profile_len == 0 && q.profile[0] == '\0'
        && strcmp(q.outcome, "cut off: timeout") == 0,
        "a as put (no profile)");
    sample(&p);
    is_int(hkp_db_peer_get(&db, txn, "b.example 2", 11, &q), 0, "get b");
    ok(same(&p, &q), "b as put");
    is_int(hkp_db_peer_get(&db, txn, "c.example 3", 11, &q), MDB_NOTFOUND,
        "get of a peer never put: MDB_NOTFOUND");
    is_int(hkp_db_peer_get(&db, txn, "junk 1", 6, &q), HKP_EPEERREC,
        "get of a bad value: EBAD");
    ok(q.time == 0 && q.outcome_len == 0, "and nothing in *p");

    memset(&w, 0, sizeof(w));
    is_int(hkp_db_peer_each(&db, txn, walk, &w), 0, "walk");
    ok(w.n == 3 && w.nbad == 1 && strcmp(w.names[0], "a.example 1") == 0
        && strcmp(w.names[1], "b.example 2") == 0
        && strcmp(w.names[2], "junk 1") == 0,
        "the 3 \"recon:\" entries in key order, the bad one as NULL");
    memset(&w, 0, sizeof(w));
    w.stop_at = 1;
    is_int(hkp_db_peer_each(&db, txn, walk, &w), 42,
        "the walk stops with the callback's value");
    is_int((long long) w.n, 1, "after one");
    mdb_txn_abort(txn);
    hkp_db_close(&db);

    is_str(hkp_strerror(HKP_EPEERREC),
        "stored peer status is not a record of this version",
        "strerror EBAD");
    is_str(hkp_strerror(MDB_NOTFOUND), mdb_strerror(MDB_NOTFOUND),
        "strerror of an MDB code");
}

int
main(void)
{
    const char *td = getenv("TMPDIR");
    char        path[4200];

    test_layout();
    test_limits();
    test_refused();
    test_random();
    test_name();
    snprintf(tmpdir, sizeof(tmpdir), "%s/hkp-test-peer.XXXXXX",
        td && *td ? td : "/tmp");
    if (ok(mkdtemp(tmpdir) != NULL, "mkdtemp")) {
        snprintf(path, sizeof(path), "%s/db", tmpdir);
        test_db(path);
        rm_tree(tmpdir);
        ok(access(tmpdir, F_OK) != 0, "temp dir removed");
    }
    return tap_done();
}
