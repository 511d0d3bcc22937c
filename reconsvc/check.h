#ifndef RECONSVC_CHECK_H
#define RECONSVC_CHECK_H

/* Difference lines printed by default (all are counted). */
#define RECONSVC_CHECK_MAX_LINES  50

/* `reconsvc check --db DIR [--max-lines N] [--node BITS]`: argv[0] is
 * "check". With --node, prints that node (count, kind, svalues in wire
 * hex, leaf elements) and exits 0 (1 if it does not exist). Otherwise verifies
 * every prefix tree node (count, svalues, leaf contents, shape) and the
 * stored key count against the keys, from one read transaction. Prints
 * each difference on its own line (up to N) and a summary. Returns 0 if
 * consistent, 1 on a difference or error, 2 usage. */
int reconsvc_check(int argc, char **argv);

#endif
