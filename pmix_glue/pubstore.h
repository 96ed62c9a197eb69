/* What publish / lookup keep: the records published under some keys and the lookups held until
 * their keys come (PMIX_WAIT) or their time runs out. A daemon is the home of some of its job's
 * keys (pubsub.c); the resident service keeps those of the jobs it serves at range session
 * (launcher/pmixd_sessions.c), so this header names no PMIx type. A request is what pubsub.c
 * packs (pubsub.h: PUB_PREFIX, the operation, ...); an answer goes to `to`, a number only the
 * store's owner reads, through the owner's function. */
#ifndef FMX_PUBSTORE_H
#define FMX_PUBSTORE_H

#include "fmx_loop.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fmx_pubstore fmx_pubstore_t;
typedef void (*fmx_pubstore_answer_f)(void *arg, uint64_t to, int status, const void *blob,
                                      size_t len);

/* NULL on ENOMEM. */
fmx_pubstore_t *fmx_pubstore_new(fmx_loop_t *loop, fmx_pubstore_answer_f answer, void *arg);
/* A request (prefix first) from `src` (a number the owner gives each of its requesters; `who`
 * names it in a warning), answered through `to`, now or when a held lookup ends. */
void fmx_pubstore_serve(fmx_pubstore_t *s, uint64_t src, const char *who, const uint8_t *req,
                        size_t len, uint64_t to);
/* Requester src is gone: what it published goes, and its held lookups, unanswered. */
void fmx_pubstore_forget(fmx_pubstore_t *s, uint64_t src);
/* Held lookups are answered -ECANCELED (unless quiet: a forked copy being dropped), then
 * everything is freed. */
void fmx_pubstore_free(fmx_pubstore_t *s, int quiet);

#endif
