#ifndef RECONSVC_PBUILD_H
#define RECONSVC_PBUILD_H

/* `reconsvc pbuild --db DIR`: argv[0] is "pbuild". Drops the prefix tree
 * and rebuilds it from every key, in one write transaction. Returns the
 * exit code: 0 done, 1 error, 2 usage. */
int reconsvc_pbuild(int argc, char **argv);

#endif
