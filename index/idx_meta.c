/* idx_meta.c — metadata queries: inodes, directory entries, readdir,
 * symlinks, extended attributes, orphans, and where a file's holes are. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "index/idx_int.h"

/* ---- inodes ---- */

static int inode_get(sqlite3 *db, sqlite3_stmt **cache, uint64_t ino,
                     struct idx_attr *a)
{
    sqlite3_stmt *s;
    PREP(s, db, cache, ST_INODE_GET);
    bind_u64(s, 1, ino);
    int rc = step_row(s);
    if (rc != 0)
        return rc;
    a->ino        = ino;
    a->mode       = (uint32_t)sqlite3_column_int64(s, 0);
    a->uid        = (uint32_t)sqlite3_column_int64(s, 1);
    a->gid        = (uint32_t)sqlite3_column_int64(s, 2);
    a->nlink      = (uint32_t)sqlite3_column_int64(s, 3);
    a->size       = (uint64_t)sqlite3_column_int64(s, 4);
    a->rdev       = (uint64_t)sqlite3_column_int64(s, 5);
    a->atime_sec  = sqlite3_column_int64(s, 6);
    a->atime_nsec = (uint32_t)sqlite3_column_int64(s, 7);
    a->mtime_sec  = sqlite3_column_int64(s, 8);
    a->mtime_nsec = (uint32_t)sqlite3_column_int64(s, 9);
    a->ctime_sec  = sqlite3_column_int64(s, 10);
    a->ctime_nsec = (uint32_t)sqlite3_column_int64(s, 11);
    stmt_done(s);
    return 0;
}

int idx_r_inode_get(struct idx_rd *r, uint64_t ino, struct idx_attr *out)
{
    return inode_get(r->db, r->st, ino, out);
}

int idx_w_inode_get(struct idx *x, uint64_t ino, struct idx_attr *out)
{
    return inode_get(x->db, x->st, ino, out);
}

static void bind_attr(sqlite3_stmt *s, const struct idx_attr *a)
{
    sqlite3_bind_int64(s, 2, a->mode);
    sqlite3_bind_int64(s, 3, a->uid);
    sqlite3_bind_int64(s, 4, a->gid);
    sqlite3_bind_int64(s, 5, a->nlink);
    bind_u64(s, 6, a->size);
    bind_u64(s, 7, a->rdev);
    sqlite3_bind_int64(s, 8, a->atime_sec);
    sqlite3_bind_int64(s, 9, a->atime_nsec);
    sqlite3_bind_int64(s, 10, a->mtime_sec);
    sqlite3_bind_int64(s, 11, a->mtime_nsec);
    sqlite3_bind_int64(s, 12, a->ctime_sec);
    sqlite3_bind_int64(s, 13, a->ctime_nsec);
}

int idx_w_inode_create(struct idx *x, struct idx_attr *a)
{
    sqlite3_stmt *s;
    IDX_W_CHECK(x);
    PREP(s, x->db, x->st, ST_INODE_INS);
    sqlite3_bind_null(s, 1);      /* AUTOINCREMENT: numbers are never reused */
    bind_attr(s, a);
    int rc = idx_exec_stmt(s);
    if (rc == 0)
        a->ino = (uint64_t)sqlite3_last_insert_rowid(x->db);
    return rc;
}

int idx_w_inode_put(struct idx *x, const struct idx_attr *a)
{
    sqlite3_stmt *s;
    IDX_W_CHECK(x);
    PREP(s, x->db, x->st, ST_INODE_PUT);
    bind_u64(s, 1, a->ino);
    bind_attr(s, a);
    int rc = idx_exec_stmt(s);
    if (rc == 0 && sqlite3_changes(x->db) == 0)
        rc = -ENOENT;
    return rc;
}

/* Runs a per-inode delete statement (ino, and first block 0 where asked). */
static int delete_by_ino(struct idx *x, enum idx_stmt id, uint64_t ino, int from0)
{
    sqlite3_stmt *s;
    PREP(s, x->db, x->st, id);
    bind_u64(s, 1, ino);
    if (from0)
        sqlite3_bind_int64(s, 2, 0);
    return idx_exec_stmt(s);
}

int idx_w_inode_delete(struct idx *x, uint64_t ino)
{
    int rc;
    IDX_W_CHECK(x);
    /* Block rows first: their delete trigger turns payloads into dead
     * space of their segments. */
    if ((rc = delete_by_ino(x, ST_BLOCK_TRUNC, ino, 1)) != 0 ||
        (rc = delete_by_ino(x, ST_QUEUE_DEL_FROM, ino, 1)) != 0 ||
        (rc = delete_by_ino(x, ST_XATTR_DEL_INO, ino, 0)) != 0 ||
        (rc = delete_by_ino(x, ST_SYMLINK_DEL, ino, 0)) != 0 ||
        (rc = delete_by_ino(x, ST_INODE_DEL, ino, 0)) != 0)
        return rc;
    return sqlite3_changes(x->db) == 0 ? -ENOENT : 0;
}

int idx_w_orphans(struct idx *x, int (*fn)(void *arg, uint64_t ino), void *arg)
{
    sqlite3_stmt *s;
    IDX_W_CHECK(x);
    PREP(s, x->db, x->st, ST_ORPHANS);
    /* Collect first: fn deletes from the table the query walks. */
    uint64_t *list = NULL;
    size_t n = 0, cap = 0;
    int r, rc = 0;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            uint64_t *nl = realloc(list, ncap * sizeof *nl);
            if (!nl) {
                rc = -ENOMEM;
                break;
            }
            list = nl;
            cap = ncap;
        }
        list[n++] = (uint64_t)sqlite3_column_int64(s, 0);
    }
    if (rc == 0 && r != SQLITE_DONE)
        rc = idx_sqlerr(r);
    stmt_done(s);
    for (size_t i = 0; i < n && rc == 0; i++) {
        int f = fn(arg, list[i]);
        if (f < 0)
            rc = f;
    }
    free(list);
    return rc;
}

/* ---- directory entries ---- */

static int lookup(sqlite3 *db, sqlite3_stmt **cache, uint64_t dir,
                  const char *name, size_t len, uint64_t *ino)
{
    sqlite3_stmt *s;
    PREP(s, db, cache, ST_LOOKUP);
    bind_u64(s, 1, dir);
    bind_bytes(s, 2, name, len);
    int rc = step_row(s);
    if (rc != 0)
        return rc;
    *ino = (uint64_t)sqlite3_column_int64(s, 0);
    stmt_done(s);
    return 0;
}

int idx_r_lookup(struct idx_rd *r, uint64_t dir, const char *name, size_t len,
                 uint64_t *ino)
{
    return lookup(r->db, r->st, dir, name, len, ino);
}

int idx_w_lookup(struct idx *x, uint64_t dir, const char *name, size_t len,
                 uint64_t *ino)
{
    return lookup(x->db, x->st, dir, name, len, ino);
}

int idx_w_link(struct idx *x, uint64_t dir, const char *name, size_t len,
               uint64_t ino)
{
    sqlite3_stmt *s;
    IDX_W_CHECK(x);
    if (len == 0 || len > 255)
        return len ? -ENAMETOOLONG : -EINVAL;
    PREP(s, x->db, x->st, ST_LINK);
    bind_u64(s, 1, dir);
    bind_bytes(s, 2, name, len);
    bind_u64(s, 3, ino);
    return idx_exec_stmt(s);     /* the unique (dir, name) index: -EEXIST */
}

int idx_w_unlink(struct idx *x, uint64_t dir, const char *name, size_t len)
{
    sqlite3_stmt *s;
    IDX_W_CHECK(x);
    PREP(s, x->db, x->st, ST_UNLINK);
    bind_u64(s, 1, dir);
    bind_bytes(s, 2, name, len);
    int rc = idx_exec_stmt(s);
    if (rc == 0 && sqlite3_changes(x->db) == 0)
        rc = -ENOENT;
    return rc;
}

int idx_w_dir_empty(struct idx *x, uint64_t dir)
{
    sqlite3_stmt *s;
    PREP(s, x->db, x->st, ST_DIR_EMPTY);
    bind_u64(s, 1, dir);
    int rc = step_row(s);
    if (rc == 0) {
        stmt_done(s);
        return 0;
    }
    return rc == -ENOENT ? 1 : rc;
}

int idx_r_readdir(struct idx_rd *r, uint64_t dir, uint64_t after,
                  idx_dirent_fn fn, void *arg)
{
    sqlite3_stmt *s;
    PREP(s, r->db, r->st, ST_READDIR);
    bind_u64(s, 1, dir);
    bind_u64(s, 2, after);
    int rv, rc = 0;
    while ((rv = sqlite3_step(s)) == SQLITE_ROW) {
        const char *name = sqlite3_column_blob(s, 0);
        size_t len = (size_t)sqlite3_column_bytes(s, 0);
        int f = fn(arg, name ? name : "", len,
                   (uint64_t)sqlite3_column_int64(s, 1),
                   (uint32_t)sqlite3_column_int64(s, 2),
                   (uint64_t)sqlite3_column_int64(s, 3));
        if (f != 0) {
            rc = f < 0 ? f : 0;
            break;
        }
    }
    if (rv != SQLITE_ROW && rv != SQLITE_DONE)
        rc = idx_sqlerr(rv);
    stmt_done(s);
    return rc;
}

/* ---- symlinks ---- */

int idx_w_symlink_set(struct idx *x, uint64_t ino, const char *target, size_t len)
{
    sqlite3_stmt *s;
    IDX_W_CHECK(x);
    PREP(s, x->db, x->st, ST_SYMLINK_SET);
    bind_u64(s, 1, ino);
    bind_bytes(s, 2, target, len);
    return idx_exec_stmt(s);
}

/* Copies a blob column into buf: ERANGE-free (the symlink rule: truncate). */
int idx_r_symlink_get(struct idx_rd *r, uint64_t ino, char *buf, size_t cap,
                      size_t *len)
{
    sqlite3_stmt *s;
    PREP(s, r->db, r->st, ST_SYMLINK_GET);
    bind_u64(s, 1, ino);
    int rc = step_row(s);
    if (rc != 0)
        return rc;
    const void *p = sqlite3_column_blob(s, 0);
    size_t n = (size_t)sqlite3_column_bytes(s, 0);
    if (p && cap)
        memcpy(buf, p, n < cap ? n : cap);
    *len = n;
    stmt_done(s);
    return 0;
}

/* ---- extended attributes ---- */

int idx_w_xattr_set(struct idx *x, uint64_t ino, const char *name,
                    const void *val, size_t len, int flags)
{
    sqlite3_stmt *s;
    int rc;
    IDX_W_CHECK(x);
    if (flags & ~(XATTR_CREATE | XATTR_REPLACE) ||
        flags == (XATTR_CREATE | XATTR_REPLACE))
        return -EINVAL;
    size_t nlen = strlen(name);
    if (!(flags & XATTR_CREATE)) {
        PREP(s, x->db, x->st, ST_XATTR_UPD);
        bind_u64(s, 1, ino);
        bind_bytes(s, 2, name, nlen);
        bind_bytes(s, 3, val, len);
        rc = idx_exec_stmt(s);
        if (rc != 0 || sqlite3_changes(x->db) > 0)
            return rc;
        if (flags & XATTR_REPLACE)
            return -ENODATA;
    }
    PREP(s, x->db, x->st, ST_XATTR_INS);
    bind_u64(s, 1, ino);
    bind_bytes(s, 2, name, nlen);
    bind_bytes(s, 3, val, len);
    return idx_exec_stmt(s);     /* primary key (ino, name): -EEXIST */
}

int idx_r_xattr_get(struct idx_rd *r, uint64_t ino, const char *name,
                    void *buf, size_t cap, size_t *len)
{
    sqlite3_stmt *s;
    PREP(s, r->db, r->st, ST_XATTR_GET);
    bind_u64(s, 1, ino);
    bind_bytes(s, 2, name, strlen(name));
    int rc = step_row(s);
    if (rc != 0)
        return rc == -ENOENT ? -ENODATA : rc;
    const void *p = sqlite3_column_blob(s, 0);
    size_t n = (size_t)sqlite3_column_bytes(s, 0);
    *len = n;
    if (cap > 0) {
        if (cap < n)
            rc = -ERANGE;
        else if (n)
            memcpy(buf, p, n);
    }
    stmt_done(s);
    return rc;
}

int idx_r_xattr_list(struct idx_rd *r, uint64_t ino, char *buf, size_t cap,
                     size_t *len)
{
    sqlite3_stmt *s;
    PREP(s, r->db, r->st, ST_XATTR_LIST);
    bind_u64(s, 1, ino);
    size_t total = 0;
    int rv, rc = 0;
    while ((rv = sqlite3_step(s)) == SQLITE_ROW) {
        const void *p = sqlite3_column_blob(s, 0);
        size_t n = (size_t)sqlite3_column_bytes(s, 0);
        if (cap > 0 && total + n + 1 <= cap) {
            memcpy(buf + total, p, n);
            buf[total + n] = 0;
        }
        total += n + 1;
    }
    if (rv != SQLITE_DONE)
        rc = idx_sqlerr(rv);
    stmt_done(s);
    if (rc != 0)
        return rc;
    *len = total;
    return cap > 0 && total > cap ? -ERANGE : 0;
}

int idx_w_xattr_remove(struct idx *x, uint64_t ino, const char *name)
{
    sqlite3_stmt *s;
    IDX_W_CHECK(x);
    PREP(s, x->db, x->st, ST_XATTR_DEL);
    bind_u64(s, 1, ino);
    bind_bytes(s, 2, name, strlen(name));
    int rc = idx_exec_stmt(s);
    if (rc == 0 && sqlite3_changes(x->db) == 0)
        rc = -ENODATA;
    return rc;
}

/* ---- holes (SEEK_DATA / SEEK_HOLE) ---- */

/* Walks the rows of ino with from <= blkno < end in order.  want_data: stop
 * at the first row; else stop at the first block number the walk skips
 * (rows are unique, so a gap in the sequence is a hole). */
static int block_scan(struct idx_rd *r, uint64_t ino, uint64_t from,
                      uint64_t end, int want_data, uint64_t *blkno)
{
    sqlite3_stmt *s;
    *blkno = end;
    if (from >= end)
        return 0;
    PREP(s, r->db, r->st, ST_BLOCK_FROM);
    bind_u64(s, 1, ino);
    bind_u64(s, 2, from);
    bind_u64(s, 3, end);
    uint64_t next = from;         /* the first block not yet seen to be data */
    int rv, rc = 0;
    while ((rv = sqlite3_step(s)) == SQLITE_ROW) {
        uint64_t b = (uint64_t)sqlite3_column_int64(s, 0);
        if (want_data) {
            *blkno = b;
            break;
        }
        if (b != next)
            break;
        next = b + 1;
    }
    if (rv != SQLITE_ROW && rv != SQLITE_DONE)
        rc = idx_sqlerr(rv);
    else if (!want_data)
        *blkno = next;
    stmt_done(s);
    return rc;
}

int idx_r_block_next_data(struct idx_rd *r, uint64_t ino, uint64_t from,
                          uint64_t end, uint64_t *blkno)
{
    return block_scan(r, ino, from, end, 1, blkno);
}

int idx_r_block_next_hole(struct idx_rd *r, uint64_t ino, uint64_t from,
                          uint64_t end, uint64_t *blkno)
{
    return block_scan(r, ino, from, end, 0, blkno);
}
