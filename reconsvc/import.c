/*
 * reconsvc import: bulk-load keys from keydump files (binary or armored)
 * into the LMDB environment through hkp_db_put().
 *
 * One write transaction per batch of keys. Keys go straight into it and
 * stay in memory until it commits: when a key's put fails, the txn is
 * aborted and the keys before that one are stored again and committed
 * without it (rare: most bad keys are rejected by the parser). The
 * environment is opened with MDB_NOSYNC and synced once before exit: an
 * interrupted import leaves a consistent older state (LMDB never tears a
 * commit), at worst missing the last batches, and is simply re-run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "armor.h"
#include "ev.h"
#include "hkp_limits.h"
#include "import.h"
#include "key.h"
#include "packet.h"
#include "ptree.h"
#include "store.h"

/* Keys handed to hkp_keys_parse() at a time (below HKP_MAX_KEYS_PER_BLOB). */
#define CHUNK_KEYS  65536

typedef struct {
    char   *reason;
    size_t  count;
} reason_t;

typedef struct {
    hkp_db_t    db;
    MDB_txn    *txn;            /* current batch */
    hkp_key_t **pend;           /* the keys put into txn that changed it,
                                   in order (owned) */
    size_t      npend, cappend;
    size_t      pendbytes;      /* their size (key_bytes) */
    size_t      bnew, bmerged;  /* their results */
    size_t      inbatch;        /* keys put into txn, unchanged ones too */
    size_t      batch;
    int         fatal;          /* I/O or DB error: stop */
    const char *fname;
    hkp_put_result_t res;       /* of the last hkp_db_put(): its error
                                   may point into res.reason */

    size_t      nread, nnew, nmerged, nunchanged, nrejected;
    reason_t   *reasons;
    size_t      nreasons;

    int         progress;       /* stderr is a terminal */
    double      t0, tlast;
} imp_t;

static void
progress(imp_t *im, int final)
{
    double t = ev_now();
    if (!im->progress || (!final && t - im->tlast < 0.5))
        return;
    im->tlast = t;
    double el = t - im->t0;
    fprintf(stderr, "\r%zu keys read, %.0f keys/s, new %zu, merged %zu, "
        "rejected %zu   %s", im->nread, el > 0 ? (double) im->nread / el : 0.0,
        im->nnew, im->nmerged, im->nrejected, final ? "\n" : "");
    fflush(stderr);
}

static void
reject(imp_t *im, const char *reason)
{
    if (reason == NULL)
        reason = "unknown reason";
    im->nrejected++;
    for (size_t i = 0; i < im->nreasons; i++) {
        if (strcmp(im->reasons[i].reason, reason) == 0) {
            im->reasons[i].count++;
            return;
        }
    }
    reason_t *r = realloc(im->reasons, (im->nreasons + 1) * sizeof(*r));
    if (r == NULL)
        return;
    im->reasons = r;
    r[im->nreasons].reason = strdup(reason);
    if (r[im->nreasons].reason == NULL)
        return;
    r[im->nreasons].count = 1;
    im->nreasons++;
}

static void
key_destroy(hkp_key_t *key)
{
    /* hkp_keys_parse() hands over a malloc'd struct: free both. */
    hkp_key_free(key);
    free(key);
}

/* Memory a parsed key holds, roughly. */
static size_t
key_bytes(const hkp_key_t *key)
{
    return sizeof(*key) + key->npkts * sizeof(hkp_pkt_t)
        + hkp_key_encoded_len(key);
}

static void
pend_clear(imp_t *im)
{
    for (size_t i = 0; i < im->npend; i++)
        key_destroy(im->pend[i]);
    im->npend = 0;
    im->pendbytes = 0;
}

/* Takes the last pending key back (the caller owns it). */
static hkp_key_t *
pend_pop(imp_t *im)
{
    hkp_key_t *key = im->pend[--im->npend];
    im->pendbytes -= key_bytes(key);
    return key;
}

static int
pend_push(imp_t *im, hkp_key_t *key)
{
    if (im->npend == im->cappend) {
        size_t nc = im->cappend ? im->cappend * 2 : 256;
        hkp_key_t **p = realloc(im->pend, nc * sizeof(*p));
        if (p == NULL) {
            fprintf(stderr, "reconsvc import: out of memory\n");
            im->fatal = 1;
            return -1;
        }
        im->pend = p;
        im->cappend = nc;
    }
    im->pend[im->npend++] = key;
    im->pendbytes += key_bytes(key);
    return 0;
}

static int
batch_begin(imp_t *im)
{
    int rc = mdb_txn_begin(im->db.env, NULL, 0, &im->txn);
    if (rc != 0) {
        fprintf(stderr, "reconsvc import: mdb_txn_begin: %s\n",
            mdb_strerror(rc));
        im->txn = NULL;
        im->fatal = 1;
        return -1;
    }
    im->bnew = im->bmerged = im->inbatch = 0;
    return 0;
}

/* Drops the batch txn and its prefix tree records; the pending keys stay. */
static void
batch_abort(imp_t *im)
{
    if (im->txn != NULL)
        mdb_txn_abort(im->txn);
    im->txn = NULL;
    hkp_ptree_batch_truncate(im->db.ptree_batch, 0);
}

/* Commits the batch txn, which holds exactly the pending keys, and counts
 * and frees them. */
static int
batch_commit(imp_t *im)
{
    int rc;
    const char *err = NULL;
    if (im->txn == NULL)
        return -1;
    /* The batch's prefix tree changes go into the same commit. */
    if (hkp_ptree_batch_apply(im->db.ptree_batch, im->txn, im->db.ptree,
            &err) != 0)
    {
        fprintf(stderr, "reconsvc import: prefix tree: %s\n", err);
        batch_abort(im);
        im->fatal = 1;
        return -1;
    }
    rc = mdb_txn_commit(im->txn);
    im->txn = NULL;
    if (rc != 0) {
        fprintf(stderr, "reconsvc import: mdb_txn_commit: %s%s\n",
            mdb_strerror(rc), rc == MDB_MAP_FULL
            ? " (raise --mapsize-gib)" : "");
        im->fatal = 1;
        return -1;
    }
    im->nnew += im->bnew;
    im->nmerged += im->bmerged;
    pend_clear(im);
    return 0;
}

static int
is_err(const char *err, int code)
{
    return err != NULL && strcmp(err, mdb_strerror(code)) == 0;
}

/* Errors that are about the database, not the key. */
static int
is_db_error(const char *err)
{
    static const int codes[] = { MDB_MAP_FULL, MDB_TXN_FULL, MDB_PANIC,
        MDB_CORRUPTED, MDB_BAD_TXN, MDB_PAGE_NOTFOUND, MDB_CURSOR_FULL,
        MDB_PAGE_FULL, MDB_MAP_RESIZED, EIO, ENOSPC, ENOMEM };
    if (err == NULL)
        return 0;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (is_err(err, codes[i]))
            return 1;
    return strcmp(err, "out of memory") == 0;
}

/* Puts pending key i into the batch txn and counts it; *unchanged says
 * whether the txn was left as it was. 0 or -1 with *err (then the txn
 * holds part of the key: abort it). */
static int
put_pending(imp_t *im, size_t i, int *unchanged, const char **err)
{
    *err = NULL;
    if (hkp_db_put(&im->db, im->txn, im->pend[i], &im->res, err) != 0)
        return -1;
    *unchanged = im->res.status == HKP_PUT_UNCHANGED;
    switch (im->res.status) {
    case HKP_PUT_NEW:       im->bnew++; break;
    case HKP_PUT_MERGED:    im->bmerged++; break;
    case HKP_PUT_UNCHANGED: im->nunchanged++; break;
    }
    im->inbatch++;
    return 0;
}

/* Stores the pending keys again in a new txn and commits them (after the
 * batch txn was aborted). They all changed the database before, in the
 * same order from the same state, so anything else now is a database
 * error. */
static int
batch_replay(imp_t *im)
{
    const char *err;
    int unchanged;

    if (im->npend == 0)
        return 0;
    if (batch_begin(im) != 0)
        return -1;
    for (size_t i = 0; i < im->npend; i++) {
        if (put_pending(im, i, &unchanged, &err) != 0 || unchanged) {
            fprintf(stderr, "reconsvc import: %s: database error: replaying "
                "a batch: %s\n", im->fname,
                err ? err : "a key changed nothing");
            batch_abort(im);
            im->fatal = 1;
            return -1;
        }
    }
    return batch_commit(im);
}

static int put_key(imp_t *im, hkp_key_t *key);

/*
 * The last pending key failed with err, leaving the batch txn unusable.
 * Aborts it and stores the keys before that one in a batch of their own:
 * each failure costs at most one replay of the keys since the last commit.
 * Then the key is rejected, or, if the batch grew too large for one txn,
 * retried alone in a new batch. 0 or -1 fatal.
 */
static int
batch_failed(imp_t *im, const char *err)
{
    hkp_key_t *key = pend_pop(im);
    int full = is_err(err, MDB_TXN_FULL) && im->npend > 0;

    batch_abort(im);
    if (!full && is_db_error(err)) {
        fprintf(stderr, "reconsvc import: %s: database error: %s%s\n",
            im->fname, err, is_err(err, MDB_MAP_FULL)
            ? " (raise --mapsize-gib)" : "");
        key_destroy(key);
        im->fatal = 1;
        return -1;
    }
    if (!full) {
        reject(im, err);
        key_destroy(key);
    }
    if (batch_replay(im) != 0) {
        if (full)
            key_destroy(key);
        return -1;
    }
    return full ? put_key(im, key) : 0;
}

/* Puts a key straight into the batch txn and, unless it changed nothing
 * (then replaying the batch can skip it), keeps it pending until the
 * commit (takes ownership). 0 stored/rejected, -1 fatal. */
static int
put_key(imp_t *im, hkp_key_t *key)
{
    const char *err;
    int unchanged;

    if (pend_push(im, key) != 0) {
        key_destroy(key);
        return -1;
    }
    if (im->txn == NULL && batch_begin(im) != 0)
        return -1;
    if (put_pending(im, im->npend - 1, &unchanged, &err) != 0)
        return batch_failed(im, err);
    if (unchanged)
        key_destroy(pend_pop(im));
    if (im->inbatch >= im->batch
        || im->pendbytes >= RECONSVC_IMPORT_BATCH_BYTES)
        return batch_commit(im);
    return 0;
}

static int
key_cb(void *ctx, size_t index, hkp_key_t *key, const char *reason)
{
    imp_t *im = ctx;
    int r = 0;

    (void) index;
    if (im->fatal) {
        if (key != NULL)
            key_destroy(key);
        return 1;
    }
    im->nread++;
    if (key == NULL)
        reject(im, reason);
    else
        r = put_key(im, key);
    if ((im->nread & 255) == 0)
        progress(im, 0);
    return r != 0 ? 1 : 0;
}

/* Is there a plausible start of a key at p? A public-key packet header of
 * a supported version, followed by another packet or the end. */
static int
key_starts_at(const uint8_t *buf, size_t len, size_t p)
{
    hkp_pkt_t pkt;
    size_t used, used2;
    const char *err;

    if ((buf[p] & 0x80) == 0)
        return 0;
    if (hkp_pkt_read(buf + p, len - p, &pkt, &used, &err) != 0
        || pkt.tag != HKP_TAG_PUBKEY || pkt.len < 6)
        return 0;
    if (pkt.body[0] != 3 && pkt.body[0] != 4 && pkt.body[0] != 6
        && pkt.body[0] != 2)
        return 0;
    if (p + used == len)
        return 1;
    return hkp_pkt_read(buf + p + used, len - p - used, &pkt, &used2,
        &err) == 0;
}

/*
 * Feeds a binary packet stream to hkp_keys_parse() in chunks of at most
 * CHUNK_KEYS keys. After a framing error (which ends hkp_keys_parse()),
 * looks for the next plausible key start after the broken key and goes on
 * from there, so one damaged key does not lose the rest of a keydump.
 */
static void
import_blob(imp_t *im, const uint8_t *buf, size_t len)
{
    size_t pos = 0;

    while (pos < len && !im->fatal) {
        size_t q = pos, lastkey = pos, nkeys = 0, end = len;
        int framing = 0;
        const char *err = NULL;

        while (q < len) {
            hkp_pkt_t pkt;
            size_t used;
            if (hkp_pkt_read(buf + q, len - q, &pkt, &used, &err) != 0) {
                framing = 1;
                break;
            }
            if (pkt.tag == HKP_TAG_PUBKEY) {
                if (nkeys == CHUNK_KEYS) {
                    end = q;
                    break;
                }
                nkeys++;
                lastkey = q;
            }
            q += used;
        }

        if (!framing) {
            char perr[HKP_REASON_LEN];
            if (hkp_keys_parse(buf + pos, end - pos, NULL, key_cb, im, perr,
                    sizeof(perr)) != 0
                && !im->fatal)
                fprintf(stderr, "reconsvc import: %s: %s\n", im->fname,
                    perr);
            pos = end;
            continue;
        }

        /* Let the parser reach the same framing error: it rejects the
         * key in progress with the reason. */
        {
            char perr[HKP_REASON_LEN];
            (void) hkp_keys_parse(buf + pos, len - pos, NULL, key_cb, im,
                perr, sizeof(perr));
        }
        if (im->fatal)
            break;
        {
            size_t p = lastkey + 1;
            while (p < len && !key_starts_at(buf, len, p))
                p++;
            if (p < len)
                fprintf(stderr, "reconsvc import: %s: framing error at "
                    "offset %zu (%s); skipped %zu bytes to the next key\n",
                    im->fname, q, err ? err : "?", p - lastkey);
            else
                fprintf(stderr, "reconsvc import: %s: framing error at "
                    "offset %zu (%s); no key after it\n", im->fname, q,
                    err ? err : "?");
            pos = p;
        }
    }
}

/* Reads a whole file (or stdin for "-"). *mapped says whether to munmap. */
static int
load_file(const char *name, uint8_t **buf, size_t *len, int *mapped)
{
    int fd = 0;
    struct stat st;
    uint8_t *b = NULL;
    size_t n = 0, cap = 0;

    *buf = NULL;
    *len = 0;
    *mapped = 0;
    if (strcmp(name, "-") != 0) {
        fd = open(name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "reconsvc import: %s: %s\n", name,
                strerror(errno));
            return -1;
        }
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        if ((uint64_t) st.st_size > RECONSVC_MAX_IMPORT_FILE) {
            fprintf(stderr, "reconsvc import: %s: larger than %zu bytes\n",
                name, RECONSVC_MAX_IMPORT_FILE);
            goto fail;
        }
        if (st.st_size == 0)
            goto done;
        b = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (b == MAP_FAILED) {
            fprintf(stderr, "reconsvc import: %s: mmap: %s\n", name,
                strerror(errno));
            goto fail;
        }
        (void) madvise(b, (size_t) st.st_size, MADV_SEQUENTIAL);
        *buf = b;
        *len = (size_t) st.st_size;
        *mapped = 1;
        goto done;
    }
    for (;;) {
        ssize_t r;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 1 << 20;
            if (cap >= RECONSVC_MAX_IMPORT_FILE) {
                fprintf(stderr, "reconsvc import: %s: larger than %zu "
                    "bytes\n", name, RECONSVC_MAX_IMPORT_FILE);
                goto fail;
            }
            if (nc > RECONSVC_MAX_IMPORT_FILE)
                nc = RECONSVC_MAX_IMPORT_FILE;
            uint8_t *nb = realloc(b, nc);
            if (nb == NULL) {
                fprintf(stderr, "reconsvc import: %s: out of memory\n", name);
                goto fail;
            }
            b = nb;
            cap = nc;
        }
        r = read(fd, b + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "reconsvc import: %s: read: %s\n", name,
                strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t) r;
    }
    *buf = b;
    *len = n;
done:
    if (fd != 0)
        close(fd);
    return 0;
fail:
    free(b);
    if (fd != 0)
        close(fd);
    return -1;
}

static int
import_file(imp_t *im, const char *name)
{
    uint8_t *buf, *bin = NULL;
    size_t len, binlen = 0;
    int mapped, ret = 0;

    im->fname = strcmp(name, "-") == 0 ? "(stdin)" : name;
    if (load_file(name, &buf, &len, &mapped) != 0)
        return -1;
    /* OpenPGP packets start with a byte that has bit 7 set; text that
     * contains an armor header line is armored. */
    if (len > 0 && (buf[0] & 0x80) == 0
        && memmem(buf, len, "-----BEGIN PGP", 14) != NULL)
    {
        const char *err = NULL;
        int r = hkp_armor_decode(buf, len, &bin, &binlen, &err);
        if (r < 0) {
            fprintf(stderr, "reconsvc import: %s: %s\n", im->fname,
                err ? err : "armor error");
            ret = -1;
        } else if (r == 0) {
            fprintf(stderr, "reconsvc import: %s: no public key block\n",
                im->fname);
        } else
            import_blob(im, bin, binlen);
        free(bin);
    } else
        import_blob(im, buf, len);

    if (mapped)
        munmap(buf, len);
    else
        free(buf);
    return ret;
}

static int
parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *s == '\0' || *end != '\0' || v == 0
        || v > (unsigned long long) SIZE_MAX)
        return -1;
    *out = (size_t) v;
    return 0;
}

static void
import_usage(void)
{
    fprintf(stderr, "usage: reconsvc import --db DIR [--batch N] "
        "[--mapsize-gib N] [FILE...]\n"
        "  FILE \"-\" = stdin; with no FILE the database is only created\n");
}

int
reconsvc_import(int argc, char **argv)
{
    imp_t im;
    const char *dbdir = NULL;
    size_t mapgib = 0;
    char err[512];
    const char *e2 = NULL;
    int i, ret = 0;

    memset(&im, 0, sizeof(im));
    im.batch = RECONSVC_IMPORT_BATCH;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (strcmp(a, "--db") == 0 && i + 1 < argc)
            dbdir = argv[++i];
        else if (strcmp(a, "--batch") == 0 && i + 1 < argc) {
            if (parse_size(argv[++i], &im.batch) != 0) {
                fprintf(stderr, "reconsvc import: bad --batch\n");
                return 2;
            }
        } else if (strcmp(a, "--mapsize-gib") == 0 && i + 1 < argc) {
            if (parse_size(argv[++i], &mapgib) != 0 || mapgib > (1u << 20)) {
                fprintf(stderr, "reconsvc import: bad --mapsize-gib\n");
                return 2;
            }
        } else {
            fprintf(stderr, "reconsvc import: unknown option %s\n", a);
            import_usage();
            return 2;
        }
    }
    if (dbdir == NULL) {       /* no FILE: just create/open the database */
        import_usage();
        return 2;
    }

    if (hkp_db_open(&im.db, dbdir, HKP_DB_NOSYNC,
            mapgib * (size_t) 1024 * 1024 * 1024, err, sizeof(err)) != 0)
    {
        fprintf(stderr, "reconsvc import: %s\n", err);
        return 1;
    }
    /* Prefix tree updates are collected per batch (see batch_commit). */
    im.db.ptree_batch = hkp_ptree_batch_new();
    if (im.db.ptree_batch == NULL) {
        fprintf(stderr, "reconsvc import: out of memory\n");
        hkp_db_close(&im.db);
        return 1;
    }
    im.progress = isatty(2);
    im.t0 = im.tlast = ev_now();

    for (; i < argc && !im.fatal; i++) {
        if (import_file(&im, argv[i]) != 0)
            ret = 1;
    }
    if (im.txn != NULL) {
        if (im.fatal)
            batch_abort(&im);
        else
            (void) batch_commit(&im);
    }
    pend_clear(&im);
    free(im.pend);
    progress(&im, 1);
    if (hkp_db_sync(&im.db, &e2) != 0) {
        fprintf(stderr, "reconsvc import: sync: %s\n", e2);
        im.fatal = 1;
    }
    hkp_ptree_batch_free(im.db.ptree_batch);
    im.db.ptree_batch = NULL;
    hkp_db_close(&im.db);
    if (im.fatal)
        ret = 1;

    printf("read %zu, new %zu, merged %zu, unchanged %zu, rejected %zu\n",
        im.nread, im.nnew, im.nmerged, im.nunchanged, im.nrejected);
    for (size_t r = 0; r < im.nreasons; r++) {
        printf("rejected %zu: %s\n", im.reasons[r].count,
            im.reasons[r].reason);
        free(im.reasons[r].reason);
    }
    free(im.reasons);
    if (fflush(stdout) != 0)
        ret = 1;
    return ret;
}
