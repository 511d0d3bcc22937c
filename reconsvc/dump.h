#ifndef RECONSVC_DUMP_H
#define RECONSVC_DUMP_H

/* Keys per dump file by default (SKS dumps commonly hold 10000-15000). */
#define RECONSVC_DUMP_KEYS_PER_FILE  10000
/* Name pattern of the dump files and of the checksum list. */
#define RECONSVC_DUMP_NAME           "hkp-dump-%04u.pgp"
#define RECONSVC_DUMP_SUMS           "metadata-hkp-dump.txt"

/* `reconsvc dump --db DIR [--keys-per-file N] OUTDIR`: argv[0] is "dump".
 * Writes every key from one read transaction. Returns the exit code. */
int reconsvc_dump(int argc, char **argv);

#endif
