/*
 * /pks/lookup: op dispatch, search classification and the LMDB reads.
 *
 * ops: get, index (the default when op is missing), vindex, hget/x-hget,
 * stats/x-stats; anything else is 501.
 *
 * search (doc/hkp.md 3.1, 3.2 [R]):
 *   0x + 8/16/40/64 hex, or bare 16/40/64 hex (40/64 may contain spaces,
 *     as fingerprints are often pasted): key ID / fingerprint of a primary
 *     key or subkey (the index only holds IDs a key really owns);
 *   0x + 32 hex: v3 fingerprint -> 501;
 *   0x + anything else -> 400;
 *   exact=on and the search (angle brackets stripped) is an e-mail
 *     address: keys with a user ID of exactly that mailbox;
 *   otherwise: keys whose user IDs contain all the words (AND), newest
 *     primary key first.
 * Too many matches -> 400 "Too many responses, refine the search" (the
 * request is valid but must be narrowed; gpg treats every non-200 as "not
 * found" anyway). No match -> 404. Found keys whose stored size passes
 * hkp_max_reply_size -> 400 "Too much key material ..." before any answer
 * is built (the answers then check their own size: ngx_hkp_get.c,
 * ngx_hkp_index.c).
 *
 * HTML vindex names the signers of the keys it shows: before the page is
 * formatted, the distinct signer key IDs are gathered from the hits (at
 * most hkp_vindex_signer_lookups of them, in page order) and each one's
 * primary user ID is read from the store (at most NGX_HKP_SIGNER_BYTES of
 * signer keys decoded per page); the formatter gets that table.
 */
#include "ngx_hkp_module.h"
#include "bytes.h"


#define NGX_HKP_ID_STACK  32


typedef enum {
    NGX_HKP_OP_GET = 0,
    NGX_HKP_OP_INDEX,
    NGX_HKP_OP_VINDEX,
    NGX_HKP_OP_HGET,
    NGX_HKP_OP_STATS
} ngx_hkp_op_e;


typedef struct {
    ngx_pool_t   *pool;
    u_char      **words;
    size_t       *lens;
    ngx_uint_t    n;
    ngx_uint_t    too_many;
} ngx_hkp_words_ctx_t;


static ngx_int_t ngx_hkp_lookup_signers(ngx_hkp_lookup_t *lk);


static ngx_int_t
ngx_hkp_op(ngx_hkp_args_t *a, ngx_hkp_op_e *op)
{
    static struct {
        const char    *name;
        ngx_hkp_op_e   op;
    } ops[] = {
        { "get",     NGX_HKP_OP_GET },
        { "index",   NGX_HKP_OP_INDEX },
        { "vindex",  NGX_HKP_OP_VINDEX },
        { "hget",    NGX_HKP_OP_HGET },
        { "x-hget",  NGX_HKP_OP_HGET },
        { "stats",   NGX_HKP_OP_STATS },
        { "x-stats", NGX_HKP_OP_STATS },
    };
    ngx_uint_t  i;

    if (!a->has_op || a->op.len == 0) {
        *op = NGX_HKP_OP_INDEX;
        return NGX_OK;
    }

    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (a->op.len == ngx_strlen(ops[i].name)
            && ngx_strncasecmp(a->op.data, (u_char *) ops[i].name, a->op.len)
               == 0)
        {
            *op = ops[i].op;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/* Packs hex digits (spaces skipped) into bytes; n digits must be even. */
static void
ngx_hkp_unhex(const u_char *p, size_t len, uint8_t *out)
{
    size_t     i, k;
    ngx_int_t  v;

    for (i = 0, k = 0; i < len; i++) {
        v = hkp_hexval(p[i]);
        if (v < 0) {
            continue;
        }
        if (k % 2 == 0) {
            out[k / 2] = (uint8_t) (v << 4);
        } else {
            out[k / 2] |= (uint8_t) v;
        }
        k++;
    }
}


/*
 * NGX_OK: an ID (bytes in id, *idlen 4/8/20/32); NGX_DECLINED: a text
 * search; otherwise an HTTP status with *reason.
 */
static ngx_int_t
ngx_hkp_parse_id(ngx_str_t *s, uint8_t *id, size_t *idlen,
    const char **reason)
{
    u_char     *p;
    size_t      i, n, digits, spaces;

    p = s->data;
    n = s->len;

    if (n >= 2 && p[0] == '0' && (p[1] | 0x20) == 'x') {
        p += 2;
        n -= 2;

        for (i = 0; i < n; i++) {
            if (hkp_hexval(p[i]) < 0) {
                *reason = "Invalid key ID: not a hexadecimal number";
                return NGX_HTTP_BAD_REQUEST;
            }
        }

        switch (n) {
        case 2 * HKP_KEYID32_LEN:
        case 2 * HKP_KEYID_LEN:
        case 2 * HKP_FPR_V4_LEN:
        case 2 * HKP_FPR_V6_LEN:
            ngx_hkp_unhex(p, n, id);
            *idlen = n / 2;
            return NGX_OK;

        case 2 * HKP_FPR_V3_LEN:
            *reason = "128-bit v3 fingerprints are not supported";
            return NGX_HTTP_NOT_IMPLEMENTED;

        default:
            *reason = "Invalid key ID: use 8, 16, 40 or 64 hex digits";
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    digits = 0;
    spaces = 0;
    for (i = 0; i < n; i++) {
        if (p[i] == ' ') {
            spaces++;
        } else if (hkp_hexval(p[i]) >= 0) {
            digits++;
        } else {
            return NGX_DECLINED;
        }
    }

    if ((digits == 2 * HKP_KEYID_LEN && spaces == 0)
        || digits == 2 * HKP_FPR_V4_LEN || digits == 2 * HKP_FPR_V6_LEN)
    {
        ngx_hkp_unhex(p, n, id);
        *idlen = digits / 2;
        return NGX_OK;
    }

    return NGX_DECLINED;
}


static int
ngx_hkp_word_cb(void *data, const uint8_t *word, size_t len)
{
    ngx_hkp_words_ctx_t *ctx = data;

    u_char      *w;
    ngx_uint_t   i;

    for (i = 0; i < ctx->n; i++) {
        if (ctx->lens[i] == len && ngx_memcmp(ctx->words[i], word, len) == 0) {
            return 0;
        }
    }

    if (ctx->n == HKP_MAX_QUERY_WORDS) {
        ctx->too_many = 1;
        return 1;
    }

    w = ngx_pnalloc(ctx->pool, len ? len : 1);
    if (w == NULL) {
        return -1;
    }
    ngx_memcpy(w, word, len);

    ctx->words[ctx->n] = w;
    ctx->lens[ctx->n] = len;
    ctx->n++;

    return 0;
}


/* The mailbox (lower-cased into out) when the whole search is one e-mail
 * address, bare or in <>, else 0 (also the v2/VKS identity lookups'). */
size_t
ngx_hkp_search_email(ngx_str_t *s, char *out, size_t outsz)
{
    u_char      *p, *end;
    ngx_uint_t   ats;

    p = s->data;
    end = p + s->len;

    if (end - p >= 2 && *p == '<' && end[-1] == '>') {
        p++;
        end--;
    }

    ats = 0;
    for (u_char *q = p; q < end; q++) {
        if (*q == '@') {
            ats++;
        } else if (*q <= ' ' || *q == '<' || *q == '>' || *q == 0x7f) {
            return 0;
        }
    }

    if (ats != 1 || *p == '@' || end[-1] == '@') {
        return 0;
    }

    return hkp_uid_email(p, end - p, out, outsz);
}


#define NGX_HKP_STR_(x)  #x
#define NGX_HKP_STR(x)   NGX_HKP_STR_(x)


/* NGX_OK with the hashes, or an HTTP status with *reason (also used by
 * the v2 and VKS lookups, ngx_hkp_v2_find.c). */
ngx_int_t
ngx_hkp_find_text(ngx_hkp_lookup_t *lk, hkp_hash_t **hashes,
    size_t *n, const char **reason)
{
    int                   rc;
    char                 *addr;
    size_t                alen, skipped;
    ngx_http_request_t   *r;
    ngx_hkp_words_ctx_t   ctx;

    r = lk->r;

    if (lk->hmcf->words == NULL) {
        *reason = "Text search is not available";
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    ngx_memzero(&ctx, sizeof(ctx));
    ctx.pool = r->pool;
    ctx.words = ngx_palloc(r->pool, HKP_MAX_QUERY_WORDS * sizeof(u_char *));
    ctx.lens = ngx_palloc(r->pool, HKP_MAX_QUERY_WORDS * sizeof(size_t));
    *hashes = ngx_palloc(r->pool, lk->lcf->max_results * HKP_HASH_LEN);
    addr = ngx_pnalloc(r->pool, HKP_MAX_WORD_LEN + 1);

    if (ctx.words == NULL || ctx.lens == NULL || *hashes == NULL
        || addr == NULL)
    {
        *reason = "Out of memory";
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    alen = 0;
    skipped = 0;
    if (lk->args.exact) {
        alen = ngx_hkp_search_email(&lk->args.search, addr,
                                    HKP_MAX_WORD_LEN + 1);
    }

    if (alen) {
        ctx.words[0] = (u_char *) addr;
        ctx.lens[0] = alen;
        ctx.n = 1;

    } else {
        rc = hkp_words_split(lk->hmcf->words, lk->args.search.data,
                             lk->args.search.len, ngx_hkp_word_cb, &ctx,
                             &skipped);

        if (ctx.too_many) {
            *reason = "Too many words in the search";
            return NGX_HTTP_BAD_REQUEST;
        }

        if (rc != 0) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "hkp: tokenizing the search \"%V\" failed",
                          &lk->args.search);
            *reason = "Internal error while parsing the search";
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        /* no stored key indexes a word that long, so the search could
         * only be answered by silently ignoring part of it */
        if (skipped) {
            *reason = "A search word is too long (over "
                      NGX_HKP_STR(HKP_MAX_WORD_LEN) " bytes)";
            return NGX_HTTP_BAD_REQUEST;
        }

        if (ctx.n == 0) {
            *reason = "The search has no words to look for";
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    /* the serve view checks them again against the served user IDs */
    lk->words = ctx.words;
    lk->wlens = ctx.lens;
    lk->nwords = ctx.n;

    rc = hkp_db_find_words(&lk->db->db, lk->txn,
                           (const uint8_t **) ctx.words, ctx.lens, ctx.n,
                           lk->lcf->max_candidates, *hashes,
                           lk->lcf->max_results, n);
    switch (rc) {
    case 0:
        return NGX_OK;

    case HKP_EMORE:
        *reason = "Too many responses, refine the search";
        return NGX_HTTP_BAD_REQUEST;

    case HKP_ECANDIDATES:
        *reason = "Insufficiently specific words: provide at least one "
                  "more specific keyword";
        return NGX_HTTP_BAD_REQUEST;

    default:
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "hkp: word search for \"%V\" in \"%s\" failed",
                      &lk->args.search, lk->db->path.data);
        *reason = "Database error";
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


static ngx_int_t
ngx_hkp_cmp_hits(const void *one, const void *two)
{
    const ngx_hkp_hit_t  *a = one, *b = two;

    /* newest first */
    if (a->ctime != b->ctime) {
        return a->ctime < b->ctime ? 1 : -1;
    }
    return 0;
}


/* Fetches the keys of the found hashes into lk->hits (also used by the v2
 * and VKS lookups, ngx_hkp_v2_find.c). */
ngx_int_t
ngx_hkp_fetch_hits(ngx_hkp_lookup_t *lk, hkp_hash_t *hashes,
    size_t n, ngx_uint_t sort)
{
    int            rc;
    size_t         i, consumed;
    hkp_pkt_t      pkt;
    const char    *err;
    hkp_pubkey_t   pk;
    ngx_hkp_hit_t *hit;

    lk->hits = ngx_palloc(lk->r->pool, (n ? n : 1) * sizeof(ngx_hkp_hit_t));
    if (lk->hits == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    lk->nhits = 0;

    for (i = 0; i < n; i++) {
        hit = &lk->hits[lk->nhits];
        ngx_memcpy(hit->hash, hashes[i], HKP_HASH_LEN);
        hit->ctime = 0;

        rc = hkp_db_get(&lk->db->db, lk->txn, hit->hash, &hit->val);
        if (rc != 0) {
            ngx_log_error(NGX_LOG_WARN, lk->r->connection->log, 0,
                          "hkp: an index of \"%s\" names a key that is not "
                          "stored (%s)", lk->db->path.data,
                          rc == MDB_NOTFOUND ? "not found" : "read error");
            continue;
        }

        if (sort
            && hkp_pkt_read(hit->val.mv_data, hit->val.mv_size, &pkt,
                            &consumed, &err) == 0
            && hkp_pubkey_parse(&pkt, &pk, &err) == 0)
        {
            hit->ctime = pk.ctime;
        }

        lk->nhits++;
    }

    if (sort && lk->nhits > 1) {
        ngx_sort(lk->hits, lk->nhits, sizeof(ngx_hkp_hit_t),
                 ngx_hkp_cmp_hits);
    }

    return NGX_OK;
}


/* What a search that found nothing answers when it named a blocked key
 * (ngx_hkp_block_named()): by key ID or fingerprint (id[0..idlen)), or an
 * exact=on search of one e-mail address. NGX_DECLINED when it did not. */
static ngx_int_t
ngx_hkp_lookup_blocked(ngx_hkp_lookup_t *lk, const uint8_t *id, size_t idlen,
    const char **reason)
{
    char    addr[HKP_MAX_WORD_LEN + 1];
    size_t  alen;

    if (idlen > 0) {
        return ngx_hkp_block_named(lk, NGX_HKP_BLOCK_BY_ID, id, idlen,
                                   reason);
    }

    if (!lk->args.exact) {
        return NGX_DECLINED;
    }

    alen = ngx_hkp_search_email(&lk->args.search, addr, sizeof(addr));
    if (alen == 0) {
        return NGX_DECLINED;
    }

    return ngx_hkp_block_named(lk, NGX_HKP_BLOCK_BY_EMAIL, addr,
                               alen, reason);
}


static ngx_int_t
ngx_hkp_lookup_run(ngx_hkp_lookup_t *lk, ngx_hkp_op_e op)
{
    int                   rc;
    size_t                n, idlen, stored;
    uint8_t               id[HKP_FPR_MAX_LEN];
    ngx_uint_t            i;
    uint8_t               stack[NGX_HKP_ID_STACK][HKP_HASH_LEN];
    hkp_hash_t             *hashes;
    ngx_int_t             st;
    const char           *reason;
    ngx_http_request_t   *r;

    r = lk->r;
    n = 0;
    idlen = 0;

    if (op == NGX_HKP_OP_HGET) {
        /* search is an SKS hash: 32 hex digits (checked by the caller) */
        lk->hits = ngx_palloc(r->pool, sizeof(ngx_hkp_hit_t));
        if (lk->hits == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_hkp_unhex(lk->args.search.data, 32, lk->hits[0].hash);
        lk->hits[0].ctime = 0;

        rc = hkp_db_get(&lk->db->db, lk->txn, lk->hits[0].hash,
                        &lk->hits[0].val);
        if (rc == MDB_NOTFOUND) {
            /* takedown (ngx_hkp_block.c): a blocked key's hash */
            st = ngx_hkp_block_named(lk, NGX_HKP_BLOCK_BY_HASH,
                                     lk->hits[0].hash, HKP_HASH_LEN,
                                     &reason);
            if (st != NGX_DECLINED) {
                return ngx_hkp_error(r, st, reason);
            }
            return ngx_hkp_error(r, NGX_HTTP_NOT_FOUND,
                                 "Requested hash not found");
        }
        if (rc != 0) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "hkp: reading hash %V from \"%s\" failed",
                          &lk->args.search, lk->db->path.data);
            return ngx_hkp_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                 "Database error");
        }

        lk->nhits = 1;

    } else {
        reason = NULL;
        st = ngx_hkp_parse_id(&lk->args.search, id, &idlen, &reason);

        if (st == NGX_OK) {
            hashes = stack;
            rc = hkp_db_find_id(&lk->db->db, lk->txn, id, idlen, hashes,
                                NGX_HKP_ID_STACK, &n);

            if (rc == HKP_EMORE && lk->lcf->max_results > NGX_HKP_ID_STACK) {
                hashes = ngx_palloc(r->pool,
                                    lk->lcf->max_results * HKP_HASH_LEN);
                if (hashes == NULL) {
                    return NGX_HTTP_INTERNAL_SERVER_ERROR;
                }
                rc = hkp_db_find_id(&lk->db->db, lk->txn, id, idlen, hashes,
                                    lk->lcf->max_results, &n);
            }

            if (rc == 0 && n > lk->lcf->max_results) {
                rc = HKP_EMORE;
            }

            if (rc == HKP_EMORE) {
                return ngx_hkp_error(r, NGX_HTTP_BAD_REQUEST,
                                     "Too many responses, refine the search");
            }

            if (rc != 0) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "hkp: ID lookup of \"%V\" in \"%s\" failed",
                              &lk->args.search, lk->db->path.data);
                return ngx_hkp_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "Database error");
            }

            st = ngx_hkp_fetch_hits(lk, hashes, n, 0);

        } else if (st == NGX_DECLINED) {
            st = ngx_hkp_find_text(lk, &hashes, &n, &reason);
            if (st != NGX_OK) {
                return ngx_hkp_error(r, st, reason);
            }

            st = ngx_hkp_fetch_hits(lk, hashes, n, 1);

        } else {
            return ngx_hkp_error(r, st, reason);
        }

        if (st != NGX_OK) {
            return st;
        }

        if (lk->nhits == 0) {
            /* takedown (ngx_hkp_block.c): an ID of a blocked key, or with
             * exact=on the address of one (a text search of words just
             * does not find it) */
            st = ngx_hkp_lookup_blocked(lk, id, idlen, &reason);
            if (st != NGX_DECLINED) {
                return ngx_hkp_error(r, st, reason);
            }
            return ngx_hkp_error(r, NGX_HTTP_NOT_FOUND, "No keys found");
        }
    }

    /* each key becomes what the serve policy shows (ngx_hkp_serve.c);
     * found keys too large even to examine are refused first; vindex
     * lists the components not served too, marked */
    lk->listing = (op == NGX_HKP_OP_VINDEX);
    st = ngx_hkp_serve_hits(lk);
    if (st == NGX_DECLINED) {
        return ngx_hkp_too_much(r, lk->lcf->max_reply);
    }
    if (st != NGX_OK) {
        return st;
    }

    if (lk->nhits == 0) {
        return ngx_hkp_serve_none(lk, lk->nwords == 0);
    }

    /* the served views (or, unchanged, the map) */
    for (i = 0, stored = 0; i < lk->nhits; i++) {
        stored += lk->hits[i].val.mv_size;
    }

    if (stored > lk->lcf->max_reply) {
        return ngx_hkp_too_much(r, lk->lcf->max_reply);
    }

    switch (op) {
    case NGX_HKP_OP_GET:
    case NGX_HKP_OP_HGET:
        return ngx_hkp_get_reply(lk);
    case NGX_HKP_OP_VINDEX:
        if (!lk->args.mr) {
            st = ngx_hkp_lookup_signers(lk);
            if (st != NGX_OK) {
                return st;
            }
        }
        return ngx_hkp_index_reply(lk, 1);
    default:
        return ngx_hkp_index_reply(lk, 0);
    }
}


ngx_int_t
ngx_hkp_lookup_handler(ngx_http_request_t *r)
{
    size_t             i;
    ngx_int_t          rc;
    ngx_hkp_op_e       op;
    ngx_hkp_lookup_t   lk;

    ngx_memzero(&lk, sizeof(lk));
    lk.r = r;
    lk.lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);
    lk.hmcf = ngx_http_get_module_main_conf(r, ngx_hkp_module);
    lk.db = lk.lcf->db;

    rc = ngx_hkp_args_parse(r, &r->args, &lk.args);
    if (rc != NGX_OK) {
        return ngx_hkp_error(r, rc, "Malformed query string");
    }

    if (ngx_hkp_op(&lk.args, &op) != NGX_OK) {
        return ngx_hkp_error(r, NGX_HTTP_NOT_IMPLEMENTED,
                             "Unknown operation: op must be get, index, "
                             "vindex, hget or stats");
    }

    if (op == NGX_HKP_OP_STATS) {
        return ngx_hkp_stats_handler(r, &lk.args);
    }

    if (!lk.args.has_search || lk.args.search.len == 0) {
        return ngx_hkp_error(r, NGX_HTTP_BAD_REQUEST,
                             "Missing search parameter");
    }

    if (lk.args.search.len > HKP_MAX_SEARCH_LEN) {
        return ngx_hkp_error(r, NGX_HTTP_BAD_REQUEST,
                             "Search string too long");
    }

    if (op == NGX_HKP_OP_HGET) {
        for (i = 0; i < lk.args.search.len; i++) {
            if (hkp_hexval(lk.args.search.data[i]) < 0) {
                break;
            }
        }
        if (lk.args.search.len != 32 || i != 32) {
            return ngx_hkp_error(r, NGX_HTTP_BAD_REQUEST,
                                 "hget needs a key hash of 32 hex digits");
        }
    }

    lk.title = lk.args.search;

    rc = ngx_hkp_db_begin(r, lk.db, &lk.txn);
    if (rc != NGX_OK) {
        return ngx_hkp_error(r, rc, "Database not available");
    }

    rc = ngx_hkp_lookup_run(&lk, op);

    ngx_hkp_db_end(lk.db);

    return rc;
}


static int
ngx_hkp_cmp_signers(const void *one, const void *two)
{
    const ngx_hkp_signer_t  *a = one, *b = two;

    return ngx_memcmp(a->id, b->id, HKP_KEYID_LEN);
}


/*
 * The primary user ID of the stored key with this 64-bit ID, copied into
 * the request pool; *budget (bytes of keys still to decode) shrinks by
 * the key's size. NGX_DECLINED when there is no such key or no user ID,
 * or the key does not fit the budget.
 */
static ngx_int_t
ngx_hkp_signer_uid(ngx_hkp_lookup_t *lk, const uint8_t id[HKP_KEYID_LEN],
    ngx_str_t *uid, size_t *budget)
{
    size_t          n, at;
    uint8_t         hashes[2][HKP_HASH_LEN];
    MDB_val         val;
    ngx_int_t       rc;
    hkp_key_t       key;
    const char     *err;
    char            why[HKP_REASON_LEN];
    hkp_keyview_t   v;
    const hkp_pkt_t *pkt;

    rc = hkp_db_find_id(&lk->db->db, lk->txn, id, HKP_KEYID_LEN, hashes, 2,
                        &n);
    if ((rc != 0 && rc != HKP_EMORE)
        || n == 0
        || hkp_db_get(&lk->db->db, lk->txn, hashes[0], &val) != 0)
    {
        return NGX_DECLINED;
    }

    if (val.mv_size > *budget) {
        return NGX_DECLINED;
    }
    *budget -= val.mv_size;

    if (hkp_key_decode(val.mv_data, val.mv_size, &key, why, sizeof(why))
        != 0)
    {
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;

    if (hkp_keyview_build(&key, &v, &err) == 0) {
        if (ngx_hkp_primary_uid(&v, &at) == NGX_OK) {
            pkt = &key.pkts[v.uids[at].at];

            if (pkt->tag == HKP_TAG_UID && ngx_hkp_serve_uid_ok(lk, &v, at)) {
                uid->data = ngx_pnalloc(lk->r->pool, pkt->len ? pkt->len : 1);
                if (uid->data == NULL) {
                    rc = NGX_ERROR;

                } else {
                    ngx_memcpy(uid->data, pkt->body, pkt->len);
                    uid->len = pkt->len;
                    rc = NGX_OK;
                }
            }
        }

        hkp_keyview_free(&v);
    }

    hkp_key_free(&key);

    return rc;
}


/*
 * lk->signers for an HTML vindex page: the distinct key IDs that signed
 * something on the hits' keys (their own self-signatures left out), in
 * page order up to hkp_vindex_signer_lookups, each with its primary user
 * ID when that key is stored; sorted by ID for the formatter.
 */
static ngx_int_t
ngx_hkp_lookup_signers(ngx_hkp_lookup_t *lk)
{
    size_t             off, consumed, budget;
    uint8_t            own[HKP_KEYID_LEN], id[HKP_KEYID_LEN];
    hkp_pkt_t          pkt;
    hkp_sig_t          sig;
    ngx_int_t          rc;
    ngx_uint_t         i, k, max, have_own;
    const char        *err;
    hkp_pubkey_t       pk;
    const uint8_t     *data;
    ngx_hkp_signer_t  *s;

    lk->signers = NULL;
    lk->nsigners = 0;

    max = lk->lcf->vindex_lookups;
    if (max == 0) {
        return NGX_OK;
    }

    lk->signers = ngx_palloc(lk->r->pool, max * sizeof(ngx_hkp_signer_t));
    if (lk->signers == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < lk->nhits && lk->nsigners < max; i++) {
        data = lk->hits[i].val.mv_data;
        have_own = 0;

        for (off = 0; off < lk->hits[i].val.mv_size; off += consumed) {
            if (hkp_pkt_read(data + off, lk->hits[i].val.mv_size - off, &pkt,
                             &consumed, &err)
                != 0)
            {
                break;
            }

            if (off == 0) {
                if (hkp_pubkey_parse(&pkt, &pk, &err) != 0) {
                    break;
                }
                ngx_memcpy(own, pk.keyid, HKP_KEYID_LEN);
                have_own = 1;
                continue;
            }

            if (pkt.tag != HKP_TAG_SIG
                || hkp_sig_parse(&pkt, &sig, &err) != 0
                || !ngx_hkp_sig_issuer(&sig, id)
                || (have_own && ngx_memcmp(id, own, HKP_KEYID_LEN) == 0))
            {
                continue;
            }

            for (k = 0; k < lk->nsigners; k++) {
                if (ngx_memcmp(lk->signers[k].id, id, HKP_KEYID_LEN) == 0) {
                    break;
                }
            }

            if (k < lk->nsigners) {
                continue;
            }

            s = &lk->signers[lk->nsigners++];
            ngx_memcpy(s->id, id, HKP_KEYID_LEN);
            ngx_str_null(&s->uid);

            if (lk->nsigners == max) {
                break;
            }
        }
    }

    budget = NGX_HKP_SIGNER_BYTES;

    for (k = 0; k < lk->nsigners; k++) {
        if (budget == 0) {
            break;
        }

        rc = ngx_hkp_signer_uid(lk, lk->signers[k].id, &lk->signers[k].uid,
                                &budget);
        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (lk->nsigners > 1) {
        ngx_qsort(lk->signers, lk->nsigners, sizeof(ngx_hkp_signer_t),
                  ngx_hkp_cmp_signers);
    }

    return NGX_OK;
}
