/*
 * op=stats / op=x-stats / /pks/stats (hkp.md 3.6 [R]).
 *
 * HTML (default): SKS's section headings and rows (Settings, Gossip
 * Peers, Outgoing Mailsync Peers, Statistics with "Total number of keys:
 * N", Daily/Hourly Histogram tables) so old scrapers keep working; the key
 * count is live (meta "count"), not a daily snapshot.
 * JSON (options=mr or options=json): Hockeypuck's field names.
 */
#include "ngx_hkp_module.h"


typedef struct {
    ngx_str_t    hostname;
    ngx_str_t    nodename;
    ngx_str_t    contact;
    ngx_uint_t   http_port;
    ngx_uint_t   recon_port;
    uint64_t     count;
    time_t       now;
} ngx_hkp_stats_t;


static void
ngx_hkp_stats_html_row(ngx_hkp_out_t *o, const char *name, ngx_str_t *value)
{
    ngx_hkp_out_printf(o, "<tr><td>%s:</td><td>", name);
    ngx_hkp_out_html(o, value->data, value->len);
    ngx_hkp_out_str(o, "</td></tr>\n");
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

    ngx_hkp_out_str(o, "<h2>Gossip Peers</h2>\n<table summary=\"Gossip "
                       "Peers\">\n</table>\n");
    ngx_hkp_out_str(o, "<h2>Outgoing Mailsync Peers</h2>\n<table summary="
                       "\"Mailsync Peers\">\n</table>\n");

    ngx_hkp_out_printf(o, "<h2>Statistics</h2>\n<p>Total number of keys: "
                       "%uL</p>\n", st->count);

    ngx_hkp_out_str(o, "<h3>Daily Histogram</h3>\n<table border=\"1\">\n"
                       "<tr><td>Time</td><td>New Keys</td>"
                       "<td>Updated Keys</td></tr>\n</table>\n");
    ngx_hkp_out_str(o, "<h3>Hourly Histogram</h3>\n<table border=\"1\">\n"
                       "<tr><td>Time</td><td>New Keys</td>"
                       "<td>Updated Keys</td></tr>\n</table>\n");

    ngx_hkp_out_html_tail(o);
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
    ngx_hkp_out_str(o, ",\"peers\":[],\"pksTargets\":[],\"hourly\":[],"
                       "\"daily\":[]}\n");
}


ngx_int_t
ngx_hkp_stats_reply(ngx_http_request_t *r, ngx_hkp_loc_conf_t *lcf,
    ngx_hkp_args_t *args, uint64_t count)
{
    ngx_hkp_out_t    o;
    ngx_hkp_stats_t  st;

    ngx_memzero(&st, sizeof(st));

    st.hostname = lcf->hostname;
    if (st.hostname.len == 0) {
        st.hostname = ngx_cycle->hostname;
    }
    st.nodename = lcf->nodename.len ? lcf->nodename : st.hostname;
    st.contact = lcf->contact;
    st.recon_port = lcf->recon_port;
    st.count = count;
    st.now = ngx_time();

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


ngx_int_t
ngx_hkp_stats_handler(ngx_http_request_t *r, ngx_hkp_args_t *args)
{
    MDB_txn             *txn;
    uint64_t             count;
    ngx_int_t            rc;
    ngx_hkp_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_hkp_module);

    rc = ngx_hkp_db_begin(r, lcf->db, &txn);
    if (rc != NGX_OK) {
        return ngx_hkp_error(r, rc, "Database not available");
    }

    count = hkp_db_count(&lcf->db->db, txn);

    ngx_hkp_db_end(lcf->db);

    return ngx_hkp_stats_reply(r, lcf, args, count);
}
