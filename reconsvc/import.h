#ifndef RECONSVC_IMPORT_H
#define RECONSVC_IMPORT_H

/* Largest input file `reconsvc import` reads. */
#define RECONSVC_MAX_IMPORT_FILE  ((size_t) 1024 * 1024 * 1024)
/* Keys per write transaction by default. */
#define RECONSVC_IMPORT_BATCH     3000
/* A batch is also committed once its keys (kept in memory until the
 * commit) take this many bytes. */
#define RECONSVC_IMPORT_BATCH_BYTES  ((size_t) 16 * 1024 * 1024)
/* The same into a live database (synced commits, MDB_NOMETASYNC: one
 * fsync per batch): fewer, larger batches. */
#define RECONSVC_IMPORT_LIVE_BATCH        20000
#define RECONSVC_IMPORT_LIVE_BATCH_BYTES  ((size_t) 64 * 1024 * 1024)

/* `reconsvc import ...`: argv[0] is "import". Returns the exit code:
 * 0 done (even with rejected keys), 1 I/O or database error, 2 usage. */
int reconsvc_import(int argc, char **argv);

#endif
