/*
 * The per-peer status record (peer.h).
 */
#include <stdio.h>
#include <string.h>

#include "peer.h"
#include "bytes.h"

#define OFF_MAGIC     0
#define OFF_VERSION   4
#define OFF_ROLE_LEN  5
#define OFF_FLAGS     6
#define OFF_TIME      8
#define OFF_WE_MISS   16
#define OFF_THEY_MISS 24
#define OFF_FETCHED   32
#define OFF_DURATION  40
#define OFF_OUT_LEN   48
#define OFF_PROF_LEN  50
#define OFF_ZERO      51
#define OFF_ROLE      52
#define OFF_PROFILE   (OFF_ROLE + HKP_PEER_ROLE_MAX)
#define OFF_OUTCOME   (OFF_PROFILE + HKP_PEER_PROFILE_MAX)
#define OFF_V2        (OFF_OUTCOME + HKP_PEER_OUTCOME_MAX)
#define OFF_SESS_OK   (OFF_V2 + 0)
#define OFF_SESS_FAIL (OFF_V2 + 8)
#define OFF_FET_TOTAL (OFF_V2 + 16)
#define OFF_LAST_OK   (OFF_V2 + 24)
#define OFF_FJ_TOTAL  (OFF_V2 + 32)
#define OFF_FJ_DONE   (OFF_V2 + 40)
#define OFF_FJ_RATE   (OFF_V2 + 48)
#define OFF_FJ_QUEUE  (OFF_V2 + 56)

_Static_assert(OFF_V2 == HKP_PEER_RECORD_V1_LEN
    && OFF_FJ_QUEUE + 8 == HKP_PEER_RECORD_LEN, "peer record layout");
_Static_assert(HKP_PEER_ROLE_MAX <= 255 && HKP_PEER_PROFILE_MAX <= 255
    && HKP_PEER_OUTCOME_MAX <= 65535,
    "peer record length fields");

static void
set_text(char *dst, size_t *dlen, size_t max, const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n > max)
        n = max;
    memcpy(dst, s != NULL ? s : "", n);
    dst[n] = '\0';
    *dlen = n;
}

void
hkp_peer_set_text(hkp_peer_t *p, const char *role, const char *profile,
    const char *outcome)
{
    set_text(p->role, &p->role_len, HKP_PEER_ROLE_MAX, role);
    set_text(p->profile, &p->profile_len, HKP_PEER_PROFILE_MAX, profile);
    set_text(p->outcome, &p->outcome_len, HKP_PEER_OUTCOME_MAX, outcome);
}

int
hkp_peer_encode(const hkp_peer_t *p, uint8_t *out)
{
    if (p->role_len > HKP_PEER_ROLE_MAX
        || p->profile_len > HKP_PEER_PROFILE_MAX
        || p->outcome_len > HKP_PEER_OUTCOME_MAX
        || p->time > HKP_PEER_MAX_TIME || (p->flags & ~HKP_PEER_FLAGS))
        return HKP_EINVAL;
    memset(out, 0, HKP_PEER_RECORD_LEN);
    memcpy(out + OFF_MAGIC, HKP_PEER_MAGIC, 4);
    out[OFF_VERSION] = HKP_PEER_VERSION;
    out[OFF_ROLE_LEN] = (uint8_t) p->role_len;
    out[OFF_FLAGS] = (uint8_t) (p->flags >> 8);
    out[OFF_FLAGS + 1] = (uint8_t) p->flags;
    hkp_put_be64(out + OFF_TIME, p->time);
    hkp_put_be64(out + OFF_WE_MISS, p->we_miss);
    hkp_put_be64(out + OFF_THEY_MISS, p->they_miss);
    hkp_put_be64(out + OFF_FETCHED, p->fetched);
    hkp_put_be64(out + OFF_DURATION, p->duration_us);
    out[OFF_OUT_LEN] = (uint8_t) (p->outcome_len >> 8);
    out[OFF_OUT_LEN + 1] = (uint8_t) p->outcome_len;
    out[OFF_PROF_LEN] = (uint8_t) p->profile_len;
    memcpy(out + OFF_ROLE, p->role, p->role_len);
    memcpy(out + OFF_PROFILE, p->profile, p->profile_len);
    memcpy(out + OFF_OUTCOME, p->outcome, p->outcome_len);
    hkp_put_be64(out + OFF_SESS_OK, p->sessions_ok);
    hkp_put_be64(out + OFF_SESS_FAIL, p->sessions_failed);
    hkp_put_be64(out + OFF_FET_TOTAL, p->fetched_total);
    hkp_put_be64(out + OFF_LAST_OK, p->last_ok);
    hkp_put_be64(out + OFF_FJ_TOTAL, p->fetch_total);
    hkp_put_be64(out + OFF_FJ_DONE, p->fetch_done);
    hkp_put_be64(out + OFF_FJ_RATE, p->fetch_rate);
    hkp_put_be64(out + OFF_FJ_QUEUE, p->fetch_queue);
    return 0;
}

static int
all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

int
hkp_peer_decode(const void *buf, size_t len, hkp_peer_t *p)
{
    const uint8_t *b = buf;
    size_t rl, pl, ol;
    unsigned known;

    memset(p, 0, sizeof(*p));
    if (buf == NULL || len < 4 + 1
        || memcmp(b + OFF_MAGIC, HKP_PEER_MAGIC, 4) != 0)
        return HKP_EPEERREC;
    if (b[OFF_VERSION] == HKP_PEER_VERSION && len == HKP_PEER_RECORD_LEN)
        known = HKP_PEER_FLAGS;
    else if (b[OFF_VERSION] == HKP_PEER_VERSION_1
        && len == HKP_PEER_RECORD_V1_LEN)
        known = HKP_PEER_HAS_ALL_V1;
    else
        return HKP_EPEERREC;
    rl = b[OFF_ROLE_LEN];
    pl = b[OFF_PROF_LEN];
    ol = (size_t) b[OFF_OUT_LEN] << 8 | b[OFF_OUT_LEN + 1];
    p->flags = (unsigned) b[OFF_FLAGS] << 8 | b[OFF_FLAGS + 1];
    p->time = hkp_get_be64(b + OFF_TIME);
    if (rl > HKP_PEER_ROLE_MAX || pl > HKP_PEER_PROFILE_MAX
        || ol > HKP_PEER_OUTCOME_MAX || b[OFF_ZERO] != 0
        || (p->flags & ~known) || p->time > HKP_PEER_MAX_TIME
        || !all_zero(b + OFF_ROLE + rl, HKP_PEER_ROLE_MAX - rl)
        || !all_zero(b + OFF_PROFILE + pl, HKP_PEER_PROFILE_MAX - pl)
        || !all_zero(b + OFF_OUTCOME + ol, HKP_PEER_OUTCOME_MAX - ol))
    {
        memset(p, 0, sizeof(*p));
        return HKP_EPEERREC;
    }
    p->we_miss = hkp_get_be64(b + OFF_WE_MISS);
    p->they_miss = hkp_get_be64(b + OFF_THEY_MISS);
    p->fetched = hkp_get_be64(b + OFF_FETCHED);
    p->duration_us = hkp_get_be64(b + OFF_DURATION);
    if (len == HKP_PEER_RECORD_LEN) {
        p->sessions_ok = hkp_get_be64(b + OFF_SESS_OK);
        p->sessions_failed = hkp_get_be64(b + OFF_SESS_FAIL);
        p->fetched_total = hkp_get_be64(b + OFF_FET_TOTAL);
        p->last_ok = hkp_get_be64(b + OFF_LAST_OK);
        p->fetch_total = hkp_get_be64(b + OFF_FJ_TOTAL);
        p->fetch_done = hkp_get_be64(b + OFF_FJ_DONE);
        p->fetch_rate = hkp_get_be64(b + OFF_FJ_RATE);
        p->fetch_queue = hkp_get_be64(b + OFF_FJ_QUEUE);
    }
    p->role_len = rl;
    memcpy(p->role, b + OFF_ROLE, rl);
    p->role[rl] = '\0';
    p->profile_len = pl;
    memcpy(p->profile, b + OFF_PROFILE, pl);
    p->profile[pl] = '\0';
    p->outcome_len = ol;
    memcpy(p->outcome, b + OFF_OUTCOME, ol);
    p->outcome[ol] = '\0';
    return 0;
}

size_t
hkp_peer_name(char *out, const char *host, size_t host_len, unsigned port)
{
    int n;

    if (host_len > HKP_MEMBERSHIP_MAX_HOST || port == 0
        || port > HKP_MEMBERSHIP_MAX_PORT)
    {
        out[0] = '\0';
        return 0;
    }
    memcpy(out, host, host_len);
    n = snprintf(out + host_len, HKP_PEER_NAME_MAX + 1 - host_len, " %u",
        port);
    return host_len + (size_t) n;
}

/* meta key of name[0..len) into key[HKP_META_PEER_LEN + HKP_PEER_NAME_MAX] */
static int
peer_key(uint8_t *key, const char *name, size_t len, MDB_val *k)
{
    if (len == 0 || len > HKP_PEER_NAME_MAX)
        return HKP_EINVAL;
    memcpy(key, HKP_META_PEER, HKP_META_PEER_LEN);
    memcpy(key + HKP_META_PEER_LEN, name, len);
    k->mv_data = key;
    k->mv_size = HKP_META_PEER_LEN + len;
    return 0;
}

int
hkp_db_peer_put(hkp_db_t *db, MDB_txn *txn, const char *name, size_t len,
    const hkp_peer_t *p)
{
    uint8_t key[HKP_META_PEER_LEN + HKP_PEER_NAME_MAX];
    uint8_t rec[HKP_PEER_RECORD_LEN];
    MDB_val k, v = { sizeof(rec), rec };
    int rc;

    if ((rc = peer_key(key, name, len, &k)) != 0
        || (rc = hkp_peer_encode(p, rec)) != 0)
        return rc;
    return mdb_put(txn, db->meta, &k, &v, 0);
}

int
hkp_db_peer_get(hkp_db_t *db, MDB_txn *txn, const char *name, size_t len,
    hkp_peer_t *p)
{
    uint8_t key[HKP_META_PEER_LEN + HKP_PEER_NAME_MAX];
    MDB_val k, v;
    int rc;

    memset(p, 0, sizeof(*p));
    if ((rc = peer_key(key, name, len, &k)) != 0
        || (rc = mdb_get(txn, db->meta, &k, &v)) != 0)
        return rc;
    return hkp_peer_decode(v.mv_data, v.mv_size, p);
}

int
hkp_db_peer_each(hkp_db_t *db, MDB_txn *txn, hkp_peer_fn *fn, void *arg)
{
    MDB_cursor *cur;
    MDB_val k = { HKP_META_PEER_LEN, (void *) HKP_META_PEER }, v;
    hkp_peer_t p;
    int rc;

    if ((rc = mdb_cursor_open(txn, db->meta, &cur)) != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
    {
        if (k.mv_size < HKP_META_PEER_LEN
            || memcmp(k.mv_data, HKP_META_PEER, HKP_META_PEER_LEN) != 0)
            break;
        int ok = hkp_peer_decode(v.mv_data, v.mv_size, &p) == 0;
        if ((rc = fn(arg, (const char *) k.mv_data + HKP_META_PEER_LEN,
            k.mv_size - HKP_META_PEER_LEN, ok ? &p : NULL)) != 0)
        {
            mdb_cursor_close(cur);
            return rc;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}
