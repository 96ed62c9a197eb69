/* Messages between the project's processes are packed little-endian: u32 values, byte strings
 * with a u32 length, strings without their NUL; a cursor reads them back and checks every
 * length against the message (control channel, the PMIx front end's requests between daemons). */
#ifndef FMX_PACK_H
#define FMX_PACK_H

#include <stddef.h>
#include <stdint.h>

/* A growable packing buffer, or a cursor over a received message. */
typedef struct fmx_pack {
    uint8_t *data;
    size_t len, cap, pos;
    int err; /* sticky: a failed get or put leaves it set */
} fmx_pack_t;

void fmx_pack_init(fmx_pack_t *p);
void fmx_pack_free(fmx_pack_t *p);
void fmx_pack_u32(fmx_pack_t *p, uint32_t v);
void fmx_pack_raw(fmx_pack_t *p, const void *b, size_t n); /* bytes as they are, no length */
void fmx_pack_bytes(fmx_pack_t *p, const void *b, size_t n); /* u32 length, bytes */
void fmx_pack_str(fmx_pack_t *p, const char *s);

/* Reading: a cursor over len bytes at data (not owned). */
void fmx_unpack_init(fmx_pack_t *p, const void *data, size_t len);
uint32_t fmx_unpack_u32(fmx_pack_t *p);
/* Points into the message; *n gets the length. NULL and p->err on a short message. */
const void *fmx_unpack_bytes(fmx_pack_t *p, size_t *n);
/* A malloc'd, NUL-terminated copy (NULL on error). */
char *fmx_unpack_str(fmx_pack_t *p);
/* n strings into a malloc'd NULL-terminated array of copies; NULL on error (nothing kept). */
char **fmx_unpack_strings(fmx_pack_t *p, uint32_t n);

/* Grows *buf (capacity *cap, doubling from 256) to hold need bytes: 0 or -ENOMEM. */
int fmx_grow(uint8_t **buf, size_t *cap, size_t need);
void fmx_put_le32(uint8_t *p, uint32_t v);
uint32_t fmx_get_le32(const uint8_t *p);

#endif
