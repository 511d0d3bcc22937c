/*
 * SKS recon wire format (doc/recon.md 3.2-3.4): the frame encoders for every
 * message type and the frame decoder (msg.c); Config encode/parse/check
 * and the unframed verdict strings (msg_config.c). Frames are built in an
 * rbuf_t (buf.h).
 *
 * Everything read from a peer is bounded: a frame by RECON_MAX_FRAME, a
 * set by RECON_MAX_SET, a string by RECON_MAX_STR, a prefix by 128 bits.
 * Set elements must be key hashes (17th byte 0, hence < p); sample values
 * must be < p.
 */
#ifndef RECONSVC_MSG_H
#define RECONSVC_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "recon_params.h"

/* Largest frame accepted (u32 length word excluded). A FullElements of
 * 150 elements is ~2.5 KB; an Elements answering a Full for a big node
 * can be larger (17 B per element), so leave room. */
#define RECON_MAX_FRAME      (4u * 1024 * 1024)
/* Elements in one zset of a frame read whole. */
#define RECON_MAX_SET        (RECON_MAX_FRAME / HKP_ELEM_LEN)
/* An Elements frame can be far larger: answering an empty node, a peer
 * sends every key it holds in one (17 B each; 17 MB for 1M keys, ~110 MB
 * for today's network). Such a frame is streamed into the session's
 * missing set (session.c), never held whole; the operator bounds it with
 * `run --max-elements` (default RECON_MAX_ELEMENTS_DEFAULT, at most
 * RECON_MAX_ELEMENTS_CEIL), which also bounds the sets we send. */
#define RECON_MAX_ELEMENTS_DEFAULT (8u << 20)
#define RECON_MAX_ELEMENTS_CEIL    (64u << 20)
/* Length word of a zset frame (type, count, elements) of n elements. */
#define RECON_SET_FRAME_LEN(n) (1 + 4 + (size_t) (n) * HKP_ELEM_LEN)
/* A string inside Config, Error, or a verdict. */
#define RECON_MAX_STR        4096
/* Pairs in one Config message. */
#define RECON_MAX_CONFIG     64
/* Prefix length in bits (128 hash bits). */
#define RECON_MAX_PREFIX_BITS 128
#define RECON_PREFIX_BYTES   HKP_HASH_LEN

/* What we announce (doc/recon.md 3.4). */
#define RECON_VERSION        "1.1.6"
#define RECON_FILTERS        "yminsky.dedup,yminsky.merge"

enum {
    RECON_MSG_POLY = 0,          /* ReconRqst_Poly */
    RECON_MSG_FULL = 1,          /* ReconRqst_Full */
    RECON_MSG_ELEMENTS = 2,
    RECON_MSG_FULLELEMENTS = 3,
    RECON_MSG_SYNCFAIL = 4,
    RECON_MSG_DONE = 5,
    RECON_MSG_FLUSH = 6,
    RECON_MSG_ERROR = 7,
    RECON_MSG_DBRQST = 8,
    RECON_MSG_DBREPL = 9,
    RECON_MSG_CONFIG = 10
};

/* The length word at the start of a frame (big-endian). */
static inline uint32_t
recon_get_u32(const uint8_t *p)
{
    return hkp_get_be32(p);
}

/* ------------------------------------------------------------ framing */

/* Starts a frame in b: reserves the length word and writes the type.
 * Returns the position of the length word relative to the unconsumed
 * data, which stays valid when a later put compacts the buffer, or
 * (size_t) -1 (out of memory). */
size_t recon_frame_begin(rbuf_t *b, int type);
/* Fills in the length word of the frame begun at `at`; -1 if the frame is
 * over RECON_SET_FRAME_LEN(RECON_MAX_ELEMENTS_CEIL) (it is then removed
 * again). */
int    recon_frame_end(rbuf_t *b, size_t at);

/* ----------------------------------------------------------- encoders */
/* Each appends one complete frame to b; 0 or -1 (out of memory, or a set
 * over RECON_MAX_ELEMENTS_CEIL). Hashes are 16-byte MD5s, sent as 17-byte
 * elements (a 0 byte appended). Prefixes: bit j at byte j/8, mask
 * 0x80 >> (j%8). */

int recon_enc_poly(rbuf_t *b, const uint8_t *prefix, unsigned nbits,
    uint32_t size, const uint8_t sv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN]);
int recon_enc_full(rbuf_t *b, const uint8_t *prefix, unsigned nbits,
    const hkp_hash_t *hashes, size_t n);
/* type RECON_MSG_ELEMENTS or RECON_MSG_FULLELEMENTS */
int recon_enc_set(rbuf_t *b, int type, const hkp_hash_t *hashes, size_t n);
/* SyncFail, Done, Flush */
int recon_enc_empty(rbuf_t *b, int type);
int recon_enc_error(rbuf_t *b, const char *text);
/* Our Config: bitquantum, filters, http port, mbar, version (sorted). */
int recon_enc_config(rbuf_t *b, uint32_t http_port);
/* The same announcing `filters` (a hash profile's string, profile.h). */
int recon_enc_config_f(rbuf_t *b, uint32_t http_port, const char *filters);
/* Config with arbitrary pairs (tests, and the hostile-peer checks):
 * values given as bytes. */
int recon_enc_config_pairs(rbuf_t *b, size_t n, const char *const *keys,
    const uint8_t *const *vals, const size_t *vlens);

/* Unframed verdicts: str "passed", or str "failed" + str reason. */
int recon_enc_verdict(rbuf_t *b, const char *reason_or_null);

/* ----------------------------------------------------------- decoding */

/*
 * Looks for one complete frame at the start of buf. Returns 1 with
 * *frame_len (4 + length) when complete, 0 when more bytes are needed,
 * -1 when the length word exceeds RECON_MAX_FRAME or is 0 (*err says so).
 */
int recon_frame_check(const uint8_t *buf, size_t len, size_t *frame_len,
    const char **err);

typedef struct {
    int         type;
    unsigned    nbits;                           /* Poly, Full */
    uint8_t     prefix[RECON_PREFIX_BYTES];      /* Poly, Full */
    uint32_t    size;                            /* Poly */
    uint8_t     sv[HKP_RECON_NSAMPLES][HKP_ELEM_LEN]; /* Poly */
    hkp_hash_t   *set;   /* Full, Elements, FullElements: malloc'd */
    size_t      nset;
    char       *text;       /* Error: malloc'd, NUL-terminated */
} recon_msg_t;

/* Parses one frame (as found by recon_frame_check) of any type but
 * Config. 0 or -1 with a static *err. Free with recon_msg_free(). */
int  recon_msg_parse(const uint8_t *frame, size_t frame_len, recon_msg_t *m,
    const char **err);
void recon_msg_free(recon_msg_t *m);

/* ------------------------------------------------- config (msg_config.c) */

typedef struct {
    int         has_version, has_filters, has_bitquantum, has_mbar,
                has_http_port;
    char        version[64];        /* as sent (truncated), NUL-terminated */
    size_t      version_len;        /* real length */
    char        filters[512];
    size_t      filters_len;
    int         bitquantum_ok, mbar_ok, http_port_ok;  /* 4-byte values */
    uint32_t    bitquantum, mbar, http_port;
} recon_config_t;

/* Parses a Config frame. 0, or -1 with a static *err for a malformed frame
 * (wrong type, truncated, too many pairs, trailing bytes). */
int recon_config_parse(const uint8_t *frame, size_t frame_len,
    recon_config_t *c, const char **err);

/*
 * SKS's acceptance rules, in SKS's order. Returns NULL when accepted, or
 * writes the reason SKS would send into reason[len] and returns it.
 */
const char *recon_config_check(const recon_config_t *c, char *reason,
    size_t len);
/* The same with our filters `filters` (RECON_FILTERS above). */
const char *recon_config_check_f(const recon_config_t *c,
    const char *filters, char *reason, size_t len);
/* 1 when the peer's filters are `filters` (as sets), else 0. */
int recon_filters_match(const recon_config_t *c, const char *filters);
/* Most filter names one string may hold (more are ignored). */
#define RECON_MAX_FILTER_NAMES 32

/*
 * Looks for one unframed verdict at the start of buf. Returns 1 when
 * complete: *used bytes, *passed 1/0, and for "failed" the reason copied
 * (truncated) into reason[rlen]. 0 when more bytes are needed, -1 when the
 * bytes are not a verdict (too long, or neither word) with *err.
 */
int recon_verdict_parse(const uint8_t *buf, size_t len, size_t *used,
    int *passed, char *reason, size_t rlen, const char **err);

/* Prefix as text ("" for the root, else the bits as 0/1 characters) for
 * logs; out must hold nbits+1 bytes. */
void recon_prefix_str(const uint8_t *prefix, unsigned nbits, char *out);

#endif
