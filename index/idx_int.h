/* idx_int.h — private definitions of the fadefs store (index/ only, and its tests). */
#ifndef FADEFS_IDX_INT_H
#define FADEFS_IDX_INT_H

#include <errno.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "index/idx.h"
#include "index/seg.h"

/* Store format versions (meta table; docs/FORMAT-store.md).  A store whose
 * read version is newer than IDX_READ_VERSION is refused; one whose write
 * version is newer than IDX_WRITE_VERSION is opened read-only. */
#define IDX_READ_VERSION   1
#define IDX_WRITE_VERSION  2
#define IDX_APPLICATION_ID 0x66646673   /* "fdfs": PRAGMA application_id */

#define IDX_DB_NAME    "fadefs.db"
#define IDX_LOCK_NAME  "fadefs.lock"
#define IDX_SEG_DIR    "segments"
#define IDX_NEW_DB     "fadefs-new.db"  /* a store being created */

/* Every SQL statement, prepared once per connection on first use
 * (texts in idx_stmt.c, in this order). */
enum idx_stmt {
    ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
    ST_META_GET, ST_META_PUT,
    ST_INODE_GET, ST_INODE_INS, ST_INODE_PUT, ST_INODE_DEL, ST_ORPHANS,
    ST_LOOKUP, ST_LINK, ST_UNLINK, ST_DIR_EMPTY, ST_READDIR,
    ST_SYMLINK_SET, ST_SYMLINK_GET, ST_SYMLINK_DEL,
    ST_XATTR_GET, ST_XATTR_INS, ST_XATTR_UPD, ST_XATTR_LIST, ST_XATTR_DEL,
    ST_XATTR_DEL_INO,
    ST_BLOCK_GET, ST_BLOCK_INS, ST_BLOCK_UPD, ST_BLOCK_TRUNC, ST_BLOCK_MOVE,
    ST_BLOCKS_IN_SEG, ST_BLOCK_SEG_USED, ST_BLOCK_DEL, ST_BLOCK_USAGE,
    ST_SEG_LIST, ST_SEG_GET, ST_SEG_DEL, ST_SEG_MAX,
    ST_QUEUE_PUSH, ST_QUEUE_PEEK, ST_QUEUE_PEEK_BEFORE, ST_QUEUE_DEL,
    ST_QUEUE_DEL_FROM,
    ST_TOTALS,
    ST_BLOCK_FROM,
    ST_BLOCK_SWAP, ST_BLOCK_KEEP, ST_BLOCK_DEL_GEN,
    ST_REQUEUE_KEPT, ST_UNKEEP, ST_CENSUS_ALL, ST_CENSUS_INO, ST_QUEUE_COUNT,
    ST_QUEUE_COUNT_INO, ST_QUEUE_COUNT_BEFORE, ST_MODEL_NOTE, ST_MODEL_NAME, ST_QUEUE_DEL_ORPHAN,
    ST_CHK_INTEGRITY, ST_CHK_BLK_NOINODE, ST_CHK_BLK_NOTREG, ST_CHK_BLK_RANGE,
    ST_CHK_BLK_CODEC, ST_CHK_QUEUE, ST_CHK_DENTRY, ST_CHK_NLINK, ST_CHK_TOTALS,
    ST_CHK_SEG_LIVE, ST_CHK_SEG_USED, ST_CHK_COUNTS, ST_CHK_WALK, ST_ENTRY_OF,
    ST__COUNT
};

struct idx {
    sqlite3      *db;         /* the writer connection: writer thread only */
    sqlite3_stmt *st[ST__COUNT];
    char         *dir;        /* the store directory (for reader connections) */
    char         *db_path;
    int           dirfd;
    int           lockfd;     /* flock held for the lifetime of the struct */
    int           read_only;
    int           created;    /* this open made the store (idx_created) */
    uint32_t      block_size;
    int64_t       version;    /* write version of the store as opened */
    uint64_t      gen_next;   /* next block generation: epoch << 40 | counter */
    struct seg_store seg;
};

struct idx_rd {
    struct idx   *x;
    sqlite3      *db;
    sqlite3_stmt *st[ST__COUNT];
};

/* Maps an SQLite result code to a negative errno (idx.h lists the map). */
int idx_sqlerr(int rc);
/* The cached statement `id` of a connection, prepared on first use; NULL
 * when preparing failed (*rc then holds the negative errno). */
sqlite3_stmt *idx_stmt(sqlite3 *db, sqlite3_stmt **cache, enum idx_stmt id,
                       int *rc);
/* Steps a statement that returns no rows, then resets it: 0 or -errno. */
int idx_exec_stmt(sqlite3_stmt *s);
/* Runs SQL text without parameters (schema, pragmas): 0 or -errno. */
int idx_exec(sqlite3 *db, const char *sql);
void idx_finalize_all(sqlite3_stmt **cache);

/* Brings a store of write version `from` (1) up to IDX_WRITE_VERSION
 * inside the caller's transaction: what changed is in FORMAT-store.md. */
int idx_schema_upgrade(sqlite3 *db, int64_t from, char *msg, size_t msg_cap);
/* Creates the current schema, meta rows and the root inode on a fresh
 * database (inside the caller's transaction). */
int idx_schema_create(sqlite3 *db, uint32_t block_size, char *msg, size_t msg_cap);
/* -EUCLEAN (with a message) if a table or trigger of the schema is missing. */
int idx_schema_check(sqlite3 *db, char *msg, size_t msg_cap);

/* Current CLOCK_REALTIME in nanoseconds. */
int64_t idx_now_ns(void);

/* Tests only: route segment-file system calls through `sys`. */
void idx_test_set_sys(struct idx *x, const struct seg_sys *sys);

/* Gets cached statement `id` into s, or returns its error from the caller. */
#define PREP(s, db, cache, id)                               \
    do {                                                     \
        int prep_rc_ = 0;                                    \
        (s) = idx_stmt((db), (cache), (id), &prep_rc_);      \
        if (!(s))                                            \
            return prep_rc_;                                 \
    } while (0)

static inline void bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
    sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

/* Binds a byte string; a zero-length one must stay a blob, not NULL. */
static inline void bind_bytes(sqlite3_stmt *s, int i, const void *p, size_t n)
{
    sqlite3_bind_blob64(s, i, n ? p : "", n, SQLITE_STATIC);
}

/* Steps a statement expected to give at most one row and leaves it on the
 * row (the caller reads columns, then calls stmt_done()).  0 = row; -ENOENT =
 * no row, or -errno (the statement is then already reset). */
static inline int step_row(sqlite3_stmt *s)
{
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        return 0;
    int rc = r == SQLITE_DONE ? -ENOENT : idx_sqlerr(r);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

static inline void stmt_done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

#define IDX_W_CHECK(x) do { if ((x)->read_only) return -EROFS; } while (0)

#endif /* FADEFS_IDX_INT_H */
