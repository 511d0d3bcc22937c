/*
 * Socket address helpers (addr.h).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

/* Decimal port 1..ADDR_PORT_MAX, digits only. */
static int
parse_port(const char *s, unsigned *port)
{
    unsigned long v = 0;
    if (*s == '\0')
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (unsigned long) (*s - '0');
        if (v > ADDR_PORT_MAX)
            return -1;
    }
    if (v == 0)
        return -1;
    *port = (unsigned) v;
    return 0;
}

int
addr_parse_hostport(const char *s, char *host, size_t hlen, unsigned *port)
{
    const char *colon;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':' || parse_port(end + 2, port) != 0)
            return -1;
        snprintf(host, hlen, "%.*s", (int) (end - s - 1), s + 1);
        return 0;
    }
    if ((colon = strrchr(s, ':')) == NULL || parse_port(colon + 1, port) != 0)
        return -1;
    snprintf(host, hlen, "%.*s", (int) (colon - s), s);
    return 0;
}

void
addr_ip_str(const struct sockaddr *sa, char *out, size_t len)
{
    char buf[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *) sa;
        if (inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof(buf)) == NULL)
            snprintf(buf, sizeof(buf), "?");
        snprintf(out, len, "[%s]", buf);
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *) sa;
        if (inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof(buf)) == NULL)
            snprintf(buf, sizeof(buf), "?");
        snprintf(out, len, "%s", buf);
    } else
        snprintf(out, len, "?");
}

void
addr_str(const struct sockaddr *sa, char *out, size_t len)
{
    char ip[INET6_ADDRSTRLEN + 3];
    addr_ip_str(sa, ip, sizeof(ip));
    snprintf(out, len, "%s:%u", ip, addr_port(sa));
}

unsigned
addr_port(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ntohs(((const struct sockaddr_in *) sa)->sin_port);
    if (sa->sa_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *) sa)->sin6_port);
    return 0;
}

void
addr_set_port(struct sockaddr *sa, unsigned port)
{
    if (sa->sa_family == AF_INET)
        ((struct sockaddr_in *) sa)->sin_port = htons((uint16_t) port);
    else if (sa->sa_family == AF_INET6)
        ((struct sockaddr_in6 *) sa)->sin6_port = htons((uint16_t) port);
}

int
addr_is_wildcard(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *) sa)->sin_addr.s_addr
            == htonl(INADDR_ANY);
    if (sa->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *) sa)->sin6_addr,
            &in6addr_any, sizeof(struct in6_addr)) == 0;
    return 0;
}

int
addr_same_ip(const struct sockaddr *a, const struct sockaddr *b)
{
    if (a->sa_family != b->sa_family)
        return 0;
    if (a->sa_family == AF_INET)
        return ((const struct sockaddr_in *) a)->sin_addr.s_addr
            == ((const struct sockaddr_in *) b)->sin_addr.s_addr;
    if (a->sa_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *) a)->sin6_addr,
            &((const struct sockaddr_in6 *) b)->sin6_addr,
            sizeof(struct in6_addr)) == 0;
    return 0;
}

int
addr_same(const struct sockaddr *a, const struct sockaddr *b)
{
    return addr_same_ip(a, b) && addr_port(a) == addr_port(b);
}
