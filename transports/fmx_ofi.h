/* The libfabric RDM backend (ofi.c, ofi_setup.c, ofi_rdv.c), linked directly by tests and
 * benchmarks and built as the module fmx-ofi.so for the daemons (fmx_backend.h). */
#ifndef FMX_OFI_H
#define FMX_OFI_H

#include "fmx_transport.h"

/* An RDM endpoint. provider: NULL to honour FI_PROVIDER (or take the first RDM provider with
 * tagged messages); otherwise a name like "tcp" or "udp;ofi_rxd". err gets a sentence.
 * Returns -ENODATA only when no provider here matches (fi_getinfo's FI_ENODATA); any other
 * failure is an error of the provider that was found. */
int fmx_ofi_open(const char *provider, fmx_transport_t **out, fmx_error_t *err);
/* The provider and endpoint type actually chosen, e.g. "tcp;ofi_rxm FI_EP_RDM". */
const char *fmx_ofi_describe(fmx_transport_t *t);
/* Starts libfabric up (every provider's initialisation, under this process's FI_* settings,
 * which libfabric reads then and never again) without opening anything. */
void fmx_ofi_warm(void);

#endif
