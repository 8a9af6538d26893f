/* idx_block.c — the block map, payloads in segments, the compression
 * queue and space statistics. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "index/idx_int.h"

/* ---- block map ---- */

int idx_r_block_get(struct idx_rd *r, uint64_t ino, uint64_t blkno,
                    struct idx_bloc *out)
{
    sqlite3_stmt *s;
    PREP(s, r->db, r->st, ST_BLOCK_GET);
    bind_u64(s, 1, ino);
    bind_u64(s, 2, blkno);
    int rc = step_row(s);
    if (rc != 0)
        return rc;
    out->seg     = (uint64_t)sqlite3_column_int64(s, 0);
    out->off     = (uint64_t)sqlite3_column_int64(s, 1);
    out->len     = (uint32_t)sqlite3_column_int64(s, 2);
    out->raw_len = (uint32_t)sqlite3_column_int64(s, 3);
    out->codec   = (uint32_t)sqlite3_column_int64(s, 4);
    out->crc32c  = (uint32_t)sqlite3_column_int64(s, 5);
    out->gen     = (uint64_t)sqlite3_column_int64(s, 6);
    out->ino     = ino;
    out->blkno   = blkno;
    stmt_done(s);
    return 0;
}

static void bind_loc(sqlite3_stmt *s, uint64_t ino, uint64_t blkno,
                     const struct idx_bloc *loc, uint64_t gen)
{
    bind_u64(s, 1, ino);
    bind_u64(s, 2, blkno);
    bind_u64(s, 3, loc->seg);
    bind_u64(s, 4, loc->off);
    sqlite3_bind_int64(s, 5, loc->len);
    sqlite3_bind_int64(s, 6, loc->raw_len);
    sqlite3_bind_int64(s, 7, loc->codec);
    sqlite3_bind_int64(s, 8, loc->crc32c);
    bind_u64(s, 9, gen);
}

int idx_w_block_put(struct idx *x, uint64_t ino, uint64_t blkno,
                    struct idx_bloc *loc)
{
    sqlite3_stmt *s;
    int rc;
    IDX_W_CHECK(x);
    if ((loc->ino && loc->ino != ino) || (loc->ino && loc->blkno != blkno) ||
        loc->seg == 0 || loc->off < SEG_FILE_HDR_LEN)
        return -EINVAL;
    /* A store-wide counter, not old gen + 1: a block truncated away and
     * written again must not get back a generation a compressor saw. */
    uint64_t gen = x->gen_next++;
    /* Outside a transaction the statement commits itself: the payload it
     * points at must be on disk first (inside one, idx_w_commit does it). */
    if (sqlite3_get_autocommit(x->db) && (rc = seg_sync(&x->seg)) != 0)
        return rc;
    PREP(s, x->db, x->st, ST_BLOCK_UPD);
    bind_loc(s, ino, blkno, loc, gen);
    rc = idx_exec_stmt(s);
    if (rc == 0 && sqlite3_changes(x->db) == 0) {
        PREP(s, x->db, x->st, ST_BLOCK_INS);
        bind_loc(s, ino, blkno, loc, gen);
        rc = idx_exec_stmt(s);
    }
    if (rc == 0)
        loc->gen = gen;
    return rc;
}

int idx_w_block_truncate(struct idx *x, uint64_t ino, uint64_t first)
{
    sqlite3_stmt *s;
    int rc;
    IDX_W_CHECK(x);
    PREP(s, x->db, x->st, ST_BLOCK_TRUNC);
    bind_u64(s, 1, ino);
    bind_u64(s, 2, first);
    if ((rc = idx_exec_stmt(s)) != 0)
        return rc;
    PREP(s, x->db, x->st, ST_QUEUE_DEL_FROM);
    bind_u64(s, 1, ino);
    bind_u64(s, 2, first);
    return idx_exec_stmt(s);
}

int idx_w_block_delete(struct idx *x, uint64_t ino, uint64_t blkno)
{
    sqlite3_stmt *s;
    int rc;
    IDX_W_CHECK(x);
    PREP(s, x->db, x->st, ST_BLOCK_DEL);
    bind_u64(s, 1, ino);
    bind_u64(s, 2, blkno);
    if ((rc = idx_exec_stmt(s)) != 0)
        return rc;
    /* A block that no longer exists has nothing left to compress. */
    PREP(s, x->db, x->st, ST_QUEUE_DEL);
    bind_u64(s, 1, ino);
    bind_u64(s, 2, blkno);
    return idx_exec_stmt(s);
}

int idx_r_block_usage(struct idx_rd *r, uint64_t ino, uint64_t *n_blocks,
                      uint64_t *payload_bytes)
{
    sqlite3_stmt *s;
    PREP(s, r->db, r->st, ST_BLOCK_USAGE);
    bind_u64(s, 1, ino);
    int rc = step_row(s);
    if (rc != 0)
        return rc == -ENOENT ? -EIO : rc;   /* an aggregate always has a row */
    if (n_blocks)
        *n_blocks = (uint64_t)sqlite3_column_int64(s, 0);
    if (payload_bytes)
        *payload_bytes = (uint64_t)sqlite3_column_int64(s, 1);
    stmt_done(s);
    return 0;
}

/* ---- payloads ---- */

static void fill_loc(struct idx_bloc *loc, uint64_t seg, uint64_t off,
                     uint64_t len, uint32_t raw_len, uint32_t codec,
                     uint32_t crc, uint64_t ino, uint64_t blkno)
{
    loc->seg = seg;
    loc->off = off;
    loc->len = (uint32_t)len;
    loc->raw_len = raw_len;
    loc->codec = codec;
    loc->crc32c = crc;
    loc->gen = 0;
    loc->ino = ino;
    loc->blkno = blkno;
}

int idx_w_payload_append(struct idx *x, uint64_t ino, uint64_t blkno,
                         uint32_t codec, uint32_t raw_len,
                         const void *payload, size_t len, struct idx_bloc *loc)
{
    uint64_t seg, off;
    uint32_t crc;
    int rolled;
    IDX_W_CHECK(x);
    int rc = seg_append(&x->seg, ino, blkno, codec, raw_len, payload, len,
                        &seg, &off, &crc, &rolled);
    if (rc != 0)
        return rc;
    fill_loc(loc, seg, off, len, raw_len, codec, crc, ino, blkno);
    return 0;
}

int idx_w_payload_appendv(struct idx *x, uint64_t ino, uint64_t blkno,
                          uint32_t codec, uint32_t raw_len,
                          const struct iovec *iov, int n_iov,
                          const uint32_t *piece_crc, struct idx_bloc *loc)
{
    uint64_t seg, off, len = 0;
    uint32_t crc;
    int rolled;
    IDX_W_CHECK(x);
    int rc = seg_appendv(&x->seg, ino, blkno, codec, raw_len, iov, n_iov,
                         piece_crc, &seg, &off, &crc, &rolled);
    if (rc != 0)
        return rc;
    for (int i = 0; i < n_iov; i++)
        len += iov[i].iov_len;
    fill_loc(loc, seg, off, len, raw_len, codec, crc, ino, blkno);
    return 0;
}

int idx_w_payload_sync(struct idx *x)
{
    IDX_W_CHECK(x);
    return seg_sync(&x->seg);
}

int idx_w_payload_mark(struct idx *x, int *fd, uint64_t *gen)
{
    *fd = -1;
    *gen = 0;
    IDX_W_CHECK(x);
    return seg_mark(&x->seg, fd, gen);
}

int idx_payload_sync_fd(struct idx *x, int fd)
{
    return seg_sync_fd(&x->seg, fd);
}

void idx_w_payload_marked(struct idx *x, uint64_t gen, int result)
{
    if (!x->read_only)
        seg_marked(&x->seg, gen, result);
}

uint64_t idx_w_payload_failures(struct idx *x)
{
    return seg_sync_failures(&x->seg);
}

int idx_r_payload_read(struct idx_rd *r, const struct idx_bloc *loc,
                       void *buf, size_t cap)
{
    struct seg_rec rec;
    struct idx_bloc at = *loc;
    int rc;
    /* Compaction may have moved the block after the caller looked it up
     * and deleted the old segment.  If the row still has the caller's
     * generation, the bytes are the same: follow the row to its new place
     * (a few times at most: each move needs a whole compaction pass). */
    for (int tries = 0;; tries++) {
        rc = seg_read(&r->x->seg, at.seg, at.off, at.len, &rec, buf, cap);
        if (rc != -ESTALE || !loc->ino || tries == 3)
            break;
        struct idx_bloc now;
        if (idx_r_block_get(r, loc->ino, loc->blkno, &now) != 0 ||
            now.gen != loc->gen || now.len != loc->len ||
            (now.seg == at.seg && now.off == at.off))
            return -ESTALE;
        at = now;
    }
    if (rc != 0)
        return rc;
    /* The row and the record must describe the same block. */
    if (rec.codec != loc->codec || rec.raw_len != loc->raw_len ||
        rec.crc32c != loc->crc32c)
        return -EIO;
    if (loc->ino && (rec.ino != loc->ino || rec.blkno != loc->blkno))
        return -EIO;
    return 0;
}

/* ---- compression queue ---- */

int idx_w_queue_push(struct idx *x, uint64_t ino, uint64_t blkno)
{
    sqlite3_stmt *s;
    IDX_W_CHECK(x);
    PREP(s, x->db, x->st, ST_QUEUE_PUSH);
    bind_u64(s, 1, ino);
    bind_u64(s, 2, blkno);
    sqlite3_bind_int64(s, 3, idx_now_ns());
    return idx_exec_stmt(s);
}

static int peek(struct idx_rd *r, enum idx_stmt id, int64_t before,
                uint64_t *ino, uint64_t *blkno, int n)
{
    sqlite3_stmt *s;
    if (n <= 0)
        return 0;
    PREP(s, r->db, r->st, id);
    sqlite3_bind_int(s, 1, n);
    if (id == ST_QUEUE_PEEK_BEFORE)
        sqlite3_bind_int64(s, 2, before);
    int rv, k = 0;
    while (k < n && (rv = sqlite3_step(s)) == SQLITE_ROW) {
        ino[k] = (uint64_t)sqlite3_column_int64(s, 0);
        blkno[k] = (uint64_t)sqlite3_column_int64(s, 1);
        k++;
    }
    int rc = k < n && rv != SQLITE_DONE ? idx_sqlerr(rv) : 0;
    stmt_done(s);
    return rc ? rc : k;
}

int idx_r_queue_peek(struct idx_rd *r, uint64_t *ino, uint64_t *blkno, int n)
{
    return peek(r, ST_QUEUE_PEEK, 0, ino, blkno, n);
}

int idx_r_queue_peek_before(struct idx_rd *r, int64_t before_ns, uint64_t *ino,
                            uint64_t *blkno, int n)
{
    return peek(r, ST_QUEUE_PEEK_BEFORE, before_ns, ino, blkno, n);
}

int idx_w_queue_remove(struct idx *x, uint64_t ino, uint64_t blkno)
{
    sqlite3_stmt *s;
    IDX_W_CHECK(x);
    PREP(s, x->db, x->st, ST_QUEUE_DEL);
    bind_u64(s, 1, ino);
    bind_u64(s, 2, blkno);
    return idx_exec_stmt(s);
}

/* ---- statistics ---- */

int idx_r_stats(struct idx_rd *r, struct idx_stats *out)
{
    sqlite3_stmt *s;
    memset(out, 0, sizeof *out);
    PREP(s, r->db, r->st, ST_TOTALS);
    int rc = step_row(s);
    if (rc != 0)
        return rc == -ENOENT ? -EUCLEAN : rc;
    out->n_inodes      = (uint64_t)sqlite3_column_int64(s, 0);
    out->n_blocks      = (uint64_t)sqlite3_column_int64(s, 1);
    out->raw_bytes     = (uint64_t)sqlite3_column_int64(s, 2);
    out->payload_bytes = (uint64_t)sqlite3_column_int64(s, 3);
    stmt_done(s);

    struct seg_store *st = &r->x->seg;
    pthread_mutex_lock(&st->mu);
    uint64_t active = st->active_pub;
    pthread_mutex_unlock(&st->mu);
    int seen_active = 0;
    PREP(s, r->db, r->st, ST_SEG_LIST);
    int rv;
    while ((rv = sqlite3_step(s)) == SQLITE_ROW) {
        uint64_t id = (uint64_t)sqlite3_column_int64(s, 0);
        seen_active |= id == active;
        out->segment_bytes += seg_file_size(st, id);
    }
    rc = rv == SQLITE_DONE ? 0 : idx_sqlerr(rv);
    stmt_done(s);
    /* The active segment gets its row only with its first committed block. */
    if (rc == 0 && active && !seen_active)
        out->segment_bytes += seg_file_size(st, active);
    return rc;
}

/* ---- background compression ---- */

/* The compare-and-swap's tail: the statement in s changed the row (then
 * the queue entry goes) or found it rewritten (-ESTALE). */
static int cas_done(struct idx *x, sqlite3_stmt *s, uint64_t ino, uint64_t blkno)
{
    int rc = idx_exec_stmt(s);
    if (rc)
        return rc;
    if (sqlite3_changes(x->db) == 0)
        return -ESTALE;
    PREP(s, x->db, x->st, ST_QUEUE_DEL);
    bind_u64(s, 1, ino);
    bind_u64(s, 2, blkno);
    return idx_exec_stmt(s);
}

int idx_w_block_swap(struct idx *x, uint64_t ino, uint64_t blkno, uint64_t gen,
                     struct idx_bloc *loc, uint64_t model)
{
    sqlite3_stmt *s;
    int rc;
    IDX_W_CHECK(x);
    if ((loc->ino && (loc->ino != ino || loc->blkno != blkno)) ||
        loc->seg == 0 || loc->off < SEG_FILE_HDR_LEN)
        return -EINVAL;
    if (sqlite3_get_autocommit(x->db) && (rc = seg_sync(&x->seg)) != 0)
        return rc;
    uint64_t ngen = x->gen_next++;
    PREP(s, x->db, x->st, ST_BLOCK_SWAP);
    bind_u64(s, 1, ino);
    bind_u64(s, 2, blkno);
    bind_u64(s, 3, loc->seg);
    bind_u64(s, 4, loc->off);
    sqlite3_bind_int64(s, 5, loc->len);
    sqlite3_bind_int64(s, 6, loc->codec);
    sqlite3_bind_int64(s, 7, loc->crc32c);
    bind_u64(s, 8, model);
    bind_u64(s, 9, gen);
    bind_u64(s, 10, ngen);
    sqlite3_bind_int64(s, 11, loc->raw_len);
    rc = cas_done(x, s, ino, blkno);
    if (rc == 0)
        loc->gen = ngen;
    return rc;
}

int idx_w_block_keep(struct idx *x, uint64_t ino, uint64_t blkno, uint64_t gen,
                     uint64_t why)
{
    sqlite3_stmt *s;
    IDX_W_CHECK(x);
    if (why == 0)
        return -EINVAL;
    PREP(s, x->db, x->st, ST_BLOCK_KEEP);
    bind_u64(s, 1, ino);
    bind_u64(s, 2, blkno);
    bind_u64(s, 3, gen);
    bind_u64(s, 4, why);
    return cas_done(x, s, ino, blkno);
}

int idx_w_block_drop(struct idx *x, uint64_t ino, uint64_t blkno, uint64_t gen)
{
    sqlite3_stmt *s;
    IDX_W_CHECK(x);
    PREP(s, x->db, x->st, ST_BLOCK_DEL_GEN);
    bind_u64(s, 1, ino);
    bind_u64(s, 2, blkno);
    bind_u64(s, 3, gen);
    return cas_done(x, s, ino, blkno);
}

int idx_w_queue_drop_orphan(struct idx *x, uint64_t ino, uint64_t blkno)
{
    sqlite3_stmt *s;
    IDX_W_CHECK(x);
    PREP(s, x->db, x->st, ST_QUEUE_DEL_ORPHAN);
    bind_u64(s, 1, ino);
    bind_u64(s, 2, blkno);
    return idx_exec_stmt(s);
}

int idx_w_requeue_kept(struct idx *x, uint64_t model, uint64_t *n)
{
    sqlite3_stmt *s;
    int rc;
    IDX_W_CHECK(x);
    PREP(s, x->db, x->st, ST_REQUEUE_KEPT);
    bind_u64(s, 1, model);
    sqlite3_bind_int64(s, 2, idx_now_ns());
    if ((rc = idx_exec_stmt(s)) != 0)
        return rc;
    if (n)
        *n = (uint64_t)sqlite3_changes(x->db);
    PREP(s, x->db, x->st, ST_UNKEEP);
    bind_u64(s, 1, model);
    return idx_exec_stmt(s);
}

int idx_w_model_note(struct idx *x, uint64_t model, const char *preset)
{
    sqlite3_stmt *s;
    IDX_W_CHECK(x);
    PREP(s, x->db, x->st, ST_MODEL_NOTE);
    bind_u64(s, 1, model);
    sqlite3_bind_text(s, 2, preset, -1, SQLITE_STATIC);
    return idx_exec_stmt(s);
}

int idx_r_model_name(struct idx_rd *r, uint64_t model, char *buf, size_t cap)
{
    sqlite3_stmt *s;
    PREP(s, r->db, r->st, ST_MODEL_NAME);
    bind_u64(s, 1, model);
    int rc = step_row(s);
    if (rc != 0)
        return rc;
    const unsigned char *t = sqlite3_column_text(s, 0);
    if (cap)
        snprintf(buf, cap, "%s", t ? (const char *)t : "");
    stmt_done(s);
    return 0;
}

int idx_r_census(struct idx_rd *r, uint64_t ino, struct idx_census_row *rows,
                 int cap)
{
    sqlite3_stmt *s;
    if (ino) {
        PREP(s, r->db, r->st, ST_CENSUS_INO);
        bind_u64(s, 1, ino);
    } else {
        PREP(s, r->db, r->st, ST_CENSUS_ALL);
    }
    int rv, k = 0;
    while ((rv = sqlite3_step(s)) == SQLITE_ROW) {
        if (k < cap) {
            struct idx_census_row *w = &rows[k];
            w->codec = (uint32_t)sqlite3_column_int64(s, 0);
            w->model = (uint64_t)sqlite3_column_int64(s, 1);
            w->kept = (uint64_t)sqlite3_column_int64(s, 2);
            w->n_blocks = (uint64_t)sqlite3_column_int64(s, 3);
            w->raw_bytes = (uint64_t)sqlite3_column_int64(s, 4);
            w->payload_bytes = (uint64_t)sqlite3_column_int64(s, 5);
        }
        k++;
    }
    int rc = rv == SQLITE_DONE ? 0 : idx_sqlerr(rv);
    stmt_done(s);
    return rc ? rc : k;
}

int idx_r_queue_count(struct idx_rd *r, uint64_t ino, int64_t before_ns,
                      uint64_t *n)
{
    sqlite3_stmt *s;
    if (ino) {
        PREP(s, r->db, r->st, ST_QUEUE_COUNT_INO);
        bind_u64(s, 1, ino);
    } else if (before_ns > 0) {
        PREP(s, r->db, r->st, ST_QUEUE_COUNT_BEFORE);
        sqlite3_bind_int64(s, 1, before_ns);
    } else {
        PREP(s, r->db, r->st, ST_QUEUE_COUNT);
    }
    int rc = step_row(s);
    if (rc != 0)
        return rc == -ENOENT ? -EIO : rc;
    *n = (uint64_t)sqlite3_column_int64(s, 0);
    stmt_done(s);
    return 0;
}
