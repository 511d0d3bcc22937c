#ifndef RECONSVC_RUN_H
#define RECONSVC_RUN_H

/* `reconsvc run ...`: argv[0] is "run". Returns the exit code. */
int reconsvc_run(int argc, char **argv);

#endif
