#ifndef RECONSVC_HASH_H
#define RECONSVC_HASH_H

/* `reconsvc hash [--profile NAME] [--stored] FILE...`: argv[0] is "hash".
 * For every key in the files (binary or armored; "-" = stdin), in order,
 * prints `<32 hex hash> <primary fingerprint>` under the profile (default
 * sks), or `DROPPED <fingerprint> <reason>` for a key the profile or our
 * parser drops (fingerprint "-" when the key could not be parsed at all).
 * A profile that hashes uploads as they came (hockeypuck) gets each key's
 * packets as read, split at every primary key; --stored gives it the key
 * as we would store it (SKS canonical form) instead.
 * Returns 0, 1 on a file, framing or hashing error, 2 usage. */
int reconsvc_hash(int argc, char **argv);

#endif
