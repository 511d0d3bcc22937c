/*
 * The op=stats histograms drawn as inline SVG bar charts (no script, no
 * external file): one chart per histogram, oldest on the left, a pair of
 * bars per day or hour (new keys, updated keys) on a common scale, the
 * scale's top value on the axis. SKS's Daily and Hourly Histogram tables
 * after the charts (ngx_hkp_stats_out.c) carry the same numbers as text,
 * for screen readers and scrapers; each chart has a title and a
 * description of its own.
 */
#include "ngx_hkp_stats.h"


/* The drawing, in SVG user units (the image scales to the page width). */
#define NGX_HKP_SVG_W        640
#define NGX_HKP_SVG_H        200
#define NGX_HKP_SVG_LEFT     56       /* room for the scale */
#define NGX_HKP_SVG_RIGHT    8
#define NGX_HKP_SVG_TOP      16
#define NGX_HKP_SVG_BOTTOM   32       /* room for the time labels */


/* The smallest 1, 2 or 5 times a power of ten that is >= v (v >= 1). */
static uint64_t
ngx_hkp_svg_nice(uint64_t v)
{
    uint64_t  p;

    for (p = 1; p <= UINT64_MAX / 10; p *= 10) {
        if (v <= p) {
            return p;
        }
        if (v <= 2 * p) {
            return 2 * p;
        }
        if (v <= 5 * p) {
            return 5 * p;
        }
    }

    return v;
}


void
ngx_hkp_web_hist_svg(ngx_hkp_out_t *o, ngx_hkp_stats_t *st, ngx_uint_t day)
{
    time_t        t;
    uint64_t      nnew, nupd, top, sum_new, sum_upd;
    ngx_tm_t      tm;
    ngx_uint_t    i, n, slot, bar, x, h, plot_w, plot_h, row;
    const char   *id;

    n = st->hist_n == 0 ? 0 : day ? NGX_HKP_HIST_DAYS : NGX_HKP_HIST_HOURS;
    if (n == 0) {
        ngx_hkp_out_printf(o, "<p>No keys were added or updated in the "
                           "last %s.</p>\n", day ? "days" : "hours");
        return;
    }

    id = day ? "hist-daily" : "hist-hourly";

    top = 1;
    sum_new = 0;
    sum_upd = 0;
    for (i = 0; i < n; i++) {
        ngx_hkp_stats_hist_row(st, day, i, &t, &nnew, &nupd);
        top = ngx_max(top, ngx_max(nnew, nupd));
        sum_new += nnew;
        sum_upd += nupd;
    }
    top = ngx_hkp_svg_nice(top);

    plot_w = NGX_HKP_SVG_W - NGX_HKP_SVG_LEFT - NGX_HKP_SVG_RIGHT;
    plot_h = NGX_HKP_SVG_H - NGX_HKP_SVG_TOP - NGX_HKP_SVG_BOTTOM;
    slot = plot_w / n;
    bar = ngx_max(slot * 2 / 5, 1);

    ngx_hkp_out_printf(o, "<figure>\n<figcaption>%s</figcaption>\n",
                       day ? "New and updated keys per day (UTC)"
                           : "New and updated keys per hour (UTC)");
    ngx_hkp_out_printf(o, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" "
                       "role=\"img\" aria-labelledby=\"%s-t %s-d\" "
                       "xmlns=\"http://www.w3.org/2000/svg\">\n"
                       "<title id=\"%s-t\">%s: keys added and updated per "
                       "%s</title>\n<desc id=\"%s-d\">",
                       NGX_HKP_SVG_W, NGX_HKP_SVG_H, id, id, id,
                       day ? "Daily histogram" : "Hourly histogram",
                       day ? "day" : "hour", id);
    ngx_hkp_out_printf(o, "Bar chart of the last %ui %s, oldest first: "
                       "%uL new keys and %uL updated keys in all; the "
                       "Daily and Hourly Histogram tables list the "
                       "numbers.</desc>\n",
                       n, day ? "days" : "hours", sum_new, sum_upd);

    /* the axes and the scale */
    ngx_hkp_out_printf(o, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" "
                       "x2=\"%d\" y2=\"%d\"/>\n",
                       NGX_HKP_SVG_LEFT, NGX_HKP_SVG_TOP, NGX_HKP_SVG_LEFT,
                       NGX_HKP_SVG_H - NGX_HKP_SVG_BOTTOM);
    ngx_hkp_out_printf(o, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" "
                       "x2=\"%d\" y2=\"%d\"/>\n",
                       NGX_HKP_SVG_LEFT, NGX_HKP_SVG_H - NGX_HKP_SVG_BOTTOM,
                       NGX_HKP_SVG_W - NGX_HKP_SVG_RIGHT,
                       NGX_HKP_SVG_H - NGX_HKP_SVG_BOTTOM);
    ngx_hkp_out_printf(o, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%uL"
                       "</text>\n<text x=\"%d\" y=\"%d\" "
                       "text-anchor=\"end\">0</text>\n",
                       NGX_HKP_SVG_LEFT - 6, NGX_HKP_SVG_TOP + 5, top,
                       NGX_HKP_SVG_LEFT - 6,
                       NGX_HKP_SVG_H - NGX_HKP_SVG_BOTTOM);

    for (i = 0; i < n; i++) {
        /* row n - 1 - i: the oldest on the left */
        row = n - 1 - i;
        ngx_hkp_stats_hist_row(st, day, row, &t, &nnew, &nupd);
        ngx_gmtime(t, &tm);

        x = NGX_HKP_SVG_LEFT + i * slot + (slot - 2 * bar) / 2;

        h = (ngx_uint_t) (nnew * plot_h / top);
        ngx_hkp_out_printf(o, "<rect class=\"new\" x=\"%ui\" y=\"%ui\" "
                           "width=\"%ui\" height=\"%ui\"><title>%uL new"
                           "</title></rect>\n",
                           x, NGX_HKP_SVG_TOP + plot_h - h, bar, h, nnew);

        h = (ngx_uint_t) (nupd * plot_h / top);
        ngx_hkp_out_printf(o, "<rect class=\"upd\" x=\"%ui\" y=\"%ui\" "
                           "width=\"%ui\" height=\"%ui\"><title>%uL updated"
                           "</title></rect>\n",
                           x + bar, NGX_HKP_SVG_TOP + plot_h - h, bar, h,
                           nupd);

        /* every day; every third hour */
        if (day || row % 3 == 0) {
            ngx_hkp_out_printf(o, "<text x=\"%ui\" y=\"%d\" "
                               "text-anchor=\"middle\">",
                               NGX_HKP_SVG_LEFT + i * slot + slot / 2,
                               NGX_HKP_SVG_H - NGX_HKP_SVG_BOTTOM + 20);
            if (day) {
                ngx_hkp_out_printf(o, "%02d-%02d</text>\n", tm.ngx_tm_mon,
                                   tm.ngx_tm_mday);
            } else {
                ngx_hkp_out_printf(o, "%02d h</text>\n", tm.ngx_tm_hour);
            }
        }
    }

    ngx_hkp_out_str(o, "</svg>\n<p class=\"legend\" aria-hidden=\"true\">"
                       "<span class=\"new\" style=\"background:var(--bar1)\">"
                       "</span>new keys<span class=\"upd\" "
                       "style=\"background:var(--bar2)\"></span>updated keys"
                       "</p>\n</figure>\n");
}
