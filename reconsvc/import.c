/*
 * reconsvc import: bulk-load keys from keydump files (binary or armored)
 * into the LMDB environment through the writer (writer.h).
 *
 * One write transaction per batch of keys, through the writer (writer.h):
 * keys go straight into it and stay in memory until it commits; when a
 * key's put fails, the writer aborts the txn and stores the keys before
 * that one again, without it (rare: most bad keys are rejected by the
 * parser). The prefix tree changes of a batch are applied once, at its
 * commit. An interrupted import (kill -9) leaves a consistent older state
 * (LMDB never tears a commit), at worst missing the last batches, and is
 * simply re-run.
 *
 * Durability: a power loss mid-import must never corrupt a database that
 * another process serves.
 *   - A database this import creates, while no other process has it open:
 *     MDB_NOSYNC (no fsync per batch), synced once before exit. Should
 *     another process open it meanwhile (nginx retries every second), the
 *     import syncs what it wrote and goes on as below.
 *   - Any other database (the live one): MDB_NOMETASYNC. Each commit
 *     fsyncs the data pages, and the meta page that makes them current
 *     goes to disk with the next commit: a power loss can undo the last
 *     batch, never tear the database. Batches are larger
 *     (RECONSVC_IMPORT_LIVE_BATCH*) so the one fsync per batch costs
 *     little.
 * "Open by another process": LMDB holds a shared fcntl lock on byte 0 of
 * lock.mdb for every open environment; F_GETLK for a write lock there
 * reports another process's (the caller's own locks never conflict). The
 * fd it is asked through stays open until the environment is closed:
 * closing a second fd of lock.mdb would drop this process's LMDB locks.
 *
 * Where: --db DIR must exist or be one level below an existing directory
 * (created, and said so); a whole missing path (a mistyped --db) is
 * refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "armor.h"
#include "compact.h"
#include "file.h"
#include "ev.h"
#include "hkp_limits.h"
#include "import.h"
#include "key.h"
#include "packet.h"
#include "profile_warm.h"
#include "store.h"
#include "writer.h"

/* Keys handed to hkp_keys_parse() at a time (below HKP_MAX_KEYS_PER_BLOB). */
#define CHUNK_KEYS  65536

typedef struct {
    char   *reason;
    size_t  count;
} reason_t;

typedef struct {
    hkp_db_t      db;
    hkp_writer_t  w;            /* the batches (policy: batch, bytes) */
    hkp_key_t   **pend;         /* keys of the open batch that changed it,
                                   in order (owned; the writer may replay
                                   them until it commits) */
    size_t        npend, cappend;
    int           fatal;        /* I/O or DB error: stop */
    const char   *fname;

    size_t        nread, nnew, nmerged, nunchanged, nrejected;
    reason_t     *reasons;
    size_t        nreasons;

    hkp_warm_t   *warm;         /* profile hashes and self-signatures
                                   ahead, or NULL */
    const hkp_profile_t *warm_profs[HKP_PROFILE_MAX];

    int           progress;     /* stderr is a terminal */
    double        t0, tlast;

    int           nosync;       /* MDB_NOSYNC on (a db created here) */
    int           lockfd;       /* lock.mdb, to see other processes */
    const char   *dbdir;
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

static void
pend_clear(imp_t *im)
{
    for (size_t i = 0; i < im->npend; i++)
        key_destroy(im->pend[i]);
    im->npend = 0;
}

static int
pend_push(imp_t *im, hkp_key_t *key)
{
    if (im->npend == im->cappend) {
        size_t nc = im->cappend ? im->cappend * 2 : 256;
        hkp_key_t **p = realloc(im->pend, nc * sizeof(*p));
        if (p == NULL)
            return -1;
        im->pend = p;
        im->cappend = nc;
    }
    im->pend[im->npend++] = key;
    return 0;
}

/* The database this import created is open elsewhere now: from here on
 * every commit is synced (MDB_NOMETASYNC), after syncing what was done. */
static int
stop_nosync(imp_t *im)
{
    int rc;

    if (!im->nosync)
        return 0;
    if ((rc = hkp_db_sync(&im->db)) != 0
        || (rc = mdb_env_set_flags(im->db.env, MDB_NOSYNC, 0)) != 0
        || (rc = mdb_env_set_flags(im->db.env, MDB_NOMETASYNC, 1)) != 0)
        return rc;
    im->nosync = 0;
    fprintf(stderr, "reconsvc import: %s is open in another process now: "
        "synced commits from here on\n", im->dbdir);
    return 0;
}

static void db_error(imp_t *im, int rc);

/* The writer committed a batch: count it; its keys are no longer needed. */
static void
batch_committed(void *arg, const hkp_writer_count_t *batch)
{
    imp_t *im = arg;
    int rc;

    im->nnew += batch->nnew;
    im->nmerged += batch->nmerged;
    pend_clear(im);
    if (im->nosync && reconsvc_others_open(im->lockfd) && (rc = stop_nosync(im)) != 0)
        db_error(im, rc);
}

static void
db_error(imp_t *im, int rc)
{
    fprintf(stderr, "reconsvc import: %s: database error: %s%s\n",
        im->fname, hkp_strerror(rc), rc == MDB_MAP_FULL
        ? " (raise --mapsize-gib)" : "");
    im->fatal = 1;
}

/*
 * Puts a key into the batch (takes ownership). A refused key is counted
 * with its reason (the writer stores the keys before it again without
 * it: each refusal costs at most one replay of the keys since the last
 * commit); a key that changed the database is kept until the batch
 * commits. 0 stored/rejected, -1 fatal.
 */
static int
put_key(imp_t *im, hkp_key_t *key)
{
    hkp_put_result_t res;
    int rc = hkp_writer_put(&im->w, key, &res);

    if (rc != 0) {
        if (hkp_err_is_key(rc))
            reject(im, res.reason);
        else
            db_error(im, rc);
        key_destroy(key);
        return im->fatal ? -1 : 0;
    }
    if (res.status == HKP_PUT_UNCHANGED) {
        im->nunchanged++;
        key_destroy(key);           /* never replayed */
        return 0;
    }
    if (pend_push(im, key) != 0) {
        fprintf(stderr, "reconsvc import: out of memory\n");
        hkp_writer_abort(&im->w);   /* it may still point at key */
        key_destroy(key);
        im->fatal = 1;
        return -1;
    }
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
    else if (im->warm == NULL
             || (key = hkp_warm_push(im->warm, key)) != NULL)
        r = put_key(im, key);       /* with a window: its oldest key */
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

/* --profiles LIST: the maintained set, in a txn of its own. 0 or -1. */
static int
import_profiles(hkp_db_t *db, const char *list)
{
    char     err[512], bad[64];
    unsigned mask;
    MDB_txn *txn;
    int      changed, rc;

    if (hkp_db_profiles_parse(list, &mask, bad, sizeof(bad)) != 0) {
        fprintf(stderr, "reconsvc import: --profiles: unknown profile %s "
            "(profiles: %s)\n", bad, hkp_profile_names());
        return -1;
    }
    if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != 0) {
        fprintf(stderr, "reconsvc import: %s\n", hkp_strerror(rc));
        return -1;
    }
    if (hkp_db_profiles_set(db, txn, mask, &changed, err, sizeof(err)) != 0)
    {
        mdb_txn_abort(txn);
        fprintf(stderr, "reconsvc import: profiles: %s\n", err);
        return -1;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        fprintf(stderr, "reconsvc import: %s\n", hkp_strerror(rc));
        return -1;
    }
    return 0;
}

/* The keys the window still holds, stored in order (or freed after a
 * fatal error). */
static void
warm_drain(imp_t *im)
{
    hkp_key_t *key;

    if (im->warm == NULL)
        return;
    while ((key = hkp_warm_pop(im->warm)) != NULL) {
        if (im->fatal)
            key_destroy(key);
        else
            (void) put_key(im, key);
    }
}

/* The maintained profiles (meta "profiles"), and whether one of them
 * verifies every self-signature (profile.h). 0 or -1 (reported). */
static int
import_mask(imp_t *im, unsigned *mask, int *verifies)
{
    MDB_txn *txn = NULL;
    int      rc;

    *verifies = 0;
    if ((rc = mdb_txn_begin(im->db.env, NULL, MDB_RDONLY, &txn)) != 0
        || (rc = hkp_db_profiles_get(&im->db, txn, mask)) != 0)
    {
        if (txn != NULL)
            mdb_txn_abort(txn);
        fprintf(stderr, "reconsvc import: profiles: %s\n", hkp_strerror(rc));
        return -1;
    }
    mdb_txn_abort(txn);
    for (size_t i = 0; i < hkp_profile_count(); i++)
        if ((*mask & (1u << i)) && hkp_profile_at(i)->verifies)
            *verifies = 1;
    return 0;
}

/* Every profile the database keeps but sks hashed ahead, and (selfsig)
 * the self-signatures of the records verified, by nthreads threads
 * (profile_warm.h). Without one, or with 0 threads, it loads as before;
 * the result is the same either way. */
static void
warm_start(imp_t *im, unsigned mask, int selfsig, unsigned nthreads)
{
    size_t n = 0;

    for (size_t i = 1; i < hkp_profile_count(); i++)
        if (mask & (1u << i))
            im->warm_profs[n++] = hkp_profile_at(i);
    im->warm = hkp_warm_new(im->warm_profs, n, selfsig, nthreads);
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
            /* an oversized packet is no framing error: the parser skips
             * it with its key ("packet too large (N > M bytes)") */
            if (hkp_pkt_read_skip(buf + q, len - q, &pkt, &used, &err) < 0) {
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
            warm_drain(im);
            pos = end;
            continue;
        }

        /* Let the parser reach the same framing error: it rejects the
         * key in progress with the reason. */
        {
            char perr[HKP_REASON_LEN];
            (void) hkp_keys_parse(buf + pos, len - pos, NULL, key_cb, im,
                perr, sizeof(perr));
            warm_drain(im);
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

static int
import_file(imp_t *im, const char *name)
{
    hkp_file_t f;
    int        ret = 0, rc;

    im->fname = strcmp(name, "-") == 0 ? "(stdin)" : name;
    rc = hkp_file_read(name, RECONSVC_MAX_IMPORT_FILE,
        HKP_FILE_STDIN | HKP_FILE_MMAP, &f);
    if (rc == HKP_EFBIG) {
        fprintf(stderr, "reconsvc import: %s: larger than %zu bytes\n",
            name, RECONSVC_MAX_IMPORT_FILE);
        return -1;
    }
    if (rc != 0) {
        fprintf(stderr, "reconsvc import: %s: %s\n", name, hkp_strerror(rc));
        return -1;
    }
    if (hkp_armor_sniff(f.data, f.len)) {
        const char *err = NULL;
        uint8_t    *bin = NULL;
        size_t      binlen = 0;
        int         r = hkp_armor_decode(f.data, f.len, &bin, &binlen, &err);
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
        import_blob(im, f.data, f.len);
    hkp_file_free(&f);
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

/*
 * --db DIR: an existing directory, or one level below an existing one
 * (created here, and said so); never a whole missing path. *fresh is set
 * when DIR holds no database yet. 0, or -1 (reported).
 */
static int
db_dir(const char *dbdir, int *fresh)
{
    struct stat st;
    char        buf[PATH_MAX], data[PATH_MAX + 16], *parent;

    *fresh = 0;
    if (stat(dbdir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            fprintf(stderr, "reconsvc import: %s is not a directory\n", dbdir);
            return -1;
        }
        snprintf(data, sizeof(data), "%s/data.mdb", dbdir);
        if (stat(data, &st) != 0 && errno == ENOENT) {
            *fresh = 1;
            fprintf(stderr, "reconsvc import: creating a new database in "
                "%s\n", dbdir);
        }
        return 0;
    }
    if (errno != ENOENT) {
        fprintf(stderr, "reconsvc import: %s: %s\n", dbdir, strerror(errno));
        return -1;
    }
    if (strlen(dbdir) >= sizeof(buf)) {
        fprintf(stderr, "reconsvc import: %s: %s\n", dbdir,
            strerror(ENAMETOOLONG));
        return -1;
    }
    memcpy(buf, dbdir, strlen(dbdir) + 1);
    parent = dirname(buf);
    if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "reconsvc import: neither %s nor its parent %s "
            "exists: a database is created only in an existing directory "
            "or one level below one (is --db mistyped? else create %s "
            "first)\n", dbdir, parent, parent);
        return -1;
    }
    if (mkdir(dbdir, 0755) != 0) {
        fprintf(stderr, "reconsvc import: mkdir %s: %s\n", dbdir,
            strerror(errno));
        return -1;
    }
    *fresh = 1;
    fprintf(stderr, "reconsvc import: created %s for a new database\n",
        dbdir);
    return 0;
}

static void
import_usage(void)
{
    fprintf(stderr, "usage: reconsvc import --db DIR [--batch N] "
        "[--mapsize-gib N] [--profiles LIST] [--verify-threads N]\n"
        "           [--selfsig auto|now|later] [FILE...]\n"
        "  FILE \"-\" = stdin; with no FILE the database is only created\n"
        "  --profiles: make LIST the maintained hash profiles first (as\n"
        "  reconsvc run --profiles does), so the keys enter their trees too\n"
        "  --verify-threads: threads verifying signatures ahead for those\n"
        "  profiles (default: one per CPU but one; 0: none)\n"
        "  --selfsig: write each key's self-signature record as it is\n"
        "  stored (now), or leave the records to reconsvc run, which fills\n"
        "  them in the background (later; lookups verify such keys\n"
        "  meanwhile); auto (the default): now when a maintained profile\n"
        "  verifies self-signatures anyway (hockeypuck), else later\n");
}

/* --selfsig */
enum { SELFSIG_AUTO, SELFSIG_NOW, SELFSIG_LATER };

int
reconsvc_import(int argc, char **argv)
{
    imp_t im;
    hkp_writer_policy_t policy;
    const char *dbdir = NULL, *profiles = NULL;
    size_t threads = hkp_warm_threads();
    size_t mapgib = 0, batch = RECONSVC_IMPORT_BATCH;
    char err[512];
    int i, rc, ret = 0, fresh = 0, batch_set = 0, selfsig = SELFSIG_AUTO;
    int verifies = 0, later;
    unsigned mask = 1;

    memset(&im, 0, sizeof(im));
    memset(&policy, 0, sizeof(policy));
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
            if (parse_size(argv[++i], &batch) != 0) {
                fprintf(stderr, "reconsvc import: bad --batch\n");
                return 2;
            }
            batch_set = 1;
        } else if (strcmp(a, "--mapsize-gib") == 0 && i + 1 < argc) {
            if (parse_size(argv[++i], &mapgib) != 0 || mapgib > (1u << 20)) {
                fprintf(stderr, "reconsvc import: bad --mapsize-gib\n");
                return 2;
            }
        } else if (strcmp(a, "--profiles") == 0 && i + 1 < argc) {
            profiles = argv[++i];
        } else if (strcmp(a, "--selfsig") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "auto") == 0)
                selfsig = SELFSIG_AUTO;
            else if (strcmp(v, "now") == 0)
                selfsig = SELFSIG_NOW;
            else if (strcmp(v, "later") == 0)
                selfsig = SELFSIG_LATER;
            else {
                fprintf(stderr, "reconsvc import: bad --selfsig (auto, now "
                    "or later)\n");
                return 2;
            }
        } else if (strcmp(a, "--verify-threads") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "0") == 0)
                threads = 0;
            else if (parse_size(v, &threads) != 0
                     || threads > HKP_WARM_MAX_THREADS)
            {
                fprintf(stderr, "reconsvc import: bad --verify-threads "
                    "(0 to %d)\n", HKP_WARM_MAX_THREADS);
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

    im.lockfd = -1;
    im.dbdir = dbdir;
    if (db_dir(dbdir, &fresh) != 0)
        return 1;
    /* before the env is opened: only other processes hold its lock */
    im.lockfd = reconsvc_lock_open(dbdir);
    im.nosync = fresh && !reconsvc_others_open(im.lockfd);
    if (hkp_db_open(&im.db, dbdir,
            im.nosync ? HKP_DB_NOSYNC | HKP_DB_WRITEMAP : HKP_DB_NOMETASYNC,
            mapgib * (size_t) 1024 * 1024 * 1024, err, sizeof(err)) != 0)
    {
        fprintf(stderr, "reconsvc import: %s\n", err);
        if (im.lockfd >= 0)
            close(im.lockfd);
        return 1;
    }
    if (!im.nosync && !batch_set) {
        /* synced commits: fewer, larger batches */
        batch = RECONSVC_IMPORT_LIVE_BATCH;
    }
    if ((profiles != NULL && import_profiles(&im.db, profiles) != 0)
        || import_mask(&im, &mask, &verifies) != 0)
    {
        hkp_db_close(&im.db);
        if (im.lockfd >= 0)
            close(im.lockfd);
        return 1;
    }
    /* the records: written as keys are stored when a maintained profile
     * verifies their self-signatures anyway (cache hits then), else left
     * to reconsvc run (store.h: the fill mark) */
    later = selfsig == SELFSIG_LATER || (selfsig == SELFSIG_AUTO && !verifies);
    /* Prefix tree updates are collected per batch, applied at commit. */
    policy.max_keys = batch;
    policy.max_bytes = im.nosync ? RECONSVC_IMPORT_BATCH_BYTES
                                 : RECONSVC_IMPORT_LIVE_BATCH_BYTES;
    policy.flags = HKP_WRITER_TREE_BATCH | HKP_WRITER_ADOPT_MAP
                   | HKP_WRITER_GROW_MAP
                   | (later ? HKP_WRITER_SELFSIG_LATER : 0);
    policy.on_commit = batch_committed;
    policy.arg = &im;
    if (hkp_writer_open(&im.w, &im.db, &policy) != 0) {
        fprintf(stderr, "reconsvc import: out of memory\n");
        hkp_db_close(&im.db);
        if (im.lockfd >= 0)
            close(im.lockfd);
        return 1;
    }
    warm_start(&im, mask, !later, (unsigned) threads);
    im.progress = isatty(2);
    im.t0 = im.tlast = ev_now();

    for (; i < argc && !im.fatal; i++) {
        if (import_file(&im, argv[i]) != 0)
            ret = 1;
    }
    warm_drain(&im);
    hkp_warm_free(im.warm);
    if (im.fatal)
        hkp_writer_abort(&im.w);
    else if ((rc = hkp_writer_commit(&im.w)) != 0) {
        im.fname = "(last batch)";
        db_error(&im, rc);
    }
    hkp_writer_close(&im.w);
    pend_clear(&im);
    free(im.pend);
    progress(&im, 1);
    if (im.nosync && !im.fatal) {
        /* a new database no one else has open: every page full, no free
         * list (compact.c); it is synced and closed either way */
        if (reconsvc_repack(&im.db, dbdir, im.lockfd, "reconsvc import") < 0)
            im.fatal = 1;
    } else {
        if ((rc = hkp_db_sync(&im.db)) != 0) {
            fprintf(stderr, "reconsvc import: sync: %s\n", hkp_strerror(rc));
            im.fatal = 1;
        }
        hkp_db_close(&im.db);
    }
    if (im.lockfd >= 0)
        close(im.lockfd);           /* after the env: see the top */
    if (im.fatal)
        ret = 1;

    printf("read %zu, new %zu, merged %zu, unchanged %zu, rejected %zu\n",
        im.nread, im.nnew, im.nmerged, im.nunchanged, im.nrejected);
    if (later && im.nnew + im.nmerged > 0)
        fprintf(stderr, "reconsvc import: self-signature records not "
            "written (--selfsig later): reconsvc run writes them in the "
            "background, reconsvc check --fill-selfsig at once; lookups "
            "verify those keys until then\n");
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
