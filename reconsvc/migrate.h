#ifndef RECONSVC_MIGRATE_H
#define RECONSVC_MIGRATE_H

/*
 * `reconsvc migrate --sksconf FILE [--membership FILE] --out DIR`: argv[0]
 * is "migrate". Reads an SKS sksconf ("name: value" lines) and writes into
 * DIR (made if missing, never overwriting a file) the same settings for
 * this keyserver, in the layout of the Debian packages:
 *   hkp.conf               -> /etc/nginx/conf.d/hkp.conf
 *   hkp.site               -> /etc/nginx/sites-available/hkp
 *   hkp-reconsvc.default   -> /etc/default/hkp-reconsvc
 *   membership             -> /etc/hkp/membership (a copy of SKS's)
 * and prints where each goes, what was not carried over and why, and how
 * to move the keys. Returns 0, 1 on an unusable setting or I/O error (no
 * file is written then), 2 usage.
 */
int reconsvc_migrate(int argc, char **argv);

#endif
