/* err.c — names of the FADE_E_* codes, the library version, error tracing. */
#include <stdio.h>
#include "codec/err.h"

const char *fade_version(void)
{
    return FADE_VERSION_STRING;
}

const char *fade_strerror(int err)
{
    switch (err) {
    case FADE_OK:              return "success";
    case FADE_E_NOMEM:         return "out of memory";
    case FADE_E_INVAL:         return "invalid argument";
    case FADE_E_CORRUPT:       return "corrupt data";
    case FADE_E_TRUNCATED:     return "truncated";
    case FADE_E_CHECKSUM:      return "checksum mismatch";
    case FADE_E_UNKNOWN_MODEL: return "unknown model";
    case FADE_E_VERSION:       return "unsupported format version";
    case FADE_E_DST_SMALL:     return "destination buffer too small";
    case FADE_E_IO:            return "input/output error";
    case FADE_E_UNSUPPORTED:   return "not supported on this machine";
    case FADE_E_NOT_FADE:      return "not a fade file";
    case FADE_E_CANCELED:      return "canceled";
    }
    return "unknown error";
}

int fade_err_at(int err, const char *file, int line, const char *what)
{
#ifdef FADE_TRACE_ERRORS
    fprintf(stderr, "fade: %s:%d: %s (%s)\n", file, line, fade_strerror(err), what);
#else
    (void)file;
    (void)line;
    (void)what;
#endif
    return err;
}
