#ifndef RECONSVC_HASH_H
#define RECONSVC_HASH_H

/* `reconsvc hash [--profile NAME] FILE...`: argv[0] is "hash". For every
 * key in the files (binary or armored; "-" = stdin), in order, prints
 * `<32 hex hash> <primary fingerprint>` under the profile (default sks),
 * or `DROPPED <fingerprint> <reason>` for a key the profile or our parser
 * drops (fingerprint "-" when the key could not be parsed at all).
 * Returns 0, 1 on a file or framing error, 2 usage. */
int reconsvc_hash(int argc, char **argv);

#endif
