/*
 * `reconsvc migrate` (migrate.h): an SKS node's sksconf turned into this
 * keyserver's nginx and reconsvc settings.
 *
 * sksconf is one "name: value" per line ('#' starts a comment line; a
 * name with no value is a flag), the same names as SKS's command-line
 * options (doc/recon.md 6). Every setting is either carried over, refused
 * (a value this node cannot honour, e.g. mbar other than 5, which would
 * stop it peering), or named as not needed with the reason.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "migrate.h"

#define SKSCONF_MAX_BYTES   (64 * 1024)   /* sksconf and membership files */
#define SKSCONF_MAX_LINE    1024
#define SKSCONF_MAX_ADDRS   8             /* addresses per *_address */
#define SKSCONF_ADDR_LEN    INET6_ADDRSTRLEN
#define SKSCONF_NAME_LEN    255           /* hostname (DNS limit) */
#define SKSCONF_OUT_LEN     4096          /* one generated file */

/* recon parameters fixed by the protocol profile we speak (doc/recon.md) */
#define RECON_MBAR          5
#define RECON_BITQUANTUM    2

typedef struct {
    char      addr[SKSCONF_MAX_ADDRS][SKSCONF_ADDR_LEN];
    size_t    n;
} addrs_t;

typedef struct {
    char      hostname[SKSCONF_NAME_LEN + 1];
    char      contact[64];
    unsigned  recon_port, hkp_port;
    addrs_t   recon, hkp;
    int       port80, dontgossip, recon_set;
    double    gossip_min, session_min, config_s, fetch_s; /* < 0: unset */
    int       errors;
} sks_t;

/* Settings we need not carry over, and why. */
static const struct { const char *name, *why; } not_needed[] = {
    { "basedir", "file locations are the package's (/var/lib/hkp, /etc/hkp)" },
    { "debuglevel", "reconsvc logs one line per session and event" },
    { "from_addr", "no PKS e-mail sync" },
    { "sendmail_cmd", "no PKS e-mail sync" },
    { "initial_stat", "op=stats is computed per request" },
    { "stat_hour", "op=stats is computed per request" },
    { "membership_reload_interval", "the membership file is re-read when it changes" },
    { "pagesize", "Berkeley DB setting (LMDB here)" },
    { "keyid_pagesize", "Berkeley DB setting (LMDB here)" },
    { "meta_pagesize", "Berkeley DB setting (LMDB here)" },
    { "subkeyid_pagesize", "Berkeley DB setting (LMDB here)" },
    { "time_pagesize", "Berkeley DB setting (LMDB here)" },
    { "tqueue_pagesize", "Berkeley DB setting (LMDB here)" },
    { "word_pagesize", "Berkeley DB setting (LMDB here)" },
    { "ptree_pagesize", "Berkeley DB setting (LMDB here)" },
    { "dbconfig", "Berkeley DB setting (LMDB here)" },
    { "disable_log_diffs", "reconsvc writes no diff files" },
    { "max_recover", "unused by SKS 1.1.6 itself" },
    { "http_fetch_size", "reconsvc batches /pks/hashquery itself" },
    { "max_outstanding_recon_requests", "reconsvc pipelines within its own limit" },
    { "ptree_thresh_mult", "the prefix tree uses SKS's defaults" },
    { "recon_thresh_mult", "reconsvc uses SKS's defaults" },
    { "wserver_timeout", "nginx's timeouts apply (client_body_timeout, send_timeout)" },
    { "max_matches", "use hkp_max_results in hkp.conf" },
    { "hkp_max_keysize", "use hkp_max_key_size in hkp.conf" },
};

#define NNOT_NEEDED  (sizeof(not_needed) / sizeof(not_needed[0]))

static void
usage(void)
{
    fprintf(stderr,
        "usage: reconsvc migrate --sksconf FILE [--membership FILE] --out DIR\n"
        "  Writes this keyserver's settings from an SKS sksconf into DIR\n"
        "  (membership: default the file beside sksconf).\n");
}

/* Reads a whole small file (at most SKSCONF_MAX_BYTES) into *f, NUL-ended;
 * says why not on stderr. 0 or the code of hkp_file_read(). */
static int
read_small(const char *path, hkp_file_t *f)
{
    int rc = hkp_file_read(path, SKSCONF_MAX_BYTES, 0, f);

    if (rc != 0)
        fprintf(stderr, "reconsvc migrate: %s: %s\n", path,
            rc == HKP_EFBIG ? "larger than 64 KiB" : hkp_strerror(rc));
    return rc;
}

__attribute__((format(printf, 3, 4)))
static void
bad(sks_t *c, unsigned line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "reconsvc migrate: sksconf line %u: ", line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    c->errors++;
}

static int
parse_port(const char *v, unsigned *out)
{
    char *end;
    long p = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || p < 1 || p > 65535)
        return -1;
    *out = (unsigned) p;
    return 0;
}

static int
parse_num(const char *v, double max, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (*v == '\0' || *end != '\0' || !(d > 0 && d <= max))
        return -1;
    *out = d;
    return 0;
}

/* A whitespace-separated list of IPv4/IPv6 addresses. */
static int
parse_addrs(const char *v, addrs_t *a)
{
    char tmp[SKSCONF_MAX_LINE], *save, *tok;
    unsigned char bin[sizeof(struct in6_addr)];

    a->n = 0;
    snprintf(tmp, sizeof(tmp), "%s", v);
    for (tok = strtok_r(tmp, " \t", &save); tok != NULL;
         tok = strtok_r(NULL, " \t", &save))
    {
        if (a->n == SKSCONF_MAX_ADDRS || strlen(tok) >= SKSCONF_ADDR_LEN
            || (inet_pton(AF_INET, tok, bin) != 1
                && inet_pton(AF_INET6, tok, bin) != 1))
            return -1;
        strcpy(a->addr[a->n++], tok);
    }
    return a->n == 0 ? -1 : 0;
}

static int
valid_hostname(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > SKSCONF_NAME_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(v[i] == '.' || v[i] == '-'
              || (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'z')
              || (v[i] >= 'A' && v[i] <= 'Z')))
            return 0;
    return 1;
}

/* 0x + 8, 16 or 40 hex digits, as SKS's server_contact takes. */
static int
valid_contact(const char *v)
{
    size_t n = strlen(v);
    if (n < 2 || v[0] != '0' || (v[1] != 'x' && v[1] != 'X'))
        return 0;
    n -= 2;
    if (n != 8 && n != 16 && n != 40)
        return 0;
    for (size_t i = 2; v[i] != '\0'; i++)
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')
              || (v[i] >= 'A' && v[i] <= 'F')))
            return 0;
    return 1;
}

static void
setting(sks_t *c, unsigned line, const char *name, const char *v)
{
    double d;
    unsigned port;

    if (strcmp(name, "hostname") == 0) {
        if (!valid_hostname(v))
            bad(c, line, "hostname \"%s\" is not a host name", v);
        else
            strcpy(c->hostname, v);
    } else if (strcmp(name, "server_contact") == 0) {
        if (!valid_contact(v))
            bad(c, line, "server_contact \"%s\" is not 0x and 8, 16 or 40 "
                "hex digits", v);
        else
            snprintf(c->contact, sizeof(c->contact), "%s", v);
    } else if (strcmp(name, "recon_port") == 0
               || strcmp(name, "hkp_port") == 0)
    {
        if (parse_port(v, &port) != 0)
            bad(c, line, "%s \"%s\" is not a port 1-65535", name, v);
        else if (name[0] == 'r')
            c->recon_port = port;
        else
            c->hkp_port = port;
    } else if (strcmp(name, "baseport") == 0) {
        if (parse_port(v, &port) != 0 || port == 65535)
            bad(c, line, "baseport \"%s\" is not a port 1-65534", v);
        else {
            c->recon_port = port;
            c->hkp_port = port + 1;
        }
    } else if (strcmp(name, "recon_address") == 0
               || strcmp(name, "hkp_address") == 0)
    {
        if (parse_addrs(v, name[0] == 'r' ? &c->recon : &c->hkp) != 0)
            bad(c, line, "%s wants 1-%d IP addresses, not \"%s\"", name,
                SKSCONF_MAX_ADDRS, v);
        else if (name[0] == 'r')
            c->recon_set = 1;
    } else if (strcmp(name, "use_port_80") == 0) {
        c->port80 = 1;
    } else if (strcmp(name, "dontgossip") == 0) {
        c->dontgossip = 1;
    } else if (strcmp(name, "gossip_interval") == 0) {
        if (parse_num(v, 1e4, &d) != 0)
            bad(c, line, "gossip_interval \"%s\" is not a number of minutes", v);
        else
            c->gossip_min = d;
    } else if (strcmp(name, "reconciliation_timeout") == 0) {
        if (parse_num(v, 1e5, &d) != 0)
            bad(c, line, "reconciliation_timeout \"%s\" is not minutes", v);
        else
            c->session_min = d;
    } else if (strcmp(name, "reconciliation_config_timeout") == 0
               || strcmp(name, "missing_keys_timeout") == 0)
    {
        if (parse_num(v, 1e6, &d) != 0)
            bad(c, line, "%s \"%s\" is not seconds", name, v);
        else if (name[0] == 'r')
            c->config_s = d;
        else
            c->fetch_s = d;
    } else if (strcmp(name, "mbar") == 0 || strcmp(name, "q") == 0
               || strcmp(name, "bitquantum") == 0)
    {
        long want = name[0] == 'm' ? RECON_MBAR : RECON_BITQUANTUM;
        char *end;
        long n = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || n != want)
            bad(c, line, "%s %s: reconsvc speaks only %s %ld, as every SKS "
                "and Hockeypuck peer does", name, v, name, want);
    } else {
        for (size_t i = 0; i < NNOT_NEEDED; i++)
            if (strcmp(name, not_needed[i].name) == 0) {
                printf("not carried over: %s (%s)\n", name, not_needed[i].why);
                return;
            }
        printf("not carried over: %s (not an SKS 1.1.6 setting we know)\n",
            name);
    }
}

static int
parse_sksconf(const char *text, sks_t *c)
{
    unsigned line = 0;
    const char *p = text;

    while (*p != '\0') {
        const char *nl = strchr(p, '\n'), *end = nl ? nl : p + strlen(p);
        char buf[SKSCONF_MAX_LINE], *s, *colon, *v, *e;
        size_t n = (size_t) (end - p);

        line++;
        if (n >= sizeof(buf)) {
            bad(c, line, "longer than %d bytes", SKSCONF_MAX_LINE - 1);
            p = nl ? nl + 1 : end;
            continue;
        }
        memcpy(buf, p, n);
        buf[n] = '\0';
        p = nl ? nl + 1 : end;
        for (s = buf; *s == ' ' || *s == '\t'; s++)
            ;
        for (e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t'
             || e[-1] == '\r'); e--)
            ;
        *e = '\0';
        if (*s == '\0' || *s == '#')
            continue;
        if ((colon = strchr(s, ':')) == NULL) {
            bad(c, line, "not \"name: value\"");
            continue;
        }
        *colon = '\0';
        for (e = colon; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
            e[-1] = '\0';
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
            ;
        if (strlen(v) >= 2 && v[0] == '"' && v[strlen(v) - 1] == '"') {
            v[strlen(v) - 1] = '\0';
            v++;
        }
        setting(c, line, s, v);
    }
    return c->errors ? -1 : 0;
}

/* "ADDR:PORT" as nginx's listen and reconsvc's --listen take it. */
static void
hostport(char *out, size_t len, const char *addr, unsigned port)
{
    if (strchr(addr, ':') != NULL)
        snprintf(out, len, "[%s]:%u", addr, port);
    else
        snprintf(out, len, "%s:%u", addr, port);
}

static int
is_loopback(const char *a)
{
    return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0;
}

/* Picks the address reconsvc listens on (it takes one): the first IPv4
 * one, else the first. */
static const char *
recon_listen_addr(const addrs_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        if (strchr(a->addr[i], ':') == NULL)
            return a->addr[i];
    return a->addr[0];
}

static int
write_new(const char *dir, const char *name, const char *text, size_t len)
{
    char path[4096];
    int fd;
    ssize_t w;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "reconsvc migrate: %s: %s\n", path, strerror(errno));
        return -1;
    }
    w = write(fd, text, len);
    if (w < 0 || (size_t) w != len || close(fd) != 0) {
        fprintf(stderr, "reconsvc migrate: writing %s failed\n", path);
        return -1;
    }
    return 0;
}

static int
gen_nginx(const sks_t *c, const char *src, char *conf, char *site)
{
    char hp[SKSCONF_ADDR_LEN + 8];
    size_t n;
    int loop_only = 1;

    n = (size_t) snprintf(conf, SKSCONF_OUT_LEN,
        "# Written by `reconsvc migrate` from %s.\n"
        "# Goes to /etc/nginx/conf.d/hkp.conf (read inside http {}).\n\n"
        "hkp_db /var/lib/hkp/db;\n"
        "hkp_membership /etc/hkp/membership;\n"
        "hkp_recon_port %u;\n", src, c->recon_port);
    if (c->hostname[0] != '\0')
        n += (size_t) snprintf(conf + n, SKSCONF_OUT_LEN - n,
            "hkp_hostname %s;\n", c->hostname);
    if (c->contact[0] != '\0')
        n += (size_t) snprintf(conf + n, SKSCONF_OUT_LEN - n,
            "hkp_contact %s;\n", c->contact);
    if (n >= SKSCONF_OUT_LEN)
        return -1;

    n = (size_t) snprintf(site, SKSCONF_OUT_LEN,
        "# Written by `reconsvc migrate` from %s.\n"
        "# Goes to /etc/nginx/sites-available/hkp (linked from\n"
        "# sites-enabled/): SKS's hkp_address and hkp_port%s.\n"
        "server {\n", src, c->port80 ? ", and port 80 (use_port_80)" : "");
    for (size_t i = 0; i < c->hkp.n; i++)
        loop_only &= is_loopback(c->hkp.addr[i]);
    if (loop_only)
        n += (size_t) snprintf(site + n, SKSCONF_OUT_LEN - n,
            "    # SKS listened on loopback only, behind a proxy. nginx with\n"
            "    # this module is the public server itself: if that proxy was\n"
            "    # this nginx, put the public addresses here.\n");
    for (int p80 = 0; p80 <= c->port80; p80++)
        for (size_t i = 0; i < c->hkp.n && n < SKSCONF_OUT_LEN; i++) {
            hostport(hp, sizeof(hp), c->hkp.addr[i], p80 ? 80 : c->hkp_port);
            n += (size_t) snprintf(site + n, SKSCONF_OUT_LEN - n,
                "    listen %s;\n", hp);
        }
    if (n < SKSCONF_OUT_LEN)
        n += (size_t) snprintf(site + n, SKSCONF_OUT_LEN - n,
            "    server_name %s;\n\n"
            "    location /pks/ {\n"
            "        hkp on;\n"
            "    }\n"
            "}\n", c->hostname[0] ? c->hostname : "_");
    return n < SKSCONF_OUT_LEN ? 0 : -1;
}

static int
gen_default(const sks_t *c, const char *src, char *out)
{
    char hp[SKSCONF_ADDR_LEN + 8];
    size_t n;

    hostport(hp, sizeof(hp), recon_listen_addr(&c->recon), c->recon_port);
    n = (size_t) snprintf(out, SKSCONF_OUT_LEN,
        "# Written by `reconsvc migrate` from %s.\n"
        "# Goes to /etc/default/hkp-reconsvc (hkp-reconsvc.service).\n\n"
        "RECON_LISTEN=%s\n"
        "HTTP_PORT=%u\n"
        "RECON_OPTS=\"--log /var/log/hkp/reconsvc.log",
        src, hp, c->hkp_port);
    if (c->gossip_min > 0)
        n += (size_t) snprintf(out + n, SKSCONF_OUT_LEN - n,
            " --gossip %g", c->gossip_min * 60);
    if (c->session_min > 0)
        n += (size_t) snprintf(out + n, SKSCONF_OUT_LEN - n,
            " --session-timeout %g", c->session_min * 60);
    if (c->config_s > 0)
        n += (size_t) snprintf(out + n, SKSCONF_OUT_LEN - n,
            " --config-timeout %g", c->config_s);
    if (c->fetch_s > 0)
        n += (size_t) snprintf(out + n, SKSCONF_OUT_LEN - n,
            " --fetch-timeout %g", c->fetch_s);
    if (n < SKSCONF_OUT_LEN)
        n += (size_t) snprintf(out + n, SKSCONF_OUT_LEN - n, "\"\n");
    return n < SKSCONF_OUT_LEN ? 0 : -1;
}

/* The membership file beside sksconf (SKS keeps both in one directory). */
static void
sibling(char *out, size_t len, const char *sksconf, const char *name)
{
    const char *slash = strrchr(sksconf, '/');
    if (slash == NULL)
        snprintf(out, len, "%s", name);
    else
        snprintf(out, len, "%.*s/%s", (int) (slash - sksconf), sksconf, name);
}

int
reconsvc_migrate(int argc, char **argv)
{
    const char *conf_path = NULL, *ms_path = NULL, *out = NULL;
    char ms_default[4096], conf[SKSCONF_OUT_LEN], site[SKSCONF_OUT_LEN];
    char dflt[SKSCONF_OUT_LEN], hp[SKSCONF_ADDR_LEN + 8];
    char *text, *ms = NULL;
    hkp_file_t tf = { NULL, 0, 0, 0 }, mf = { NULL, 0, 0, 0 };
    size_t len, mslen = 0;
    sks_t c;
    int rc = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            fprintf(stderr, "reconsvc migrate: %s needs a value\n", a);
            usage();
            return 2;
        }
        i++;
        if (strcmp(a, "--sksconf") == 0)
            conf_path = v;
        else if (strcmp(a, "--membership") == 0)
            ms_path = v;
        else if (strcmp(a, "--out") == 0)
            out = v;
        else {
            fprintf(stderr, "reconsvc migrate: unknown option %s\n", a);
            usage();
            return 2;
        }
    }
    if (conf_path == NULL || out == NULL) {
        fprintf(stderr, "reconsvc migrate: --sksconf and --out are required\n");
        usage();
        return 2;
    }

    memset(&c, 0, sizeof(c));
    c.recon_port = 11370;
    c.hkp_port = 11371;
    c.gossip_min = c.session_min = c.config_s = c.fetch_s = -1;
    parse_addrs("0.0.0.0 ::", &c.recon);     /* SKS's defaults */
    parse_addrs("0.0.0.0 ::", &c.hkp);

    if (read_small(conf_path, &tf) != 0)
        return 1;
    text = (char *) tf.data;
    len = tf.len;
    if (memchr(text, '\0', len) != NULL) {
        fprintf(stderr, "reconsvc migrate: %s: not a text file\n", conf_path);
        goto out;
    }
    if (parse_sksconf(text, &c) != 0) {
        fprintf(stderr, "reconsvc migrate: nothing written (%d bad setting%s)\n",
            c.errors, c.errors == 1 ? "" : "s");
        goto out;
    }
    if (ms_path == NULL) {
        sibling(ms_default, sizeof(ms_default), conf_path, "membership");
        if (access(ms_default, F_OK) == 0)
            ms_path = ms_default;
    }
    if (ms_path != NULL) {
        if (read_small(ms_path, &mf) != 0)
            goto out;
        ms = (char *) mf.data;
        mslen = mf.len;
    }
    if (gen_nginx(&c, conf_path, conf, site) != 0
        || gen_default(&c, conf_path, dflt) != 0)
    {
        fprintf(stderr, "reconsvc migrate: settings too long\n");
        goto out;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "reconsvc migrate: mkdir %s: %s\n", out, strerror(errno));
        goto out;
    }
    if (write_new(out, "hkp.conf", conf, strlen(conf)) != 0
        || write_new(out, "hkp.site", site, strlen(site)) != 0
        || write_new(out, "hkp-reconsvc.default", dflt, strlen(dflt)) != 0
        || (ms != NULL && write_new(out, "membership", ms, mslen) != 0))
        goto out;

    if (c.dontgossip)
        printf("not carried over: dontgossip (reconsvc always gossips; an "
            "empty membership file stops it)\n");
    if (c.recon_set && c.recon.n > 1)
        printf("note: recon_address lists %zu addresses; reconsvc listens on "
            "one, %s\n", c.recon.n, recon_listen_addr(&c.recon));
    hostport(hp, sizeof(hp), recon_listen_addr(&c.recon), c.recon_port);
    printf("wrote %s/hkp.conf             -> /etc/nginx/conf.d/hkp.conf\n", out);
    printf("wrote %s/hkp.site             -> /etc/nginx/sites-available/hkp\n", out);
    printf("wrote %s/hkp-reconsvc.default -> /etc/default/hkp-reconsvc "
        "(recon on %s)\n", out, hp);
    if (ms != NULL)
        printf("wrote %s/membership           -> /etc/hkp/membership "
            "(copied from %s)\n", out, ms_path);
    else
        printf("no membership file found: list the peers in "
            "/etc/hkp/membership\n");
    printf("keys: `sks dump 10000 DUMPDIR` on the SKS node, then\n"
        "  runuser -u hkp -- reconsvc import --db /var/lib/hkp/db DUMPDIR/*.pgp\n");
    rc = 0;
out:
    hkp_file_free(&mf);
    hkp_file_free(&tf);
    return rc;
}
