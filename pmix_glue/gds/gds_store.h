/* The store of fmx's GDS component (gds_store.c): per namespace and node, in the directory
 * pmixd gives its ranks (FMX_GDS_DIR), one file holding (rank, key) -> value bytes: an
 * open-addressing index of entry offsets and the entries after it. One writer (the server's
 * libpmix thread) appends an entry whole, then publishes its offset in the index with one
 * atomic store; readers (the ranks, any thread) search the index with atomic loads and take
 * no lock the writer takes: an entry is complete before anyone can find it, and never changes
 * (a new value is a new entry, its offset replacing the old one's). A full file is copied
 * into one twice its size, announced by a generation number in a small head file.
 * Knows nothing of PMIx: values are bytes the caller packed. */
#ifndef FMX_GDS_STORE_H
#define FMX_GDS_STORE_H

#include <stddef.h>
#include <stdint.h>

/* The writer: nspace's file created before its ranks start (so that they map it at once);
 * 0 or -errno. */
int fmx_store_create(const char *dir, const char *nspace);
/* The writer: (rank, key) of nspace is val now. 0, or -errno (the reader then does not find
 * it, and asks as it would without the store). */
int fmx_store_put(const char *dir, const char *nspace, uint32_t rank, const char *key,
                  const void *val, size_t len);

/* The reader: nspace's file mapped ahead of the first lookup, its index read in (opening and
 * first touches cost tens of microseconds here); 0, or -ENOENT (then looked for at each
 * lookup). */
int fmx_store_open(const char *dir, const char *nspace);
/* The reader: the value of (rank, key) in nspace, copied out through `take` while the file
 * stays mapped: 0 and take's result, or -ENOENT. Any thread. */
int fmx_store_find(const char *dir, const char *nspace, uint32_t rank, const char *key,
                   int (*take)(void *arg, const void *val, size_t len), void *arg);

#endif
