/* A PMI job's key-value space on one node: every key a rank of the job put, as far as the
 * barriers so far have brought them here, and the puts of this node's ranks since the last
 * barrier, which the next one carries to every other node (fmx_pmi_kvs_pending_pack). */
#ifndef FMX_PMI_KVS_H
#define FMX_PMI_KVS_H

#include <stddef.h>
#include <stdint.h>

typedef struct fmx_pmi_kvs fmx_pmi_kvs_t;

fmx_pmi_kvs_t *fmx_pmi_kvs_new(void);
void fmx_pmi_kvs_free(fmx_pmi_kvs_t *k);
/* Sets key (a later put of the same key replaces it). pending: also goes out at the next
 * barrier. 0 or -ENOMEM. */
int fmx_pmi_kvs_put(fmx_pmi_kvs_t *k, const char *key, const char *value, int pending);
/* The value, or NULL. */
const char *fmx_pmi_kvs_get(const fmx_pmi_kvs_t *k, const char *key);
size_t fmx_pmi_kvs_count(const fmx_pmi_kvs_t *k);

/* The pending puts as one blob (per put: key length, value length as 4-byte big-endian
 * numbers, then the key and the value), malloc'd; the pending list is emptied. */
int fmx_pmi_kvs_pending_pack(fmx_pmi_kvs_t *k, uint8_t **blob, size_t *len);
/* Stores every put of such a blob (from any node). -EBADMSG when it is not one (nothing after
 * the first bad record is stored), -ENOMEM. */
int fmx_pmi_kvs_unpack(fmx_pmi_kvs_t *k, const uint8_t *blob, size_t len);

#endif
