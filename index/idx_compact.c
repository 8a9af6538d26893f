/* idx_compact.c — compaction: rewrite mostly-dead segments into the active
 * one and delete them.
 *
 * The active segment qualifies like any other: when it is mostly dead it
 * is first sealed (synced, and a new segment started, as at a roll-over),
 * then compacted into its successor.  Otherwise a store whose only segment
 * is the active one (up to segment_max bytes) could never give space back.
 * Sealing is safe only when every payload appended so far either has its
 * row committed or is garbage, which idx_w_compact's contract asks of the
 * caller (idx.h).
 *
 * Crash safety, step by step (each step is safe to be the last):
 *   1. copy every live record of segment S to the active segment, then
 *      fdatasync it: the copies are garbage nobody references yet;
 *   2. one transaction moves each row (only if it still points at its old
 *      place in S) and deletes S's segments row; durable commit;
 *   3. unlink S and sync the directory.  A crash before 3 leaves a file
 *      with no row and no block pointing into it, which the sweep at the
 *      next open deletes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "index/idx_int.h"

struct move {
    uint64_t ino, blkno, off, new_seg, new_off;
    uint32_t len, raw_len, codec, crc;
};

struct cand {
    uint64_t id;
};

/* Reads the rows of segment id (in file order). */
static int load_rows(struct idx *x, uint64_t id, struct move **out, size_t *n_out)
{
    sqlite3_stmt *s;
    PREP(s, x->db, x->st, ST_BLOCKS_IN_SEG);
    bind_u64(s, 1, id);
    struct move *m = NULL;
    size_t n = 0, cap = 0;
    int rv, rc = 0;
    while ((rv = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 256;
            struct move *nm = realloc(m, ncap * sizeof *nm);
            if (!nm) {
                rc = -ENOMEM;
                break;
            }
            m = nm;
            cap = ncap;
        }
        m[n++] = (struct move){
            .ino     = (uint64_t)sqlite3_column_int64(s, 0),
            .blkno   = (uint64_t)sqlite3_column_int64(s, 1),
            .off     = (uint64_t)sqlite3_column_int64(s, 2),
            .len     = (uint32_t)sqlite3_column_int64(s, 3),
            .raw_len = (uint32_t)sqlite3_column_int64(s, 4),
            .codec   = (uint32_t)sqlite3_column_int64(s, 5),
            .crc     = (uint32_t)sqlite3_column_int64(s, 6),
        };
    }
    if (rc == 0 && rv != SQLITE_DONE)
        rc = idx_sqlerr(rv);
    stmt_done(s);
    if (rc != 0) {
        free(m);
        return rc;
    }
    *out = m;
    *n_out = n;
    return 0;
}

/* Step 1: copies the records to the active segment and syncs them. */
static int copy_rows(struct idx *x, uint64_t id, struct move *m, size_t n)
{
    void *buf = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (m[i].len > cap || !buf) {
            size_t ncap = m[i].len > 65536 ? m[i].len : 65536;
            void *nb = realloc(buf, ncap);
            if (!nb) {
                rc = -ENOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        struct seg_rec rec;
        rc = seg_read(&x->seg, id, m[i].off, m[i].len, &rec, buf, cap);
        /* A record that does not match its row is damage: leave the whole
         * segment alone rather than spread it. */
        if (rc == 0 && (rec.ino != m[i].ino || rec.blkno != m[i].blkno ||
                        rec.codec != m[i].codec || rec.raw_len != m[i].raw_len ||
                        rec.crc32c != m[i].crc))
            rc = -EIO;
        if (rc == 0) {
            uint32_t crc;
            int rolled;
            rc = seg_append(&x->seg, m[i].ino, m[i].blkno, m[i].codec,
                            m[i].raw_len, buf, m[i].len, &m[i].new_seg,
                            &m[i].new_off, &crc, &rolled);
        }
    }
    free(buf);
    return rc == 0 ? seg_sync(&x->seg) : rc;
}

/* Step 2: moves the rows and drops the segment's row, durably. */
static int move_rows(struct idx *x, uint64_t id, const struct move *m, size_t n)
{
    sqlite3_stmt *s;
    int rc = idx_w_begin(x);
    for (size_t i = 0; i < n && rc == 0; i++) {
        PREP(s, x->db, x->st, ST_BLOCK_MOVE);
        bind_u64(s, 1, m[i].ino);
        bind_u64(s, 2, m[i].blkno);
        bind_u64(s, 3, id);
        bind_u64(s, 4, m[i].off);
        bind_u64(s, 5, m[i].new_seg);
        bind_u64(s, 6, m[i].new_off);
        rc = idx_exec_stmt(s);
    }
    if (rc == 0) {
        /* Every row was moved (compaction runs on the writer thread, so
         * nothing rewrote one meanwhile); check rather than trust. */
        s = idx_stmt(x->db, x->st, ST_BLOCK_SEG_USED, &rc);
        if (s) {
            bind_u64(s, 1, id);
            rc = step_row(s);
            if (rc == 0) {
                stmt_done(s);
                rc = -EIO;
            } else if (rc == -ENOENT) {
                rc = 0;
            }
        }
    }
    if (rc == 0) {
        s = idx_stmt(x->db, x->st, ST_SEG_DEL, &rc);
        if (s) {
            bind_u64(s, 1, id);
            rc = idx_exec_stmt(s);
        }
    }
    if (rc != 0) {
        idx_w_rollback(x);
        return rc;
    }
    return idx_w_commit(x, 1);
}

static int compact_one(struct idx *x, uint64_t id)
{
    struct move *m = NULL;
    size_t n = 0;
    int rc = load_rows(x, id, &m, &n);
    if (rc == 0)
        rc = copy_rows(x, id, m, n);
    if (rc == 0)
        rc = move_rows(x, id, m, n);
    free(m);
    if (rc == 0)
        rc = seg_retire(&x->seg, id);
    return rc;
}

int idx_w_compact(struct idx *x, double live_min)
{
    sqlite3_stmt *s;
    IDX_W_CHECK(x);
    if (!sqlite3_get_autocommit(x->db))
        return -EINVAL;
    PREP(s, x->db, x->st, ST_SEG_LIST);
    struct cand *c = NULL;
    size_t n = 0, cap = 0;
    int rv, rc = 0, seal = 0, seen_active = 0;
    uint64_t active = x->seg.active;
    while ((rv = sqlite3_step(s)) == SQLITE_ROW) {
        uint64_t id = (uint64_t)sqlite3_column_int64(s, 0);
        int64_t live = sqlite3_column_int64(s, 1);
        uint64_t size = seg_file_size(&x->seg, id);
        if (id == active) {
            seen_active = 1;
            /* Holding nothing but its header, it has nothing to give. */
            if (size <= SEG_FILE_HDR_LEN)
                continue;
        }
        /* live counts record bytes; the file header is never live. */
        if ((double)live >= live_min * (double)size && live > 0)
            continue;
        seal |= id == active;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct cand *nc = realloc(c, ncap * sizeof *nc);
            if (!nc) {
                rc = -ENOMEM;
                break;
            }
            c = nc;
            cap = ncap;
        }
        c[n++].id = id;
    }
    if (rc == 0 && rv != SQLITE_DONE)
        rc = idx_sqlerr(rv);
    stmt_done(s);
    /* An active segment without a row has no committed block: whatever it
     * holds is garbage (rolled-back appends). */
    if (rc == 0 && active && !seen_active &&
        seg_file_size(&x->seg, active) > SEG_FILE_HDR_LEN) {
        struct cand *nc = realloc(c, (n + 1) * sizeof *nc);
        if (nc) {
            c = nc;
            c[n++].id = active;
            seal = 1;
        }
    }
    if (rc == 0 && seal && seg_seal(&x->seg) != 0) {
        /* Not sealed: it stays active and is left alone this time. */
        for (size_t i = 0; i < n; i++)
            if (c[i].id == active)
                c[i] = c[--n];
    }
    /* Go on past a damaged segment; stop at the first error that would
     * hit every segment (no space, I/O on the active one). */
    int first_err = rc;
    for (size_t i = 0; i < n && rc != -ENOSPC; i++) {
        rc = compact_one(x, c[i].id);
        if (rc != 0 && first_err == 0)
            first_err = rc;
    }
    free(c);
    return first_err;
}
