/*
 * Word index text rules (UTF-8 aware, PCRE2 with Unicode properties).
 * A word is a maximal run of Unicode letters, marks and digits; it is
 * folded to lower case (Unicode simple case mapping). E-mail addresses in
 * user IDs are also indexed whole (lower-cased) so exact mailbox searches
 * are one lookup. Invalid UTF-8 is tolerated (bad sequences separate
 * words).
 */
#ifndef HKP_WORDS_H
#define HKP_WORDS_H

#include <stddef.h>
#include <stdint.h>

typedef struct hkp_words_s hkp_words_t;

/* Compiles the patterns. NULL on failure (with *err). Not thread-safe to
 * share between threads: give each thread its own. */
hkp_words_t *hkp_words_new(const char **err);
void hkp_words_free(hkp_words_t *w);

/* Calls cb for each folded word of text (at most HKP_MAX_WORD_LEN bytes
 * each; longer words are skipped and, if skipped is not NULL, counted
 * there). Duplicates are not removed. Returns 0, or -1 on an internal
 * error, or cb's non-zero return value. */
typedef int (*hkp_word_cb)(void *ctx, const uint8_t *word, size_t len);
int hkp_words_split(hkp_words_t *w, const uint8_t *text, size_t len,
    hkp_word_cb cb, void *ctx, size_t *skipped);

/* Extracts the lower-cased mailbox of a user ID: the text inside the last
 * "<...>" if it contains '@', else the whole trimmed text if it looks like
 * an address (one '@', no spaces). Returns its length (written to out,
 * NUL-terminated) or 0 if there is none or it does not fit. */
size_t hkp_uid_email(const uint8_t *uid, size_t len, char *out, size_t outsz);

#endif
