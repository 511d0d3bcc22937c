/*
 * `reconsvc run`: options, then the event loop (loop.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "run.h"

static void
usage(void)
{
    fprintf(stderr,
        "usage: reconsvc run --db DIR --listen ADDR:PORT --http-port N\n"
        "           [--membership FILE] [--gossip SECONDS] [--hostname IP]\n"
        "           [--log FILE] [--config-timeout S] [--session-timeout S]\n"
        "           [--idle-timeout S] [--fetch-timeout S]\n"
        "  Gossips with SKS peers (recon on ADDR:PORT; keys fetched over\n"
        "  /pks/hashquery; N is the HKP port announced to peers).\n"
        "  Defaults: membership $HKP_VAR/membership, gossip 60 s (+-5%%),\n"
        "  config timeout 45 s, session 3600 s, idle 300 s, fetch 180 s.\n");
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
 * number 1-65535, so "127.0.0.1:99999" is refused rather than wrapped by
 * the resolver. The address itself is checked when the socket is bound. */
static int
check_listen(const char *v)
{
    const char *colon = strrchr(v, ':'), *p;
    unsigned long port = 0;
    if (colon == NULL || (v[0] == '[' && colon[-1] != ']')) {
        fprintf(stderr, "reconsvc run: --listen wants ADDR:PORT, not \"%s\"\n",
            v);
        return -1;
    }
    for (p = colon + 1; *p >= '0' && *p <= '9' && port <= 65535; p++)
        port = port * 10 + (unsigned long) (*p - '0');
    if (p == colon + 1 || *p != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "reconsvc run: bad --listen port \"%s\" (1-65535)\n",
            colon + 1);
        return -1;
    }
    return 0;
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
    o.fetch_timeout = 180;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
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
        } else if (strcmp(a, "--idle-timeout") == 0) {
            if (num(a, v, 0.1, 1e7, &o.idle_timeout) != 0)
                return 2;
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
    if (o.membership == NULL) {
        const char *var = getenv("HKP_VAR");
        snprintf(ms_default, sizeof(ms_default), "%s/membership",
            var && *var ? var : "var");
        o.membership = ms_default;
    }
    return recon_loop_run(&o);
}
