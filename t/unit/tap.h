/*
 * Tiny TAP helper for the C unit tests: ok()/is_str()/diag(), plan printed
 * at the end ("1..N"), exit status non-zero if any check failed.
 */
#ifndef HKP_TAP_H
#define HKP_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_count;
static int tap_failed;

__attribute__((format(printf, 2, 3), unused))
static int
tap_ok_(int cond, const char *fmt, ...)
{
    va_list ap;

    tap_count++;
    if (!cond)
        tap_failed++;
    printf("%sok %d - ", cond ? "" : "not ", tap_count);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    return cond;
}

/* The condition is evaluated before the message arguments (which may
 * print values the condition's calls set). */
#define ok(cond, ...) __extension__ ({ int tap_c_ = !!(cond); tap_ok_(tap_c_, __VA_ARGS__); })

__attribute__((format(printf, 1, 2), unused))
static void
diag(const char *fmt, ...)
{
    va_list ap;

    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

__attribute__((unused))
static int
is_str(const char *got, const char *want, const char *name)
{
    int r = tap_ok_(got != NULL && want != NULL && strcmp(got, want) == 0, "%s", name);
    if (!r)
        diag("  got '%s', expected '%s'", got ? got : "(null)",
            want ? want : "(null)");
    return r;
}

__attribute__((unused))
static int
is_int(long long got, long long want, const char *name)
{
    int r = tap_ok_(got == want, "%s", name);
    if (!r)
        diag("  got %lld, expected %lld", got, want);
    return r;
}

/* Prints the plan and returns the exit status. */
__attribute__((unused))
static int
tap_done(void)
{
    printf("1..%d\n", tap_count);
    if (tap_failed)
        printf("# %d of %d checks failed\n", tap_failed, tap_count);
    fflush(stdout);
    return tap_failed ? 1 : 0;
}

#endif
