/*
 * Socket address helpers for the daemon (in the manner of redis's anet):
 * parsing "host:port", formatting, comparing. IPv4 and IPv6.
 */
#ifndef RECONSVC_ADDR_H
#define RECONSVC_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

/* Highest TCP port; ports are 1..ADDR_PORT_MAX. */
#define ADDR_PORT_MAX   65535
/* Buffer for the host part of "host:port" (a DNS name is at most 253). */
#define ADDR_HOST_LEN   256
/* Room for a port in decimal, NUL-terminated ("65535"). */
#define ADDR_PORT_LEN   8

/*
 * Splits "HOST:PORT" or "[HOST6]:PORT" (HOST may be empty: any address).
 * PORT must be a decimal number 1..ADDR_PORT_MAX. 0 with host (truncated
 * to hlen) and *port, or -1.
 */
int  addr_parse_hostport(const char *s, char *host, size_t hlen,
    unsigned *port);

/* "ip" / "[ip6]" text of an address (no port). */
void addr_ip_str(const struct sockaddr *sa, char *out, size_t len);
/* "ip:port" / "[ip6]:port". */
void addr_str(const struct sockaddr *sa, char *out, size_t len);

/* The port of an IPv4/IPv6 address (0 for other families). */
unsigned addr_port(const struct sockaddr *sa);
void addr_set_port(struct sockaddr *sa, unsigned port);
/* The any-address (0.0.0.0 or ::)? */
int  addr_is_wildcard(const struct sockaddr *sa);

/* Same IP (port ignored)? */
int  addr_same_ip(const struct sockaddr *a, const struct sockaddr *b);
/* Same IP and port? */
int  addr_same(const struct sockaddr *a, const struct sockaddr *b);

#endif
