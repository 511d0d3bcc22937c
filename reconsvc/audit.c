/*
 * The audit file (audit.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "key.h"

/* Bytes of a SUDO_USER shown. */
#define AUDIT_SUDO_MAX  40

/* Who runs this: "name (uid N)", and the sudo caller if any. */
static void
who(char *out, size_t len)
{
    const struct passwd *pw = getpwuid(getuid());
    const char *sudo = getenv("SUDO_USER");
    char name[64];
    int n;

    if (pw != NULL)
        snprintf(name, sizeof(name), "%s", pw->pw_name);
    else
        snprintf(name, sizeof(name), "uid%lu", (unsigned long) getuid());
    if (sudo != NULL && sudo[0] != '\0')
        n = snprintf(out, len, "%s (uid %lu) via sudo from %.*s", name,
            (unsigned long) getuid(), AUDIT_SUDO_MAX, sudo);
    else
        n = snprintf(out, len, "%s (uid %lu)", name,
            (unsigned long) getuid());
    if (n < 0 || (size_t) n >= len)
        out[len - 1] = '\0';       /* truncated: still a string */
}

void
audit_time(int64_t t, char *out, size_t len)
{
    time_t tt = (time_t) t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL
        || strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, len, "%" PRId64, t);
}

void
audit_escape(const void *s, size_t len, char *out, size_t outsz)
{
    const unsigned char *p = s;
    size_t o = 0;

    for (size_t i = 0; i < len && o + 5 < outsz; i++) {
        if (i == AUDIT_VALUE_MAX) {
            o += (size_t) snprintf(out + o, outsz - o, "...");
            break;
        }
        if (p[i] == '"' || p[i] == '\\')
            o += (size_t) snprintf(out + o, outsz - o, "\\%c", p[i]);
        else if (p[i] < 0x20 || p[i] == 0x7f)
            o += (size_t) snprintf(out + o, outsz - o, "\\x%02x", p[i]);
        else
            out[o++] = (char) p[i];
    }
    out[o < outsz ? o : outsz - 1] = '\0';
}

int
audit_open(audit_t *a, const char *cmd, const char *dbdir, const char *file)
{
    memset(a, 0, sizeof(*a));
    a->cmd = cmd;
    if (file != NULL)
        snprintf(a->path, sizeof(a->path), "%s", file);
    else
        snprintf(a->path, sizeof(a->path), "%s/%s", dbdir, AUDIT_NAME);
    who(a->who, sizeof(a->who));
    if ((a->f = fopen(a->path, "a")) == NULL) {
        fprintf(stderr, "reconsvc %s: audit file %s: %s\n", cmd, a->path,
            strerror(errno));
        return -1;
    }
    return 0;
}

/* Appends printf text to the line (cut at its end). */
__attribute__((format(printf, 2, 3)))
static void
add(audit_line_t *l, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (l->n + 1 >= sizeof(l->buf))
        return;
    va_start(ap, fmt);
    n = vsnprintf(l->buf + l->n, sizeof(l->buf) - l->n, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->n += (size_t) n < sizeof(l->buf) - l->n ? (size_t) n
              : sizeof(l->buf) - l->n - 1;
}

void
audit_begin(audit_line_t *l, const audit_t *a, int64_t when,
    const char *action, const uint8_t *fpr, size_t fpr_len)
{
    char t[32], hex[2 * HKP_FPR_MAX_LEN + 1], w[4 * AUDIT_WHO_MAX + 8];

    l->n = 0;
    l->buf[0] = '\0';
    audit_time(when, t, sizeof(t));
    hkp_hex(fpr, fpr_len < HKP_FPR_MAX_LEN ? fpr_len : HKP_FPR_MAX_LEN, hex);
    audit_escape(a->who, strlen(a->who), w, sizeof(w));
    add(l, "%s %s %s by \"%s\"", t, action, hex, w);
}

void
audit_str(audit_line_t *l, const char *name, const void *s, size_t len)
{
    char v[4 * AUDIT_VALUE_MAX + 8];

    audit_escape(s, len, v, sizeof(v));
    add(l, " %s=\"%s\"", name, v);
}

void
audit_num(audit_line_t *l, const char *name, size_t v)
{
    add(l, " %s=%zu", name, v);
}

int
audit_write(audit_t *a, const audit_line_t *l)
{
    fprintf(stderr, "%s\n", l->buf);
    if (fprintf(a->f, "%s\n", l->buf) < 0 || fflush(a->f) != 0) {
        fprintf(stderr, "reconsvc %s: audit file %s: %s\n", a->cmd, a->path,
            strerror(errno));
        return -1;
    }
    return 0;
}

int
audit_close(audit_t *a)
{
    int rc = 0;

    if (a->f != NULL && fclose(a->f) != 0) {
        fprintf(stderr, "reconsvc %s: audit file %s: %s\n", a->cmd, a->path,
            strerror(errno));
        rc = -1;
    }
    a->f = NULL;
    return rc;
}
