/*
 * `reconsvc run`: options, then the event loop (loop.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "addr.h"
#include "loop.h"
#include "msg.h"
#include "run.h"
#include "fetch.h"
#include "session.h"
#include "store.h"

static void
usage(void)
{
    fprintf(stderr,
        "usage: reconsvc run --db DIR --listen ADDR:PORT --http-port N\n"
        "           [--create] [--membership FILE] [--gossip SECONDS] [--hostname IP]\n"
        "           [--log FILE] [--config-timeout S] [--session-timeout S]\n"
        "           [--idle-timeout S] [--fetch-timeout S] [--max-elements N]\n"
        "           [--progress-time S] [--fetch-progress S] [--profiles LIST]\n"
        "  Gossips with SKS peers (recon on ADDR:PORT; keys fetched over\n"
        "  /pks/hashquery; N is the HKP port announced to peers).\n"
        "  The database must exist (reconsvc import makes one); --create\n"
        "  makes an empty one if DIR has none, for a node that joins by recon.\n"
        "  Defaults: membership $HKP_VAR/membership, gossip 60 s (+-5%%),\n"
        "  config timeout 45 s, session 3600 s, idle 300 s, fetch 180 s.\n"
        "  --progress-time: a session may last this long (default %d s) plus\n"
        "  %d ms per difference found (the minimum-progress rule).\n"
        "  --fetch-progress: a long fetch logs its progress (and writes it\n"
        "  for op=stats) this often (default %d s).\n"
        "  --max-elements: the most keys one session may find missing, and\n"
        "  the largest Elements frame read (default %u, at most %u; 16 bytes\n"
        "  of memory each).\n"
        "  --profiles: the hash profiles peers may use, in the order tried\n"
        "  (default %s; known: %s); the database keeps a prefix\n"
        "  tree for each (and always sks's).\n", SESS_PROGRESS_BASE_DEFAULT,
        SESS_PROGRESS_PER_DIFF_MS, FETCH_PROGRESS_SECS,
        RECON_MAX_ELEMENTS_DEFAULT,
        RECON_MAX_ELEMENTS_CEIL, RECON_PROFILES_DEFAULT, hkp_profile_names());
}

static int
num(const char *opt, const char *v, double min, double max, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || !(d >= min && d <= max)) {
        fprintf(stderr, "reconsvc run: bad %s \"%s\"\n", opt, v);
        return -1;
    }
    *out = d;
    return 0;
}

/* --listen ADDR:PORT (or [V6ADDR]:PORT): the port must be a decimal
 * number 1-65535 (addr.h), so "127.0.0.1:99999" is refused rather than
 * wrapped by the resolver. The address itself is checked when the socket
 * is bound. */
static int
check_listen(const char *v)
{
    char host[ADDR_HOST_LEN];
    unsigned port;
    if (addr_parse_hostport(v, host, sizeof(host), &port) != 0) {
        fprintf(stderr, "reconsvc run: --listen wants ADDR:PORT with a port "
            "1-%d, not \"%s\"\n", ADDR_PORT_MAX, v);
        return -1;
    }
    return 0;
}

/* A mistyped --db must not become a new empty database that then gossips
 * and re-fetches the world: without --create, DIR must hold one. Says why
 * on stderr and returns 1 when it does not. */
static int
db_missing(const char *dir)
{
    char path[4096];
    struct stat st;
    int n = snprintf(path, sizeof(path), "%s/data.mdb", dir);
    if (n < 0 || (size_t) n >= sizeof(path)) {
        fprintf(stderr, "reconsvc run: --db path too long\n");
        return 1;
    }
    if (stat(path, &st) == 0)
        return 0;
    if (errno == EACCES)
        fprintf(stderr, "reconsvc run: %s: permission denied (the database "
            "belongs to another user? run as its owner)\n", dir);
    else
        fprintf(stderr, "reconsvc run: no database at %s (%s); create one "
            "with `reconsvc import --db %s [FILE...]`, or pass --create to "
            "start an empty node\n", dir, strerror(errno), dir);
    return 1;
}

int
reconsvc_run(int argc, char **argv)
{
    run_opts_t o;
    double port = 0;
    static char ms_default[4096];

    memset(&o, 0, sizeof(o));
    o.gossip = 60;
    o.config_timeout = 45;
    o.session_timeout = 3600;
    o.idle_timeout = 300;
    o.progress_time = SESS_PROGRESS_BASE_DEFAULT;
    o.fetch_timeout = 180;
    o.max_elements = RECON_MAX_ELEMENTS_DEFAULT;
    o.profiles = RECON_PROFILES_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        }
        if (strcmp(a, "--create") == 0) {
            o.create = 1;
            continue;
        }
        if (v == NULL) {
            fprintf(stderr, "reconsvc run: %s needs a value\n", a);
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--db") == 0)
            o.db_dir = v;
        else if (strcmp(a, "--listen") == 0) {
            if (check_listen(v) != 0)
                return 2;
            o.listen = v;
        }
        else if (strcmp(a, "--membership") == 0)
            o.membership = v;
        else if (strcmp(a, "--hostname") == 0)
            o.hostname = v;
        else if (strcmp(a, "--log") == 0)
            o.log = v;
        else if (strcmp(a, "--profiles") == 0) {
            unsigned mask;
            char bad[64];
            if (hkp_db_profiles_parse(v, &mask, bad, sizeof(bad)) != 0) {
                fprintf(stderr, "reconsvc run: --profiles: unknown profile "
                    "\"%s\" (known: %s)\n", bad, hkp_profile_names());
                return 2;
            }
            o.profiles = v;
        }
        else if (strcmp(a, "--http-port") == 0) {
            if (num(a, v, 1, 65535, &port) != 0)
                return 2;
            o.http_port = (uint32_t) port;
        } else if (strcmp(a, "--gossip") == 0) {
            if (num(a, v, 0.1, 1e6, &o.gossip) != 0)
                return 2;
        } else if (strcmp(a, "--config-timeout") == 0) {
            if (num(a, v, 0.1, 1e6, &o.config_timeout) != 0)
                return 2;
        } else if (strcmp(a, "--session-timeout") == 0) {
            if (num(a, v, 0.1, 1e7, &o.session_timeout) != 0)
                return 2;
        } else if (strcmp(a, "--fetch-progress") == 0) {
            if (num(a, v, 0.05, 1e6, &o.fetch_progress) != 0)
                return 2;
        } else if (strcmp(a, "--progress-time") == 0) {
            if (num(a, v, 0.1, 1e7, &o.progress_time) != 0)
                return 2;
        } else if (strcmp(a, "--idle-timeout") == 0) {
            if (num(a, v, 0.1, 1e7, &o.idle_timeout) != 0)
                return 2;
        } else if (strcmp(a, "--max-elements") == 0) {
            double me;
            if (num(a, v, 1, RECON_MAX_ELEMENTS_CEIL, &me) != 0)
                return 2;
            if (me != (double) (size_t) me) {
                fprintf(stderr, "reconsvc run: bad %s \"%s\" (a whole "
                    "number)\n", a, v);
                return 2;
            }
            o.max_elements = (size_t) me;
        } else if (strcmp(a, "--fetch-timeout") == 0) {
            if (num(a, v, 0.1, 1e6, &o.fetch_timeout) != 0)
                return 2;
        } else {
            fprintf(stderr, "reconsvc run: unknown option %s\n", a);
            usage();
            return 2;
        }
    }
    if (o.db_dir == NULL || o.listen == NULL || o.http_port == 0) {
        fprintf(stderr, "reconsvc run: --db, --listen and --http-port are "
            "required\n");
        usage();
        return 2;
    }
    if (!o.create && db_missing(o.db_dir))
        return 1;
    if (o.membership == NULL) {
        const char *var = getenv("HKP_VAR");
        snprintf(ms_default, sizeof(ms_default), "%s/membership",
            var && *var ? var : "var");
        o.membership = ms_default;
    }
    return recon_loop_run(&o);
}
