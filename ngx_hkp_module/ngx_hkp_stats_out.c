/*
 * op=stats output (ngx_hkp_stats.c gathers what it shows): SKS's HTML
 * page and Hockeypuck's JSON, both from an ngx_hkp_stats_t. Every string
 * from the membership file or a status record was cleaned to UTF-8
 * without control characters when it was gathered, and is escaped here
 * (ngx_hkp_out_html, ngx_hkp_out_json_str). The HTML page keeps SKS's
 * headings and tables for scrapers, in the site layout, with the
 * histograms also drawn as charts (ngx_hkp_web_stats.c).
 */
#include "ngx_hkp_stats.h"
#include "serve.h"


/* The "E-mail addresses" row: this server does not verify them. */
#define NGX_HKP_STATS_NO_VERIFY                                              \
    "not verified: every user ID is published as uploaded (also by the "    \
    "VKS API, which sends no verification e-mail)"


/* Row i (0 = newest) of the daily (day = 1) or hourly histogram: its start
 * time and counts. */
void
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


/* seconds with two decimals (nothing when the record has none) */
static void
ngx_hkp_stats_duration(ngx_hkp_out_t *o, ngx_hkp_recon_status_t *l)
{
    uint64_t  cs;

    if (!(l->flags & HKP_PEER_HAS_DURATION)) {
        return;
    }

    cs = l->duration_us / 10000 + (l->duration_us % 10000 >= 5000);

    ngx_hkp_out_printf(o, "%uL.%02uL", cs / 100, cs % 100);
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
        if (l->flags & HKP_PEER_HAS_FETCH) {
            ngx_hkp_out_printf(o, " (%uL of %uL keys, %uL keys/s, %uL to "
                               "ask)", l->fetch_done, l->fetch_total,
                               l->fetch_rate, l->fetch_queue);
        }
        ngx_hkp_out_str(o, "</td>");
        ngx_hkp_stats_html_num(o, l->flags & HKP_PEER_HAS_FETCHED,
                               l->fetched);
        ngx_hkp_stats_html_num(o, l->flags & HKP_PEER_HAS_WE_MISS,
                               l->we_miss);
        ngx_hkp_stats_html_num(o, l->flags & HKP_PEER_HAS_THEY_MISS,
                               l->they_miss);
        ngx_hkp_out_str(o, "<td>");
        ngx_hkp_stats_duration(o, l);
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


void
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
    /* issue 12: the VKS API is served, but no address is verified */
    ngx_str_set(&v, NGX_HKP_STATS_NO_VERIFY);
    ngx_hkp_stats_html_row(o, "E-mail addresses", &v);
    ngx_hkp_out_printf(o, "<tr><td>HTTP port:</td><td>%ui</td></tr>\n",
                       st->http_port);
    if (st->recon_port) {
        ngx_hkp_out_printf(o, "<tr><td>Recon port:</td><td>%ui</td></tr>\n",
                           st->recon_port);
    }
    if (st->serve_policy == HKP_SERVE_FULL) {
        ngx_hkp_out_str(o, "<tr><td>Serve policy:</td><td>full (every "
                           "stored packet but redacted user IDs)</td></tr>\n");
    } else {
        ngx_hkp_out_printf(o, "<tr><td>Serve policy:</td><td>clean (valid "
                           "self-signed components only; attested "
                           "certifications, or at most %ui third-party "
                           "certifications per user ID; user attributes "
                           "up to %uz bytes)</td></tr>\n",
                           st->serve_certs, st->serve_max_uat);
    }
    ngx_hkp_out_str(o, "</table>\n");

    ngx_hkp_stats_html_peers(o, st);
    ngx_hkp_out_str(o, "<h2>Outgoing Mailsync Peers</h2>\n<table summary="
                       "\"Mailsync Peers\">\n</table>\n");

    ngx_hkp_out_printf(o, "<h2>Statistics</h2>\n<p>Total number of keys: "
                       "%uL</p>\n", st->count);

    if (st->selfsig_valid && st->selfsig_pending) {
        ngx_hkp_out_printf(o, "<p>Self-signature records: %uz keys without "
                           "one, being written in the background (%uL "
                           "written, %uL/s)</p>\n", st->selfsig_missing,
                           st->selfsig_filled, st->selfsig_rate);
    } else if (st->selfsig_valid && st->selfsig_missing > 0) {
        ngx_hkp_out_printf(o, "<p>Self-signature records: %uz keys without "
                           "one (verified at lookup time)</p>\n",
                           st->selfsig_missing);
    }

    /* the charts (ngx_hkp_web_stats.c), then SKS's tables of the numbers,
     * which scrapers read (heading and table as SKS has them) */
    ngx_hkp_web_hist_svg(o, st, 1);
    ngx_hkp_web_hist_svg(o, st, 0);
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
 * null}, ...]; lastRecon holds the fields of the status record
 * (shared/peer.h), "time" as an ISO 8601 UTC string, "duration" in seconds.
 */
static void
ngx_hkp_stats_json_peers(ngx_hkp_out_t *o, ngx_hkp_stats_t *st)
{
    u_char                   buf[HKP_MEMBERSHIP_MAX_HOST + 16], *p;
    ngx_uint_t               i, v6, has;
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
        if (l->flags & HKP_PEER_HAS_ROLE) {
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
        ngx_hkp_stats_json_num(o, "we_miss", l->flags & HKP_PEER_HAS_WE_MISS,
                               l->we_miss);
        ngx_hkp_stats_json_num(o, "they_miss",
                               l->flags & HKP_PEER_HAS_THEY_MISS,
                               l->they_miss);
        ngx_hkp_stats_json_num(o, "fetched", l->flags & HKP_PEER_HAS_FETCHED,
                               l->fetched);
        ngx_hkp_out_str(o, ",\"duration\":");
        if (l->flags & HKP_PEER_HAS_DURATION) {
            ngx_hkp_stats_duration(o, l);
        } else {
            ngx_hkp_out_str(o, "null");
        }
        has = l->flags & HKP_PEER_HAS_COUNTS;
        ngx_hkp_stats_json_num(o, "sessionsOk", has, l->sessions_ok);
        ngx_hkp_stats_json_num(o, "sessionsFailed", has, l->sessions_failed);
        ngx_hkp_stats_json_num(o, "fetchedTotal", has, l->fetched_total);
        ngx_hkp_out_str(o, ",\"lastSuccess\":");
        if (has && l->last_ok) {
            ngx_hkp_out_str(o, "\"");
            ngx_hkp_stats_time(o, l->last_ok);
            ngx_hkp_out_str(o, "\"");
        } else {
            ngx_hkp_out_str(o, "null");
        }
        if (l->flags & HKP_PEER_HAS_FETCH) {
            ngx_hkp_out_printf(o, ",\"fetching\":{\"total\":%uL,"
                               "\"done\":%uL,\"rate\":%uL,\"queue\":%uL}",
                               l->fetch_total, l->fetch_done, l->fetch_rate,
                               l->fetch_queue);
        } else {
            ngx_hkp_out_str(o, ",\"fetching\":null");
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


void
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
    ngx_hkp_out_str(o, ",\"emailVerification\":false");
    ngx_hkp_out_printf(o, ",\"httpAddr\":\":%ui\"", st->http_port);
    if (st->recon_port) {
        ngx_hkp_out_printf(o, ",\"reconAddr\":\":%ui\"", st->recon_port);
    } else {
        ngx_hkp_out_str(o, ",\"reconAddr\":\"\"");
    }
    ngx_hkp_out_printf(o, ",\"total\":%uL", st->count);
    ngx_hkp_out_printf(o, ",\"servePolicy\":{\"policy\":\"%s\","
                       "\"certsPerUid\":%ui,\"maxUserAttribute\":%uz}",
                       hkp_serve_policy_name((int) st->serve_policy),
                       st->serve_certs, st->serve_max_uat);
    if (st->selfsig_valid) {
        ngx_hkp_out_printf(o, ",\"selfsigRecords\":{\"missing\":%uz,"
                           "\"pending\":%s", st->selfsig_missing,
                           st->selfsig_pending ? "true" : "false");
        if (st->selfsig_pending) {
            ngx_hkp_out_printf(o, ",\"filled\":%uL,\"rate\":%uL",
                               st->selfsig_filled, st->selfsig_rate);
            if (st->selfsig_updated > 0) {
                ngx_gmtime(st->selfsig_updated, &tm);
                ngx_hkp_out_printf(o, ",\"updated\":\"%04d-%02d-%02dT"
                                   "%02d:%02d:%02dZ\"", tm.ngx_tm_year,
                                   tm.ngx_tm_mon, tm.ngx_tm_mday,
                                   tm.ngx_tm_hour, tm.ngx_tm_min,
                                   tm.ngx_tm_sec);
            }
        }
        ngx_hkp_out_str(o, "}");
    }
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


