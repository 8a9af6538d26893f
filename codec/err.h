/* err.h — private error helpers of codec/: return-if, forward, corrupt.
 *
 * Not part of the public API (fade.h).  Every place that rejects input goes
 * through fade_err_at(), so a debugger needs one breakpoint to find where a
 * block was declared bad, and a build with -DFADE_TRACE_ERRORS prints the
 * file, line and failed condition on stderr (as SQLite's corruption macro
 * and zstd's RETURN_ERROR_IF do).  Release builds pay one call on the error
 * path only.
 */
#ifndef FADE_ERR_H
#define FADE_ERR_H

#include "codec/fade.h"

/* Returns err unchanged; logs where it came from under FADE_TRACE_ERRORS. */
int fade_err_at(int err, const char *file, int line, const char *what);

/* Return `err` from the current function if `cond` holds. */
#define FADE_RETURN_IF(cond, err)                                         \
    do {                                                                  \
        if (cond)                                                         \
            return fade_err_at((err), __FILE__, __LINE__, #cond);         \
    } while (0)

/* Evaluate expr (an int FADE_E_* result); return it if negative. */
#define FADE_FORWARD(expr)                                                \
    do {                                                                  \
        int fade_fwd_rc_ = (expr);                                        \
        if (fade_fwd_rc_ < 0)                                             \
            return fade_fwd_rc_;                                          \
    } while (0)

/* Return FADE_E_CORRUPT if cond holds: the input contradicts the format. */
#define FADE_CORRUPT_IF(cond) FADE_RETURN_IF(cond, FADE_E_CORRUPT)

/* The value FADE_E_CORRUPT, recording the line (for use in expressions). */
#define FADE_CORRUPT() fade_err_at(FADE_E_CORRUPT, __FILE__, __LINE__, "corrupt")

#endif /* FADE_ERR_H */
