/* idx_check.c — offline consistency checks of a store (for fadefsck): the
 * database, the tables against each other and against the segment files,
 * and the block-map walk for the payload checks done outside index/. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "index/idx_int.h"

struct chk {
    struct idx_rd *r;
    idx_problem_fn fn;
    void          *arg;
    int            n;          /* problems reported */
    char           text[768];
};

__attribute__((format(printf, 6, 7)))
static int report(struct chk *c, enum idx_check_kind kind, uint64_t ino,
                  uint64_t blkno, uint32_t raw_len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->text, sizeof c->text, fmt, ap);
    va_end(ap);
    struct idx_problem p = {
        .kind = kind, .ino = ino, .blkno = blkno, .raw_len = raw_len,
        .text = c->text,
    };
    c->n++;
    return c->fn(c->arg, &p);
}

/* A name as printable text: a problem is one line whatever the name holds. */
static void escape(char *out, size_t cap, const void *name, size_t len)
{
    const unsigned char *p = name;
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '"')
            out[o++] = (char)p[i];
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", p[i]);
    }
    out[o] = 0;
}

static const char *type_name(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR:  return "directory";
    case S_IFLNK:  return "symlink";
    case S_IFIFO:  return "fifo";
    case S_IFSOCK: return "socket";
    case S_IFCHR:  return "character device";
    case S_IFBLK:  return "block device";
    case S_IFREG:  return "regular file";
    default:       return "inode of unknown type";
    }
}

static uint64_t col_u64(sqlite3_stmt *s, int i)
{
    return (uint64_t)sqlite3_column_int64(s, i);
}

typedef int (*row_fn)(struct chk *c, sqlite3_stmt *s);

/* Runs statement id (binding p1 to ?1 where it has one) and hands every
 * row to fn.  Damage that stops the statement is a problem, not an
 * operational error, so that the other checks still run. */
static int each_row(struct chk *c, enum idx_stmt id, const char *what,
                    int64_t p1, row_fn fn)
{
    int rc = 0;
    sqlite3_stmt *s = idx_stmt(c->r->db, c->r->st, id, &rc);
    if (!s)
        return rc == -EUCLEAN ? report(c, IDX_CHK_DATABASE, 0, IDX_CHK_NO_BLOCK, 0,
                                       "cannot check %s: the database is damaged",
                                       what)
                              : rc;
    if (sqlite3_bind_parameter_count(s) >= 1)
        sqlite3_bind_int64(s, 1, p1);
    int rv;
    while ((rv = sqlite3_step(s)) == SQLITE_ROW)
        if ((rc = fn(c, s)) != 0)
            break;
    int step_rc = rc == 0 && rv != SQLITE_DONE ? idx_sqlerr(rv) : 0;
    stmt_done(s);
    if (step_rc == -EUCLEAN)
        return report(c, IDX_CHK_DATABASE, 0, IDX_CHK_NO_BLOCK, 0,
                      "check of %s stopped: the database is damaged", what);
    if (rc == 0 && rv != SQLITE_DONE)
        rc = step_rc ? step_rc : -EIO;
    return rc;
}

static int row_integrity(struct chk *c, sqlite3_stmt *s)
{
    const char *t = (const char *)sqlite3_column_text(s, 0);
    if (t && strcmp(t, "ok") == 0)
        return 0;
    return report(c, IDX_CHK_DATABASE, 0, IDX_CHK_NO_BLOCK, 0,
                  "integrity_check: %s", t ? t : "(no text)");
}

static int row_noinode(struct chk *c, sqlite3_stmt *s)
{
    uint64_t ino = col_u64(s, 0);
    return report(c, IDX_CHK_BLOCK_INODE, ino, col_u64(s, 1),
                  (uint32_t)col_u64(s, 2),
                  "block row of inode %llu, which does not exist",
                  (unsigned long long)ino);
}

static int row_notreg(struct chk *c, sqlite3_stmt *s)
{
    uint32_t mode = (uint32_t)col_u64(s, 3);
    return report(c, IDX_CHK_BLOCK_INODE, col_u64(s, 0), col_u64(s, 1),
                  (uint32_t)col_u64(s, 2),
                  "block row in a %s (mode %06o), not a regular file",
                  type_name(mode), mode);
}

static int row_range(struct chk *c, sqlite3_stmt *s)
{
    uint64_t bs = c->r->x->block_size;
    uint64_t ino = col_u64(s, 0), blkno = col_u64(s, 1), size = col_u64(s, 3);
    int64_t raw = sqlite3_column_int64(s, 2);
    uint32_t rl = raw > 0 && raw <= (int64_t)UINT32_MAX ? (uint32_t)raw : 0;
    if (raw <= 0)
        return report(c, IDX_CHK_BLOCK_RANGE, ino, blkno, 0,
                      "block row holds %lld bytes", (long long)raw);
    if ((uint64_t)raw > bs)
        return report(c, IDX_CHK_BLOCK_RANGE, ino, blkno, rl,
                      "block holds %lld bytes, more than the block size %llu",
                      (long long)raw, (unsigned long long)bs);
    if (blkno > UINT64_MAX / bs || blkno * bs >= size)
        return report(c, IDX_CHK_BLOCK_RANGE, ino, blkno, rl,
                      "block starts past the end of the file (size %llu)",
                      (unsigned long long)size);
    return report(c, IDX_CHK_BLOCK_RANGE, ino, blkno, rl,
                  "block ends at byte %llu, past the end of the file (size %llu)",
                  (unsigned long long)(blkno * bs + (uint64_t)raw),
                  (unsigned long long)size);
}

static int row_codec(struct chk *c, sqlite3_stmt *s)
{
    return report(c, IDX_CHK_BLOCK_CODEC, col_u64(s, 0), col_u64(s, 1),
                  (uint32_t)col_u64(s, 2), "block row names unknown codec %lld",
                  (long long)sqlite3_column_int64(s, 3));
}

static int row_queue(struct chk *c, sqlite3_stmt *s)
{
    return report(c, IDX_CHK_QUEUE, col_u64(s, 0), col_u64(s, 1), 0,
                  "compression queue entry for a block that has no row");
}

static int row_dentry(struct chk *c, sqlite3_stmt *s)
{
    char name[4 * 255 + 1];
    uint64_t dir = col_u64(s, 0), ino = col_u64(s, 2);
    escape(name, sizeof name, sqlite3_column_blob(s, 1),
           (size_t)sqlite3_column_bytes(s, 1));
    if (sqlite3_column_type(s, 3) == SQLITE_NULL)
        return report(c, IDX_CHK_DENTRY, dir, IDX_CHK_NO_BLOCK, 0,
                      "entry \"%s\" names inode %llu, which does not exist", name,
                      (unsigned long long)ino);
    if (sqlite3_column_type(s, 4) == SQLITE_NULL)
        return report(c, IDX_CHK_DENTRY, dir, IDX_CHK_NO_BLOCK, 0,
                      "entry \"%s\" (inode %llu) is in inode %llu, which does not "
                      "exist", name, (unsigned long long)ino, (unsigned long long)dir);
    uint32_t mode = (uint32_t)col_u64(s, 4);
    return report(c, IDX_CHK_DENTRY, dir, IDX_CHK_NO_BLOCK, 0,
                  "entry \"%s\" (inode %llu) is in a %s, not a directory", name,
                  (unsigned long long)ino, type_name(mode));
}

static int row_nlink(struct chk *c, sqlite3_stmt *s)
{
    uint64_t ino = col_u64(s, 0);
    uint32_t mode = (uint32_t)col_u64(s, 1);
    uint64_t nlink = col_u64(s, 2), nref = col_u64(s, 3), nsub = col_u64(s, 4);
    int rc = 0;
    if (!S_ISDIR(mode))
        return report(c, IDX_CHK_NLINK, ino, IDX_CHK_NO_BLOCK, 0,
                      "nlink is %llu, but %llu directory entries name it",
                      (unsigned long long)nlink, (unsigned long long)nref);
    if (nlink != 2 + nsub)
        rc = report(c, IDX_CHK_NLINK, ino, IDX_CHK_NO_BLOCK, 0,
                    "directory nlink is %llu, want %llu (2 + %llu subdirectories)",
                    (unsigned long long)nlink, (unsigned long long)(2 + nsub),
                    (unsigned long long)nsub);
    uint64_t want = ino == IDX_ROOT_INO ? 0 : 1;
    if (rc == 0 && nref != want)
        rc = report(c, IDX_CHK_NLINK, ino, IDX_CHK_NO_BLOCK, 0,
                    "directory is named by %llu entries, want %llu",
                    (unsigned long long)nref, (unsigned long long)want);
    return rc;
}

static int row_totals(struct chk *c, sqlite3_stmt *s)
{
    static const char *const names[] = {
        "n_inodes", "n_blocks", "raw_bytes", "payload_bytes",
    };
    int rc = 0;
    for (int i = 0; i < 4 && rc == 0; i++) {
        int64_t have = sqlite3_column_int64(s, i), want = sqlite3_column_int64(s, 4 + i);
        if (have != want)
            rc = report(c, IDX_CHK_TOTALS, 0, IDX_CHK_NO_BLOCK, 0,
                        "totals.%s is %lld, the tables hold %lld", names[i],
                        (long long)have, (long long)want);
    }
    return rc < 0 ? rc : 1;   /* 1: the row was there (see check_totals) */
}

static int check_totals(struct chk *c)
{
    int rc = each_row(c, ST_CHK_TOTALS, "totals", 0, row_totals);
    if (rc == 1)
        return 0;
    if (rc == 0)
        return report(c, IDX_CHK_TOTALS, 0, IDX_CHK_NO_BLOCK, 0, "totals row missing");
    return rc;
}

static int row_seg_live(struct chk *c, sqlite3_stmt *s)
{
    char name[SEG_NAME_LEN];
    seg_name(name, col_u64(s, 0));
    int64_t want = sqlite3_column_int64(s, 2);
    if (sqlite3_column_type(s, 1) == SQLITE_NULL)
        return report(c, IDX_CHK_SEG_LIVE, 0, IDX_CHK_NO_BLOCK, 0,
                      "segment %s: blocks hold %lld bytes of it, but it has no "
                      "segments row", name, (long long)want);
    int64_t live = sqlite3_column_int64(s, 1);
    if (live == want)
        return 0;
    return report(c, IDX_CHK_SEG_LIVE, 0, IDX_CHK_NO_BLOCK, 0,
                  "segment %s: segments.live is %lld, its blocks hold %lld", name,
                  (long long)live, (long long)want);
}

static int row_seg_file(struct chk *c, sqlite3_stmt *s)
{
    char name[SEG_NAME_LEN];
    seg_name(name, col_u64(s, 0));
    uint64_t n = col_u64(s, 1), end = col_u64(s, 2);
    struct stat st;
    if (fstatat(c->r->x->seg.dirfd, name, &st, 0) != 0) {
        int e = errno;
        return report(c, IDX_CHK_SEG_FILE, 0, IDX_CHK_NO_BLOCK, 0,
                      "segment %s: %s, and %llu blocks point into it", name,
                      e == ENOENT ? "file missing" : strerror(e),
                      (unsigned long long)n);
    }
    if (!S_ISREG(st.st_mode))
        return report(c, IDX_CHK_SEG_FILE, 0, IDX_CHK_NO_BLOCK, 0,
                      "segment %s is not a regular file", name);
    if ((uint64_t)st.st_size < end)
        return report(c, IDX_CHK_SEG_FILE, 0, IDX_CHK_NO_BLOCK, 0,
                      "segment %s is %llu bytes, but blocks point up to byte %llu",
                      name, (unsigned long long)st.st_size, (unsigned long long)end);
    return 0;
}

static int check_root(struct chk *c)
{
    struct idx_attr a;
    int rc = idx_r_inode_get(c->r, IDX_ROOT_INO, &a);
    if (rc == -ENOENT)
        return report(c, IDX_CHK_DATABASE, 0, IDX_CHK_NO_BLOCK, 0,
                      "the root directory (inode %u) is missing", IDX_ROOT_INO);
    if (rc == -EUCLEAN)
        return report(c, IDX_CHK_DATABASE, 0, IDX_CHK_NO_BLOCK, 0,
                      "cannot read the root inode: the database is damaged");
    if (rc == 0 && !S_ISDIR(a.mode))
        return report(c, IDX_CHK_DATABASE, IDX_ROOT_INO, IDX_CHK_NO_BLOCK, 0,
                      "the root inode is a %s, not a directory", type_name(a.mode));
    return rc;
}

int idx_r_check_index(struct idx_rd *r, idx_problem_fn fn, void *arg)
{
    struct chk c = { .r = r, .fn = fn, .arg = arg };
    int64_t bs = r->x->block_size, hdr = SEG_REC_HDR_LEN;
    int rc = each_row(&c, ST_CHK_INTEGRITY, "the database", 0, row_integrity);
    if (rc == 0)
        rc = check_root(&c);
    if (rc == 0)
        rc = each_row(&c, ST_CHK_BLK_NOINODE, "block owners", 0, row_noinode);
    if (rc == 0)
        rc = each_row(&c, ST_CHK_BLK_NOTREG, "block owners", 0, row_notreg);
    if (rc == 0)
        rc = each_row(&c, ST_CHK_BLK_RANGE, "block ranges", bs, row_range);
    if (rc == 0)
        rc = each_row(&c, ST_CHK_BLK_CODEC, "block codecs", 0, row_codec);
    if (rc == 0)
        rc = each_row(&c, ST_CHK_QUEUE, "the queue", 0, row_queue);
    if (rc == 0)
        rc = each_row(&c, ST_CHK_DENTRY, "directory entries", 0, row_dentry);
    if (rc == 0)
        rc = each_row(&c, ST_CHK_NLINK, "link counts", IDX_ROOT_INO, row_nlink);
    if (rc == 0)
        rc = check_totals(&c);
    if (rc == 0)
        rc = each_row(&c, ST_CHK_SEG_LIVE, "segment use", hdr, row_seg_live);
    if (rc == 0)
        rc = each_row(&c, ST_CHK_SEG_USED, "segment files", hdr, row_seg_file);
    return rc < 0 ? rc : c.n;
}

int idx_r_check_counts(struct idx_rd *r, struct idx_check_counts *out)
{
    sqlite3_stmt *s;
    memset(out, 0, sizeof *out);
    PREP(s, r->db, r->st, ST_CHK_COUNTS);
    int rc = step_row(s);
    if (rc != 0)
        return rc == -ENOENT ? -EIO : rc;   /* aggregates always give a row */
    out->n_inodes      = col_u64(s, 0);
    out->n_files       = col_u64(s, 1);
    out->n_dirs        = col_u64(s, 2);
    out->n_orphans     = col_u64(s, 3);
    out->n_blocks      = col_u64(s, 4);
    out->raw_bytes     = col_u64(s, 5);
    out->payload_bytes = col_u64(s, 6);
    stmt_done(s);
    return 0;
}

int idx_r_block_walk(struct idx_rd *r, idx_block_fn fn, void *arg)
{
    sqlite3_stmt *s;
    PREP(s, r->db, r->st, ST_CHK_WALK);
    int rv, rc = 0;
    while ((rv = sqlite3_step(s)) == SQLITE_ROW) {
        struct idx_bloc loc = {
            .ino     = col_u64(s, 0),
            .blkno   = col_u64(s, 1),
            .seg     = col_u64(s, 2),
            .off     = col_u64(s, 3),
            .len     = (uint32_t)col_u64(s, 4),
            .raw_len = (uint32_t)col_u64(s, 5),
            .codec   = (uint32_t)col_u64(s, 6),
            .crc32c  = (uint32_t)col_u64(s, 7),
            .gen     = col_u64(s, 8),
        };
        if ((rc = fn(arg, &loc)) != 0)
            break;
    }
    if (rc == 0 && rv != SQLITE_DONE)
        rc = idx_sqlerr(rv) ? idx_sqlerr(rv) : -EIO;
    stmt_done(s);
    return rc;
}

int idx_r_entry_of(struct idx_rd *r, uint64_t ino, uint64_t *dir, char *name,
                   size_t cap, size_t *len)
{
    sqlite3_stmt *s;
    PREP(s, r->db, r->st, ST_ENTRY_OF);
    bind_u64(s, 1, ino);
    int rc = step_row(s);
    if (rc != 0)
        return rc;
    size_t n = (size_t)sqlite3_column_bytes(s, 1);
    const void *p = sqlite3_column_blob(s, 1);
    *dir = col_u64(s, 0);
    *len = n;
    if (p && cap)
        memcpy(name, p, n < cap ? n : cap);
    stmt_done(s);
    return 0;
}
