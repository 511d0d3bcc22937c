/*
 * Shared by the fuzz harnesses: the libFuzzer entry point each harness
 * defines, and the invariant check. A violated invariant prints what was
 * expected and abort()s, so libFuzzer (or the corpus replay) reports the
 * input as a crash.
 */
#ifndef HKP_FUZZ_H
#define HKP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, what)                                              \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: invariant violated: %s (%s)\n",         \
                __FILE__, __LINE__, (what), #cond);                         \
            abort();                                                        \
        }                                                                   \
    } while (0)

#endif
