/* fs_stat.h — what compression did, for people: the report behind
 * fadefs-stat and the read-only xattrs user.fadefs.* (fs/ only).
 *
 * The daemon builds a report (fs_stat_build) for the whole store or one
 * file and serves it as the value of the xattr user.fadefs.stat, as text
 * lines "key value" (fs_stat_format); fadefs-stat reads that xattr and
 * parses it back (fs_stat_parse).  The text is this file's format alone:
 * both sides link fs_stat.c.  Nothing here is stored.
 *
 * Xattrs served on every inode (never listed, never stored, never copied
 * by `cp -a`, since they are not in listxattr):
 *   user.fadefs.stat          the report (the store's on a directory)
 *   user.fadefs.stored_bytes  regular files: payload bytes in the store
 *   user.fadefs.ratio         regular files: logical / stored, "%.3f"
 *   user.fadefs.blocks        regular files: {"raw":N,"queued":N,...}
 * and, settable on the mount's root only:
 *   user.fadefs.compress      "on" / "off": resume / pause the coders
 * Setting or removing any other user.fadefs.* name is EPERM.
 */
#ifndef FADEFS_FS_STAT_H
#define FADEFS_FS_STAT_H

#include <stddef.h>
#include <stdint.h>

#include "fs/fs_sched.h"

#define FS_XATTR_PREFIX   "user.fadefs."
#define FS_XATTR_STAT     "user.fadefs.stat"
#define FS_XATTR_COMPRESS "user.fadefs.compress"
#define FS_STAT_FORMAT    1            /* first line: "fadefs-stat 1" */
#define FS_STAT_ROWS      32
#define FS_STAT_TEXT_MAX  8192         /* a formatted report fits in this */

enum { FS_KEPT_NO = 0, FS_KEPT_RAW = 1, FS_KEPT_FAILED = 2 };
struct fs_stat_row {
    uint32_t codec;                    /* enum fade_codec */
    uint64_t model;                    /* 0 for raw */
    char     preset[32];               /* the model's preset, "-" if unknown */
    int      kept;                     /* FS_KEPT_* */
    uint64_t n_blocks, raw_bytes, payload_bytes;
};
struct fs_stat_report {
    int      file;                     /* 1: one regular file; 0: the store */
    uint64_t ino;
    uint64_t size;                     /* file: its size; store: 0 */
    uint64_t n_inodes;                 /* store: inodes in it */
    uint64_t segment_bytes;            /* store: bytes of segment files */
    uint64_t logical_bytes;            /* file bytes held by blocks (no holes) */
    uint64_t stored_bytes;             /* their payload bytes */
    uint64_t blocks_raw;               /* raw, not kept raw (queued or not yet) */
    uint64_t blocks_queued;
    uint64_t blocks_compressed;
    uint64_t blocks_kept;              /* kept raw: not worth coding */
    uint64_t blocks_failed;            /* could not be read or coded */
    uint64_t queued_cold;              /* store: queued and cold already */
    char     preset[32];               /* the mount's preset */
    char     state[16];                /* off idle waiting working paused */
    struct fs_sched_counts sched;      /* since mount (state: see above) */
    int      n_rows;
    struct fs_stat_row rows[FS_STAT_ROWS];
};

struct fs_ctx;
/* The report for ino: a regular file's own, the store's for anything
 * else.  0 or -errno. */
int fs_stat_build(struct fs_ctx *fs, uint64_t ino, struct fs_stat_report *out);
/* Text form into buf; returns its length, or -ERANGE if cap is too small. */
int fs_stat_format(const struct fs_stat_report *r, char *buf, size_t cap);
/* Parses what fs_stat_format wrote (unknown keys are skipped, so a newer
 * daemon's report still reads); -EINVAL if it is not a report. */
int fs_stat_parse(const char *text, size_t len, struct fs_stat_report *out);
/* The getxattr of a user.fadefs.* name: copies the value (with cap 0 only
 * sets *len), -ERANGE if cap is too small, -ENODATA for an unknown name. */
int fs_stat_xattr(struct fs_ctx *fs, uint64_t ino, const char *name, char *buf,
                  size_t cap, size_t *len);
/* The setxattr of a user.fadefs.* name (is_root: ino is the root). */
int fs_stat_xattr_set(struct fs_ctx *fs, int is_root, const char *name,
                      const char *val, size_t len);

#endif /* FADEFS_FS_STAT_H */
