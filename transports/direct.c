/* Linked backends opened by name (fmx_direct.h). */
#include "fmx_direct.h"

#include "fmx_ofi.h"
#include "fmx_pair.h"
#ifdef FMX_HAVE_UCX
#include "fmx_ucx.h"
#endif

#include <stdlib.h>
#include <string.h>

int fmx_direct_open(const char *name, const char *spec, fmx_transport_t **out, fmx_error_t *err)
{
    if (!strcmp(name, "ofi"))
        return fmx_ofi_open(spec, out, err);
    if (!strcmp(name, "ucx")) {
#ifdef FMX_HAVE_UCX
        return fmx_ucx_open(spec, out, err);
#else
        fmx_errprintf(err, "built without UCX");
        return -ENODATA;
#endif
    }
    fmx_errprintf(err, "no transport backend named '%s'", name);
    return -ENODEV;
}

int fmx_direct_open_env(fmx_transport_t **out, fmx_error_t *err)
{
    return fmx_transport_open_named(fmx_transport_from_env(), fmx_direct_open, out, err);
}
