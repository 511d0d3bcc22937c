/*
 * reconsvc run's log (log.h).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static int         log_fd = 2;
static const char *log_path;     /* NULL: stderr */

static int
log_file_open(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

int
rlog_open(const char *path)
{
    int fd;
    if (path == NULL)
        return 0;
    if ((fd = log_file_open(path)) < 0)
        return -1;
    log_fd = fd;
    log_path = path;
    return 0;
}

int
rlog_reopen(void)
{
    int fd;
    if (log_path == NULL)
        return 0;
    if ((fd = log_file_open(log_path)) < 0)
        return -1;              /* keep writing to the old file */
    /* dup2 swaps the file under the same descriptor in one step, so no
     * line is written to a closed fd */
    if (dup2(fd, log_fd) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

void
rlog_close(void)
{
    if (log_fd > 2)
        close(log_fd);
    log_fd = 2;
    log_path = NULL;
}

void
rlog(const char *fmt, ...)
{
    char line[2048];
    struct timeval tv;
    struct tm tm;
    size_t n;
    va_list ap;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t) snprintf(line + n, sizeof(line) - n, ".%03dZ reconsvc: ",
        (int) (tv.tv_usec / 1000));
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    n = strlen(line);
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    for (size_t i = 0; i < n; i++)        /* one event = one line */
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    /* one write() per line keeps concurrent appenders' lines whole */
    ssize_t w = write(log_fd, line, n);
    (void) w;
}
