/* Shared by the two sides of publish / lookup (pubsub.c: a rank's call, spread over the homes
 * of its keys; pubsub_home.c: what a home keeps and answers). A request between daemons is an
 * engine direct-modex request: PUB_PREFIX, the operation, the sender and a sequence number
 * (equal requests in flight must not be merged), the caller, range, persistence or wait,
 * timeout, the keys (and values, packed by libpmix). */
#ifndef FMX_PUBSUB_H
#define FMX_PUBSUB_H

#include "glue_internal.h"

#include "fmx_pack.h"

#define PUB_PREFIX "pmix+pub:"

enum { OP_PUBLISH = 'P', OP_LOOKUP = 'L', OP_UNPUBLISH = 'U' };

/* A proc as a string and a u32. */
void fmx_pub_pack_proc(fmx_pack_t *p, const pmix_proc_t *proc);
int fmx_pub_unpack_proc(fmx_pack_t *p, pmix_proc_t *proc);

#endif
