/*
 * op=stats / op=x-stats / /pks/stats (doc/hkp.md 3.6 [R]).
 *
 * HTML (default): SKS's section headings and rows (Settings, Gossip
 * Peers, Outgoing Mailsync Peers, Statistics with "Total number of keys:
 * N", Daily/Hourly Histogram tables) so old scrapers keep working; the key
 * count is live (meta "count"), not a daily snapshot.
 * JSON (options=mr or options=json): Hockeypuck's field names.
 *
 * Gossip peers: the membership file of hkp_membership (SKS format, the
 * file reconsvc reads), read on each stats request (a small file, capped;
 * missing = no peers), and per peer the last reconciliation that
 * reconsvc stored in meta "recon:<host> <port>" (reconsvc/loop.h). Those
 * values are not trusted: each is parsed as a flat JSON object, its known
 * fields are checked and re-emitted by us; anything else is "never".
 * Entries in meta whose peer is no longer in the file are not shown.
 *
 * Histograms: hkp_db_put() counts, per UTC hour, the keys it stored new
 * and the keys it updated by a merge in meta "hist:<hour>" (store.h); one
 * cursor scan in the stats read txn reads the last 7 days. The Daily
 * Histogram shows today and the 6 days before (UTC, today so far), the
 * Hourly Histogram the current hour and the 23 before, both newest first
 * and with every day/hour in that range, zeros included (a fixed number
 * of rows: a quiet hour is a fact, not a gap). JSON "daily"/"hourly" hold
 * the same rows, newest first, as Hockeypuck's {"Time" (the start of the
 * day/hour, RFC 3339 UTC), "Inserted", "Updated", "Removed"}; keys are
 * never removed here, so "Removed" is always 0.
 */
#include "ngx_hkp_module.h"


/* The membership file: bytes read, peers listed (reconsvc's own limit). */
#define NGX_HKP_MEMBERSHIP_MAX_SIZE   (64 * 1024)
#define NGX_HKP_MEMBERSHIP_MAX_PEERS  1000
#define NGX_HKP_MEMBERSHIP_MAX_HOST   255

/* meta key prefix of the per-peer status (RECON_META_PREFIX, loop.h) */
#define NGX_HKP_RECON_META_PREFIX     "recon:"
/* a stored status longer than this is not one reconsvc wrote */
#define NGX_HKP_RECON_MAX_VALUE       1024
/* longest JSON number text accepted for "duration" */
#define NGX_HKP_RECON_MAX_NUMBER      32
/* latest "time" accepted: 9999-12-31T23:59:59Z */
#define NGX_HKP_RECON_MAX_TIME        253402300799LL

/* histogram rows: days (today and before), hours (this one and before) */
#define NGX_HKP_HIST_DAYS             7
#define NGX_HKP_HIST_HOURS            24
/* hours read: from the start of the oldest day shown to now */
#define NGX_HKP_HIST_SPAN             (NGX_HKP_HIST_DAYS * 24)


/* The last reconciliation with a peer, as validated from meta. */
typedef struct {
    time_t       time;
    ngx_str_t    role;        /* len 0 = absent */
    ngx_str_t    profile;     /* hash profile used; len 0 = absent */
    ngx_str_t    outcome;
    ngx_str_t    duration;    /* a validated JSON number; len 0 = absent */
    uint64_t     we_miss;
    uint64_t     they_miss;
    uint64_t     fetched;
    unsigned     valid:1;
    unsigned     has_role:1;
    unsigned     has_we_miss:1;
    unsigned     has_they_miss:1;
    unsigned     has_fetched:1;
} ngx_hkp_recon_status_t;


typedef struct {
    ngx_str_t               host;    /* as in the file (UTF-8 checked) */
    ngx_uint_t              port;
    ngx_hkp_recon_status_t  last;
} ngx_hkp_peer_t;


typedef struct {
    ngx_str_t    hostname;
    ngx_str_t    nodename;
    ngx_str_t    contact;
    ngx_uint_t   http_port;
    ngx_uint_t   recon_port;
    uint64_t     count;
    time_t       now;
    ngx_array_t  peers;       /* of ngx_hkp_peer_t */
    /* hist[i]: {new, updated} in UTC hour hist_first + i (hours since the
     * epoch); hist_n hours, up to the current one; 0 = none (no data) */
    uint32_t     hist_first;
    ngx_uint_t   hist_n;
    uint64_t     hist[NGX_HKP_HIST_SPAN][2];
} ngx_hkp_stats_t;


/* ---- untrusted text ---- */

/*
 * Copies p[0..n) replacing every byte that is not part of a well-formed
 * UTF-8 sequence (RFC 3629: no overlongs, surrogates or values past
 * U+10FFFF), and every control character, with '?'. dst has n bytes.
 */
static size_t
ngx_hkp_stats_clean_utf8(u_char *dst, const u_char *p, size_t n)
{
    u_char        *d;
    uint32_t       c, min;
    ngx_uint_t     i, len;
    const u_char  *end;

    d = dst;
    end = p + n;

    while (p < end) {
        c = *p;

        if (c < 0x80) {
            *d++ = (c < 0x20 || c == 0x7f) ? '?' : (u_char) c;
            p++;
            continue;
        }

        if (c >= 0xc2 && c <= 0xdf) {
            len = 2; min = 0x80; c &= 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3; min = 0x800; c &= 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4; min = 0x10000; c &= 0x07;
        } else {
            *d++ = '?';
            p++;
            continue;
        }

        if ((size_t) (end - p) < len) {
            *d++ = '?';
            p++;
            continue;
        }

        for (i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                break;
            }
            c = (c << 6) | (p[i] & 0x3f);
        }

        if (i < len || c < min || c > 0x10ffff
            || (c >= 0xd800 && c <= 0xdfff))
        {
            *d++ = '?';
            p++;
            continue;
        }

        d = ngx_cpymem(d, p, len);
        p += len;
    }

    return d - dst;
}


/* ---- the stored status: one flat JSON object ---- */

typedef struct {
    u_char      *p;
    u_char      *end;
    ngx_pool_t  *pool;
} ngx_hkp_json_t;


static void
ngx_hkp_json_ws(ngx_hkp_json_t *j)
{
    while (j->p < j->end
           && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n'
               || *j->p == '\r'))
    {
        j->p++;
    }
}


static ngx_int_t
ngx_hkp_json_hex4(u_char *p, uint32_t *v)
{
    ngx_uint_t  i;
    u_char      c;

    *v = 0;

    for (i = 0; i < 4; i++) {
        c = p[i];
        if (c >= '0' && c <= '9') {
            *v = (*v << 4) | (c - '0');
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            *v = (*v << 4) | ((c | 0x20) - 'a' + 10);
        } else {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * A JSON string at j->p (which is '"'), decoded into pool memory and
 * cleaned (ngx_hkp_stats_clean_utf8). \u00XX gives the byte XX, as
 * reconsvc escapes each byte of non-ASCII text that way; other \uXXXX
 * are encoded as UTF-8 (surrogates become '?').
 */
static ngx_int_t
ngx_hkp_json_string(ngx_hkp_json_t *j, ngx_str_t *out)
{
    u_char    *buf, *d, *q;
    uint32_t   c;

    j->p++;

    /* its JSON form (decoded text is never longer) */
    for (q = j->p; q < j->end && *q != '"'; q++) {
        if (*q == '\\') {
            q++;
        }
    }

    buf = ngx_pnalloc(j->pool, ngx_min(q, j->end) - j->p + 1);
    if (buf == NULL) {
        return NGX_ERROR;
    }
    d = buf;

    for ( ;; ) {
        if (j->p >= j->end || *j->p < 0x20) {
            return NGX_ERROR;
        }

        c = *j->p++;

        if (c == '"') {
            break;
        }

        if (c != '\\') {
            *d++ = (u_char) c;
            continue;
        }

        if (j->p >= j->end) {
            return NGX_ERROR;
        }

        c = *j->p++;

        switch (c) {
        case '"': case '\\': case '/':
            *d++ = (u_char) c;
            break;
        case 'b': case 'f': case 'n': case 'r': case 't':
            *d++ = '?';
            break;
        case 'u':
            if (j->end - j->p < 4 || ngx_hkp_json_hex4(j->p, &c) != NGX_OK) {
                return NGX_ERROR;
            }
            j->p += 4;
            if (c < 0x100) {
                *d++ = (u_char) c;
            } else if (c < 0x800) {
                *d++ = (u_char) (0xc0 | (c >> 6));
                *d++ = (u_char) (0x80 | (c & 0x3f));
            } else if (c >= 0xd800 && c <= 0xdfff) {
                *d++ = '?';
            } else {
                *d++ = (u_char) (0xe0 | (c >> 12));
                *d++ = (u_char) (0x80 | ((c >> 6) & 0x3f));
                *d++ = (u_char) (0x80 | (c & 0x3f));
            }
            break;
        default:
            return NGX_ERROR;
        }
    }

    out->data = buf;
    out->len = ngx_hkp_stats_clean_utf8(buf, buf, d - buf);

    return NGX_OK;
}


/*
 * A JSON number at j->p (RFC 8259 grammar): its text in *out; *integer
 * tells whether it is a plain non-negative integer, then in *value
 * (overflow = not an integer).
 */
static ngx_int_t
ngx_hkp_json_number(ngx_hkp_json_t *j, ngx_str_t *out, ngx_uint_t *integer,
    uint64_t *value)
{
    u_char    *start;
    uint64_t   v;

    start = j->p;
    *integer = 1;
    v = 0;

    if (j->p < j->end && *j->p == '-') {
        *integer = 0;
        j->p++;
    }

    if (j->p >= j->end || *j->p < '0' || *j->p > '9') {
        return NGX_ERROR;
    }

    if (*j->p == '0') {
        j->p++;

    } else {
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            if (v > (UINT64_MAX - 9) / 10) {
                *integer = 0;
            }
            v = v * 10 + (*j->p - '0');
            j->p++;
        }
    }

    if (j->p < j->end && *j->p == '.') {
        *integer = 0;
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') {
            return NGX_ERROR;
        }
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            j->p++;
        }
    }

    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        *integer = 0;
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) {
            j->p++;
        }
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') {
            return NGX_ERROR;
        }
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
            j->p++;
        }
    }

    out->data = start;
    out->len = j->p - start;
    *value = v;

    return NGX_OK;
}


static ngx_int_t
ngx_hkp_json_literal(ngx_hkp_json_t *j)
{
    static const char  *lit[] = { "true", "false", "null" };
    ngx_uint_t          i;
    size_t              n;

    for (i = 0; i < sizeof(lit) / sizeof(lit[0]); i++) {
        n = ngx_strlen(lit[i]);
        if ((size_t) (j->end - j->p) >= n
            && ngx_strncmp(j->p, lit[i], n) == 0)
        {
            j->p += n;
            return NGX_OK;
        }
    }

    return NGX_ERROR;
}


#define ngx_hkp_json_key_is(k, s)                                            \
    ((k)->len == sizeof(s) - 1 && ngx_strncmp((k)->data, s, (k)->len) == 0)


/*
 * Parses a stored status: a JSON object whose values are strings,
 * numbers, true, false or null (no nesting), with the fields of
 * reconsvc/loop.h. Unknown fields are skipped; a known field of the wrong
 * type, a missing "time" or "outcome", or anything malformed leaves
 * st->valid 0. The text may live in the LMDB map: what is kept is copied.
 */
static void
ngx_hkp_recon_status_parse(ngx_pool_t *pool, u_char *p, size_t n,
    ngx_hkp_recon_status_t *st)
{
    uint64_t         v;
    ngx_str_t        key, s;
    ngx_uint_t       integer, has_time, has_outcome;
    ngx_hkp_json_t   j;

    ngx_memzero(st, sizeof(*st));

    if (n > NGX_HKP_RECON_MAX_VALUE) {
        return;
    }

    j.p = p;
    j.end = p + n;
    j.pool = pool;
    has_time = 0;
    has_outcome = 0;

    ngx_hkp_json_ws(&j);
    if (j.p >= j.end || *j.p != '{') {
        return;
    }
    j.p++;
    ngx_hkp_json_ws(&j);

    if (j.p < j.end && *j.p == '}') {
        return;   /* {} lacks the required fields */
    }

    for ( ;; ) {
        ngx_hkp_json_ws(&j);
        if (j.p >= j.end || *j.p != '"'
            || ngx_hkp_json_string(&j, &key) != NGX_OK)
        {
            return;
        }

        ngx_hkp_json_ws(&j);
        if (j.p >= j.end || *j.p != ':') {
            return;
        }
        j.p++;
        ngx_hkp_json_ws(&j);

        if (j.p >= j.end) {
            return;
        }

        if (*j.p == '"') {
            if (ngx_hkp_json_string(&j, &s) != NGX_OK) {
                return;
            }

            if (ngx_hkp_json_key_is(&key, "role")) {
                st->role = s;
                st->has_role = 1;

            } else if (ngx_hkp_json_key_is(&key, "profile")) {
                st->profile = s;

            } else if (ngx_hkp_json_key_is(&key, "outcome")) {
                st->outcome = s;
                has_outcome = 1;

            } else if (ngx_hkp_json_key_is(&key, "time")
                       || ngx_hkp_json_key_is(&key, "we_miss")
                       || ngx_hkp_json_key_is(&key, "they_miss")
                       || ngx_hkp_json_key_is(&key, "fetched")
                       || ngx_hkp_json_key_is(&key, "duration"))
            {
                return;
            }

        } else if (*j.p == '-' || (*j.p >= '0' && *j.p <= '9')) {
            if (ngx_hkp_json_number(&j, &s, &integer, &v) != NGX_OK) {
                return;
            }

            if (ngx_hkp_json_key_is(&key, "time")) {
                if (!integer || v > (uint64_t) NGX_HKP_RECON_MAX_TIME) {
                    return;
                }
                st->time = (time_t) v;
                has_time = 1;

            } else if (ngx_hkp_json_key_is(&key, "we_miss")) {
                if (!integer) {
                    return;
                }
                st->we_miss = v;
                st->has_we_miss = 1;

            } else if (ngx_hkp_json_key_is(&key, "they_miss")) {
                if (!integer) {
                    return;
                }
                st->they_miss = v;
                st->has_they_miss = 1;

            } else if (ngx_hkp_json_key_is(&key, "fetched")) {
                if (!integer) {
                    return;
                }
                st->fetched = v;
                st->has_fetched = 1;

            } else if (ngx_hkp_json_key_is(&key, "duration")) {
                if (s.len > NGX_HKP_RECON_MAX_NUMBER) {
                    return;
                }
                st->duration.data = ngx_pnalloc(pool, s.len);
                if (st->duration.data == NULL) {
                    return;
                }
                ngx_memcpy(st->duration.data, s.data, s.len);
                st->duration.len = s.len;

            } else if (ngx_hkp_json_key_is(&key, "role")
                       || ngx_hkp_json_key_is(&key, "profile")
                       || ngx_hkp_json_key_is(&key, "outcome"))
            {
                return;
            }

        } else {
            if (ngx_hkp_json_literal(&j) != NGX_OK) {
                return;   /* objects, arrays, garbage */
            }
            /* null for a known field: as if absent (then checked) */
        }

        ngx_hkp_json_ws(&j);
        if (j.p >= j.end) {
            return;
        }
        if (*j.p == ',') {
            j.p++;
            continue;
        }
        if (*j.p == '}') {
            j.p++;
            break;
        }
        return;
    }

    ngx_hkp_json_ws(&j);
    if (j.p != j.end || !has_time || !has_outcome) {
        return;
    }

    st->valid = 1;
}


/* ---- the membership file ---- */

/*
 * One line of the file, as reconsvc reads it (reconsvc/membership.c):
 * '#' starts a comment, "host port" (port 1-65535), extra tokens
 * ignored, anything else skipped.
 */
static ngx_int_t
ngx_hkp_stats_member(ngx_hkp_stats_t *st, u_char *p, u_char *end)
{
    u_char          *host, *hend, *port, *pend, *q;
    ngx_uint_t       pv;
    ngx_hkp_peer_t  *peer;

    q = ngx_strlchr(p, end, '#');
    if (q) {
        end = q;
    }

#define ngx_hkp_space(c)  ((c) == ' ' || (c) == '\t' || (c) == '\r')

    while (p < end && ngx_hkp_space(*p)) { p++; }
    host = p;
    while (p < end && !ngx_hkp_space(*p)) { p++; }
    hend = p;
    while (p < end && ngx_hkp_space(*p)) { p++; }
    port = p;
    while (p < end && !ngx_hkp_space(*p)) { p++; }
    pend = p;

#undef ngx_hkp_space

    if (host == hend) {
        return NGX_OK;          /* blank or comment */
    }

    if (port < pend && *port == '+') {   /* strtoul() takes it */
        port++;
    }

    if (port == pend || hend - host > NGX_HKP_MEMBERSHIP_MAX_HOST) {
        return NGX_OK;
    }

    pv = 0;
    for (q = port; q < pend; q++) {
        if (*q < '0' || *q > '9') {
            return NGX_OK;
        }
        pv = pv * 10 + (*q - '0');
        if (pv > 65535) {
            return NGX_OK;
        }
    }

    if (pv == 0) {
        return NGX_OK;
    }

    peer = ngx_array_push(&st->peers);
    if (peer == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(peer, sizeof(*peer));

    /* the buffer is this request's: cleaned in place */
    peer->host.data = host;
    peer->host.len = ngx_hkp_stats_clean_utf8(host, host, hend - host);
    peer->port = pv;

    return NGX_OK;
}


/* Reads hkp_membership into st->peers; a missing file means no peers. */
static ngx_int_t
ngx_hkp_stats_membership(ngx_http_request_t *r, ngx_str_t *path,
    ngx_hkp_stats_t *st)
{
    off_t             size;
    u_char           *buf, *p, *end, *nl;
    size_t            n;
    ssize_t           got;
    ngx_fd_t          fd;
    ngx_err_t         err;
    ngx_uint_t        cut;
    ngx_file_info_t   fi;

    if (path->len == 0) {
        return NGX_OK;
    }

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY|NGX_FILE_NONBLOCK,
                       NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;
        if (err != NGX_ENOENT && err != NGX_ENOTDIR) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, err,
                          "hkp: stats: " ngx_open_file_n " \"%V\" failed: "
                          "no peers shown", path);
        }
        return NGX_OK;
    }

    buf = NULL;
    n = 0;
    cut = 0;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, ngx_errno,
                      "hkp: stats: " ngx_fd_info_n " \"%V\" failed", path);
        goto done;
    }

    if (!ngx_is_file(&fi)) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "hkp: stats: \"%V\" is not a file: no peers shown",
                      path);
        goto done;
    }

    size = ngx_file_size(&fi);
    if (size > NGX_HKP_MEMBERSHIP_MAX_SIZE) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "hkp: stats: \"%V\" is larger than %d bytes: only its "
                      "start is shown", path, NGX_HKP_MEMBERSHIP_MAX_SIZE);
        size = NGX_HKP_MEMBERSHIP_MAX_SIZE;
        cut = 1;
    }

    buf = ngx_pnalloc(r->pool, (size_t) size + 1);
    if (buf == NULL) {
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    /* a small local file: read on the event loop (stats only) */
    while (n < (size_t) size) {
        got = ngx_read_fd(fd, buf + n, (size_t) size - n);
        if (got == -1) {
            err = ngx_errno;
            if (err == NGX_EINTR) {
                continue;
            }
            ngx_log_error(NGX_LOG_WARN, r->connection->log, err,
                          "hkp: stats: " ngx_read_fd_n " \"%V\" failed",
                          path);
            n = 0;
            break;
        }
        if (got == 0) {
            break;              /* shrank meanwhile */
        }
        n += got;
    }

done:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", path);
    }

    if (n == 0) {
        return NGX_OK;
    }

    if (cut) {
        /* drop the partial last line */
        while (n > 0 && buf[n - 1] != '\n') {
            n--;
        }
    }

    p = buf;
    end = buf + n;

    while (p < end) {
        nl = ngx_strlchr(p, end, '\n');
        if (nl == NULL) {
            nl = end;
        }

        if (st->peers.nelts == NGX_HKP_MEMBERSHIP_MAX_PEERS) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "hkp: stats: \"%V\" lists more than %d peers: "
                          "the rest is not shown", path,
                          NGX_HKP_MEMBERSHIP_MAX_PEERS);
            break;
        }

        if (ngx_hkp_stats_member(st, p, nl) != NGX_OK) {
            return NGX_ERROR;
        }

        p = nl + 1;
    }

    return NGX_OK;
}


/* Per peer, meta "recon:<host> <port>" (inside the caller's read txn). */
static void
ngx_hkp_stats_recon(ngx_http_request_t *r, hkp_db_t *db, MDB_txn *txn,
    ngx_hkp_stats_t *st)
{
    u_char           key[sizeof(NGX_HKP_RECON_META_PREFIX)
                         + NGX_HKP_MEMBERSHIP_MAX_HOST + 8], *p;
    MDB_val          k, v;
    ngx_uint_t       i;
    ngx_hkp_peer_t  *peer;

    peer = st->peers.elts;

    for (i = 0; i < st->peers.nelts; i++) {
        p = ngx_sprintf(key, NGX_HKP_RECON_META_PREFIX "%V %ui",
                        &peer[i].host, peer[i].port);

        k.mv_data = key;
        k.mv_size = p - key;

        if (mdb_get(txn, db->meta, &k, &v) != MDB_SUCCESS) {
            continue;
        }

        ngx_hkp_recon_status_parse(r->pool, v.mv_data, v.mv_size,
                                   &peer[i].last);
    }
}


/* The per-hour counts of the last NGX_HKP_HIST_DAYS UTC days (in the
 * caller's read txn); on an error the tables stay empty. */
static void
ngx_hkp_stats_hist(ngx_http_request_t *r, hkp_db_t *db, MDB_txn *txn,
    ngx_hkp_stats_t *st)
{
    uint32_t  hour, first;

    if (st->now < (time_t) NGX_HKP_HIST_DAYS * 86400) {
        return;                 /* a clock at the epoch */
    }

    hour = (uint32_t) (st->now / 3600);
    first = (uint32_t) (st->now / 86400) * 24
            - (NGX_HKP_HIST_DAYS - 1) * 24;

    if (hkp_db_hist(db, txn, first, hour - first + 1, st->hist) != 0) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "hkp: stats: reading the histogram failed");
        return;
    }

    st->hist_first = first;
    st->hist_n = hour - first + 1;
}


/* Row i (0 = newest) of the daily (day = 1) or hourly histogram: its start
 * time and counts. */
static void
ngx_hkp_stats_hist_row(ngx_hkp_stats_t *st, ngx_uint_t day, ngx_uint_t i,
    time_t *t, uint64_t *nnew, uint64_t *nupd)
{
    ngx_uint_t  h, from, to;

    if (day) {
        /* hours of day i: [24 * (DAYS - 1 - i), + 24) of the span */
        from = (NGX_HKP_HIST_DAYS - 1 - i) * 24;
        to = ngx_min(from + 24, st->hist_n);
    } else {
        from = st->hist_n - 1 - i;
        to = from + 1;
    }

    *t = (time_t) (st->hist_first + from) * 3600;
    *nnew = 0;
    *nupd = 0;

    for (h = from; h < to; h++) {
        *nnew += st->hist[h][0];
        *nupd += st->hist[h][1];
    }
}


/* ---- output ---- */

/* YYYY-MM-DDTHH:MM:SSZ */
static void
ngx_hkp_stats_time(ngx_hkp_out_t *o, time_t t)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);
    ngx_hkp_out_printf(o, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
}


static void
ngx_hkp_stats_html_row(ngx_hkp_out_t *o, const char *name, ngx_str_t *value)
{
    ngx_hkp_out_printf(o, "<tr><td>%s:</td><td>", name);
    ngx_hkp_out_html(o, value->data, value->len);
    ngx_hkp_out_str(o, "</td></tr>\n");
}


/* an unsigned count, or nothing */
static void
ngx_hkp_stats_html_num(ngx_hkp_out_t *o, ngx_uint_t has, uint64_t v)
{
    if (has) {
        ngx_hkp_out_printf(o, "<td>%uL</td>", v);
    } else {
        ngx_hkp_out_str(o, "<td></td>");
    }
}


/*
 * SKS's one <tr><td>host port</td>...</tr> per membership entry (the first
 * cell unchanged for scrapers), then the last reconciliation.
 */
static void
ngx_hkp_stats_html_peers(ngx_hkp_out_t *o, ngx_hkp_stats_t *st)
{
    ngx_uint_t               i;
    ngx_hkp_peer_t          *peer;
    ngx_hkp_recon_status_t  *l;

    ngx_hkp_out_str(o, "<h2>Gossip Peers</h2>\n<table summary=\"Gossip "
                       "Peers\">\n");

    if (st->peers.nelts) {
        ngx_hkp_out_str(o, "<tr><th>Peer</th><th>Last reconciliation "
                           "(UTC)</th><th>Role</th><th>Outcome</th>"
                           "<th>Keys fetched</th><th>Missing here</th>"
                           "<th>Missing there</th><th>Duration (s)</th>"
                           "</tr>\n");
    }

    peer = st->peers.elts;

    for (i = 0; i < st->peers.nelts; i++) {
        ngx_hkp_out_str(o, "<tr><td>");
        ngx_hkp_out_html(o, peer[i].host.data, peer[i].host.len);
        ngx_hkp_out_printf(o, " %ui</td>", peer[i].port);

        l = &peer[i].last;

        if (!l->valid) {
            ngx_hkp_out_str(o, "<td>never</td><td></td><td></td><td></td>"
                               "<td></td><td></td><td></td></tr>\n");
            continue;
        }

        ngx_hkp_out_str(o, "<td>");
        ngx_hkp_stats_time(o, l->time);
        ngx_hkp_out_str(o, "</td><td>");
        ngx_hkp_out_html(o, l->role.data, l->role.len);
        ngx_hkp_out_str(o, "</td><td>");
        ngx_hkp_out_html(o, l->outcome.data, l->outcome.len);
        ngx_hkp_out_str(o, "</td>");
        ngx_hkp_stats_html_num(o, l->has_fetched, l->fetched);
        ngx_hkp_stats_html_num(o, l->has_we_miss, l->we_miss);
        ngx_hkp_stats_html_num(o, l->has_they_miss, l->they_miss);
        ngx_hkp_out_str(o, "<td>");
        ngx_hkp_out_html(o, l->duration.data, l->duration.len);
        ngx_hkp_out_str(o, "</td></tr>\n");
    }

    ngx_hkp_out_str(o, "</table>\n");
}


/* SKS's Daily (day = 1) or Hourly Histogram table, newest first. */
static void
ngx_hkp_stats_html_hist(ngx_hkp_out_t *o, ngx_hkp_stats_t *st,
    ngx_uint_t day)
{
    time_t      t;
    uint64_t    nnew, nupd;
    ngx_tm_t    tm;
    ngx_uint_t  i, n;

    ngx_hkp_out_printf(o, "<h3>%s Histogram</h3>\n<table border=\"1\">\n"
                       "<tr><td>Time</td><td>New Keys</td>"
                       "<td>Updated Keys</td></tr>\n",
                       day ? "Daily" : "Hourly");

    n = st->hist_n == 0 ? 0 : day ? NGX_HKP_HIST_DAYS : NGX_HKP_HIST_HOURS;

    for (i = 0; i < n; i++) {
        ngx_hkp_stats_hist_row(st, day, i, &t, &nnew, &nupd);
        ngx_gmtime(t, &tm);

        if (day) {
            ngx_hkp_out_printf(o, "<tr><td>%04d-%02d-%02d</td>",
                               tm.ngx_tm_year, tm.ngx_tm_mon,
                               tm.ngx_tm_mday);
        } else {
            ngx_hkp_out_printf(o, "<tr><td>%04d-%02d-%02d %02d</td>",
                               tm.ngx_tm_year, tm.ngx_tm_mon,
                               tm.ngx_tm_mday, tm.ngx_tm_hour);
        }

        ngx_hkp_out_printf(o, "<td>%uL</td><td>%uL</td></tr>\n", nnew, nupd);
    }

    ngx_hkp_out_str(o, "</table>\n");
}


static void
ngx_hkp_stats_html(ngx_hkp_out_t *o, ngx_hkp_stats_t *st)
{
    u_char     title[128], *p;
    ngx_tm_t   tm;
    ngx_str_t  v;

    ngx_gmtime(st->now, &tm);

    p = ngx_sprintf(title, "SKS OpenPGP Keyserver statistics | Taken at "
                    "%04d-%02d-%02d %02d:%02d:%02d UTC",
                    tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                    tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

    ngx_hkp_out_html_head(o, title, p - title);

    ngx_hkp_out_str(o, "<h2>Settings</h2>\n<table summary=\"Keyserver "
                       "Settings\">\n");
    ngx_hkp_stats_html_row(o, "Hostname", &st->hostname);
    ngx_hkp_stats_html_row(o, "Nodename", &st->nodename);
    ngx_str_set(&v, NGX_HKP_VERSION);
    ngx_hkp_stats_html_row(o, "Version", &v);
    ngx_str_set(&v, NGX_HKP_SOFTWARE " " NGX_HKP_VERSION " (nginx "
                NGINX_VERSION ")");
    ngx_hkp_stats_html_row(o, "Software", &v);
    ngx_hkp_stats_html_row(o, "Server contact", &st->contact);
    ngx_hkp_out_printf(o, "<tr><td>HTTP port:</td><td>%ui</td></tr>\n",
                       st->http_port);
    if (st->recon_port) {
        ngx_hkp_out_printf(o, "<tr><td>Recon port:</td><td>%ui</td></tr>\n",
                           st->recon_port);
    }
    ngx_hkp_out_str(o, "</table>\n");

    ngx_hkp_stats_html_peers(o, st);
    ngx_hkp_out_str(o, "<h2>Outgoing Mailsync Peers</h2>\n<table summary="
                       "\"Mailsync Peers\">\n</table>\n");

    ngx_hkp_out_printf(o, "<h2>Statistics</h2>\n<p>Total number of keys: "
                       "%uL</p>\n", st->count);

    ngx_hkp_stats_html_hist(o, st, 1);
    ngx_hkp_stats_html_hist(o, st, 0);

    ngx_hkp_out_html_tail(o);
}


static void
ngx_hkp_stats_json_num(ngx_hkp_out_t *o, const char *name, ngx_uint_t has,
    uint64_t v)
{
    if (has) {
        ngx_hkp_out_printf(o, ",\"%s\":%uL", name, v);
    } else {
        ngx_hkp_out_printf(o, ",\"%s\":null", name);
    }
}


/*
 * [{"name": "host port", "reconAddr": "host:port", "lastRecon": {...} or
 * null}, ...]; lastRecon holds the fields of reconsvc/loop.h with "time"
 * as an ISO 8601 UTC string.
 */
static void
ngx_hkp_stats_json_peers(ngx_hkp_out_t *o, ngx_hkp_stats_t *st)
{
    u_char                   buf[NGX_HKP_MEMBERSHIP_MAX_HOST + 16], *p;
    ngx_uint_t               i, v6;
    ngx_hkp_peer_t          *peer;
    ngx_hkp_recon_status_t  *l;

    ngx_hkp_out_str(o, "[");

    peer = st->peers.elts;

    for (i = 0; i < st->peers.nelts; i++) {
        if (i) {
            ngx_hkp_out_str(o, ",");
        }

        ngx_hkp_out_str(o, "{\"name\":");
        p = ngx_sprintf(buf, "%V %ui", &peer[i].host, peer[i].port);
        ngx_hkp_out_json_str(o, buf, p - buf);

        /* an IPv6 literal gets brackets, as in a URL */
        v6 = (ngx_strlchr(peer[i].host.data,
                          peer[i].host.data + peer[i].host.len, ':')
              != NULL);
        p = ngx_sprintf(buf, v6 ? "[%V]:%ui" : "%V:%ui", &peer[i].host,
                        peer[i].port);
        ngx_hkp_out_str(o, ",\"reconAddr\":");
        ngx_hkp_out_json_str(o, buf, p - buf);

        l = &peer[i].last;

        if (!l->valid) {
            ngx_hkp_out_str(o, ",\"lastRecon\":null}");
            continue;
        }

        ngx_hkp_out_str(o, ",\"lastRecon\":{\"time\":\"");
        ngx_hkp_stats_time(o, l->time);
        ngx_hkp_out_str(o, "\",\"role\":");
        if (l->has_role) {
            ngx_hkp_out_json_str(o, l->role.data, l->role.len);
        } else {
            ngx_hkp_out_str(o, "null");
        }
        ngx_hkp_out_str(o, ",\"profile\":");
        if (l->profile.len) {
            ngx_hkp_out_json_str(o, l->profile.data, l->profile.len);
        } else {
            ngx_hkp_out_str(o, "null");
        }
        ngx_hkp_out_str(o, ",\"outcome\":");
        ngx_hkp_out_json_str(o, l->outcome.data, l->outcome.len);
        ngx_hkp_stats_json_num(o, "we_miss", l->has_we_miss, l->we_miss);
        ngx_hkp_stats_json_num(o, "they_miss", l->has_they_miss,
                               l->they_miss);
        ngx_hkp_stats_json_num(o, "fetched", l->has_fetched, l->fetched);
        ngx_hkp_out_str(o, ",\"duration\":");
        if (l->duration.len) {
            /* validated by ngx_hkp_json_number() */
            ngx_hkp_out_add(o, l->duration.data, l->duration.len);
        } else {
            ngx_hkp_out_str(o, "null");
        }
        ngx_hkp_out_str(o, "}}");
    }

    ngx_hkp_out_str(o, "]");
}


/* Hockeypuck's [{"Time", "Inserted", "Updated", "Removed"}], newest
 * first. */
static void
ngx_hkp_stats_json_hist(ngx_hkp_out_t *o, ngx_hkp_stats_t *st,
    ngx_uint_t day)
{
    time_t      t;
    uint64_t    nnew, nupd;
    ngx_uint_t  i, n;

    n = st->hist_n == 0 ? 0 : day ? NGX_HKP_HIST_DAYS : NGX_HKP_HIST_HOURS;

    ngx_hkp_out_str(o, "[");

    for (i = 0; i < n; i++) {
        ngx_hkp_stats_hist_row(st, day, i, &t, &nnew, &nupd);
        if (i) {
            ngx_hkp_out_str(o, ",");
        }
        ngx_hkp_out_str(o, "{\"Time\":\"");
        ngx_hkp_stats_time(o, t);
        ngx_hkp_out_printf(o, "\",\"Inserted\":%uL,\"Updated\":%uL,"
                           "\"Removed\":0}", nnew, nupd);
    }

    ngx_hkp_out_str(o, "]");
}


static void
ngx_hkp_stats_json(ngx_hkp_out_t *o, ngx_hkp_stats_t *st)
{
    ngx_tm_t  tm;

    ngx_gmtime(st->now, &tm);

    ngx_hkp_out_printf(o, "{\"now\":\"%04d-%02d-%02dT%02d:%02d:%02dZ\",",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);
    ngx_hkp_out_str(o, "\"version\":\"" NGX_HKP_VERSION "\",");
    ngx_hkp_out_str(o, "\"software\":\"" NGX_HKP_SOFTWARE "\",");
    ngx_hkp_out_str(o, "\"hostname\":");
    ngx_hkp_out_json_str(o, st->hostname.data, st->hostname.len);
    ngx_hkp_out_str(o, ",\"nodename\":");
    ngx_hkp_out_json_str(o, st->nodename.data, st->nodename.len);
    ngx_hkp_out_str(o, ",\"contact\":");
    ngx_hkp_out_json_str(o, st->contact.data, st->contact.len);
    ngx_hkp_out_printf(o, ",\"httpAddr\":\":%ui\"", st->http_port);
    if (st->recon_port) {
        ngx_hkp_out_printf(o, ",\"reconAddr\":\":%ui\"", st->recon_port);
    } else {
        ngx_hkp_out_str(o, ",\"reconAddr\":\"\"");
    }
    ngx_hkp_out_printf(o, ",\"total\":%uL", st->count);
    ngx_hkp_out_str(o, ",\"queryConfig\":{\"selfSignedOnly\":false,"
                       "\"keywordSearchDisabled\":false,"
                       "\"enableInexactMatching\":true}");
    ngx_hkp_out_str(o, ",\"peers\":");
    ngx_hkp_stats_json_peers(o, st);
    ngx_hkp_out_str(o, ",\"pksTargets\":[],\"hourly\":");
    ngx_hkp_stats_json_hist(o, st, 0);
    ngx_hkp_out_str(o, ",\"daily\":");
    ngx_hkp_stats_json_hist(o, st, 1);
    ngx_hkp_out_str(o, "}\n");
}


ngx_int_t
ngx_hkp_stats_handler(ngx_http_request_t *r, ngx_hkp_args_t *args)
{
    MDB_txn             *txn;
    ngx_int_t            rc;
    ngx_hkp_out_t        o;
    ngx_hkp_stats_t      st;
    ngx_hkp_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    ngx_memzero(&st, sizeof(st));

    if (ngx_array_init(&st.peers, r->pool, 4, sizeof(ngx_hkp_peer_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the file first: no read txn is held during file I/O */
    if (ngx_hkp_stats_membership(r, &lcf->membership, &st) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st.now = ngx_time();

    rc = ngx_hkp_db_begin(r, lcf->db, &txn);
    if (rc != NGX_OK) {
        return ngx_hkp_error(r, rc, "Database not available");
    }

    st.count = hkp_db_count(&lcf->db->db, txn);
    ngx_hkp_stats_recon(r, &lcf->db->db, txn, &st);
    ngx_hkp_stats_hist(r, &lcf->db->db, txn, &st);

    ngx_hkp_db_end(lcf->db);

    st.hostname = lcf->hostname;
    if (st.hostname.len == 0) {
        st.hostname = ngx_cycle->hostname;
    }
    st.nodename = lcf->nodename.len ? lcf->nodename : st.hostname;
    st.contact = lcf->contact;
    st.recon_port = lcf->recon_port;

    if (ngx_connection_local_sockaddr(r->connection, NULL, 0) == NGX_OK) {
        st.http_port = ngx_inet_get_port(r->connection->local_sockaddr);
    }

    ngx_hkp_out_init(&o, r->pool);

    if (args->mr || args->json) {
        ngx_hkp_stats_json(&o, &st);
        return ngx_hkp_send_out(r, NGX_HTTP_OK, NGX_HKP_CT_JSON, &o, -1, 0);
    }

    ngx_hkp_stats_html(&o, &st);
    return ngx_hkp_send_out(r, NGX_HTTP_OK, NGX_HKP_CT_HTML, &o, -1, 0);
}
