/* test_block.c — block map, payloads, queue, statistics. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "index/idx.h"
#include "tests/index/idx_fixture.h"

TestSuite(block, .init = setup, .fini = teardown);
TestSuite(payload, .init = setup, .fini = teardown);
TestSuite(queue, .init = setup, .fini = teardown);
TestSuite(stats, .init = setup, .fini = teardown);

static void read_back(const struct idx_bloc *loc, const void *want, size_t len)
{
    char *buf = malloc(len + 1);
    cr_assert_eq(idx_r_payload_read(r, loc, buf, len + 1), 0);
    cr_assert_eq(memcmp(buf, want, len), 0);
    free(buf);
}

Test(payload, append_sync_read)
{
    char a[1000], b[3];
    itest_fill(a, sizeof a, 1);
    itest_fill(b, sizeof b, 2);
    struct idx_bloc la, lb, le;
    cr_assert_eq(idx_w_payload_append(x, 7, 0, 1, 5000, a, sizeof a, &la), 0);
    cr_assert_eq(idx_w_payload_append(x, 7, 1, 0, 3, b, sizeof b, &lb), 0);
    cr_assert_eq(idx_w_payload_append(x, 7, 2, 0, 0, NULL, 0, &le), 0);
    cr_assert_eq(idx_w_payload_sync(x), 0);
    cr_assert_eq(la.seg, lb.seg);
    cr_assert_gt(lb.off, la.off);
    cr_assert_eq(la.len, 1000);
    cr_assert_eq(la.raw_len, 5000);
    cr_assert_eq(la.codec, 1);
    cr_assert_eq(la.gen, 0);
    cr_assert_eq(la.ino, 7);
    cr_assert_eq(lb.blkno, 1);
    read_back(&la, a, sizeof a);
    read_back(&lb, b, sizeof b);
    char one;
    cr_assert_eq(idx_r_payload_read(r, &le, &one, 0), 0);
    /* cap smaller than the payload */
    char small[10];
    cr_assert_eq(idx_r_payload_read(r, &la, small, sizeof small), -EINVAL);
}

Test(payload, loc_must_match_record)
{
    char a[100];
    itest_fill(a, sizeof a, 1);
    struct idx_bloc l, bad;
    cr_assert_eq(idx_w_payload_append(x, 7, 3, 0, 100, a, sizeof a, &l), 0);
    char buf[200];
    bad = l; bad.codec = 1;
    cr_assert_eq(idx_r_payload_read(r, &bad, buf, sizeof buf), -EIO);
    bad = l; bad.raw_len = 99;
    cr_assert_eq(idx_r_payload_read(r, &bad, buf, sizeof buf), -EIO);
    bad = l; bad.len = 99;
    cr_assert_eq(idx_r_payload_read(r, &bad, buf, sizeof buf), -EIO);
    bad = l; bad.crc32c ^= 1;
    cr_assert_eq(idx_r_payload_read(r, &bad, buf, sizeof buf), -EIO);
    bad = l; bad.ino = 8;
    cr_assert_eq(idx_r_payload_read(r, &bad, buf, sizeof buf), -EIO);
    bad = l; bad.blkno = 4;
    cr_assert_eq(idx_r_payload_read(r, &bad, buf, sizeof buf), -EIO);
    bad = l; bad.off += 1;
    cr_assert_eq(idx_r_payload_read(r, &bad, buf, sizeof buf), -EIO);
    bad = l; bad.off = 0;
    cr_assert_eq(idx_r_payload_read(r, &bad, buf, sizeof buf), -EIO);
    bad = l; bad.off += 100000;   /* past the end of the file */
    cr_assert_eq(idx_r_payload_read(r, &bad, buf, sizeof buf), -EIO);
    bad = l; bad.seg += 1000;     /* no such segment */
    cr_assert_eq(idx_r_payload_read(r, &bad, buf, sizeof buf), -ESTALE);
    bad = l; bad.ino = 0;         /* identity unknown: not checked */
    cr_assert_eq(idx_r_payload_read(r, &bad, buf, sizeof buf), 0);
}

Test(block, put_get_replace_truncate)
{
    char a[500], b[700];
    itest_fill(a, sizeof a, 1);
    itest_fill(b, sizeof b, 2);
    struct idx_bloc l0, l1, got;
    cr_assert_eq(idx_r_block_get(r, 9, 0, &got), -ENOENT);
    cr_assert_eq(idx_w_begin(x), 0);
    itest_put_block(x, 9, 0, a, sizeof a, &l0);
    itest_put_block(x, 9, 5, b, sizeof b, &l1);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    cr_assert_neq(l0.gen, 0);
    cr_assert_gt(l1.gen, l0.gen);

    cr_assert_eq(idx_r_block_get(r, 9, 0, &got), 0);
    cr_assert_eq(got.seg, l0.seg);
    cr_assert_eq(got.off, l0.off);
    cr_assert_eq(got.len, 500);
    cr_assert_eq(got.raw_len, 500);
    cr_assert_eq(got.codec, 0);
    cr_assert_eq(got.crc32c, l0.crc32c);
    cr_assert_eq(got.gen, l0.gen);
    cr_assert_eq(got.ino, 9);
    cr_assert_eq(got.blkno, 0);
    read_back(&got, a, sizeof a);
    cr_assert_eq(idx_r_block_get(r, 9, 1, &got), -ENOENT);   /* a hole */

    /* Replace block 0: new location, new generation. */
    struct idx_bloc l2;
    itest_put_block(x, 9, 0, b, sizeof b, &l2);
    cr_assert_gt(l2.gen, l1.gen);
    cr_assert_eq(idx_r_block_get(r, 9, 0, &got), 0);
    cr_assert_eq(got.off, l2.off);
    cr_assert_eq(got.gen, l2.gen);
    read_back(&got, b, sizeof b);

    cr_assert_eq(idx_w_block_truncate(x, 9, 1), 0);
    cr_assert_eq(idx_r_block_get(r, 9, 5, &got), -ENOENT);
    cr_assert_eq(idx_r_block_get(r, 9, 0, &got), 0);
    cr_assert_eq(idx_w_block_truncate(x, 9, 0), 0);
    cr_assert_eq(idx_r_block_get(r, 9, 0, &got), -ENOENT);
}

Test(block, put_checks_identity)
{
    char a[10] = { 0 };
    struct idx_bloc l;
    cr_assert_eq(idx_w_payload_append(x, 9, 0, 0, 10, a, sizeof a, &l), 0);
    cr_assert_eq(idx_w_block_put(x, 10, 0, &l), -EINVAL);
    cr_assert_eq(idx_w_block_put(x, 9, 1, &l), -EINVAL);
    struct idx_bloc z = { 0 };
    cr_assert_eq(idx_w_block_put(x, 9, 0, &z), -EINVAL);
}

Test(block, generations_never_repeat)
{
    char a[10] = { 0 };
    struct idx_bloc l1, l2, l3;
    itest_put_block(x, 9, 0, a, sizeof a, &l1);
    cr_assert_eq(idx_w_block_truncate(x, 9, 0), 0);
    itest_put_block(x, 9, 0, a, sizeof a, &l2);
    cr_assert_gt(l2.gen, l1.gen);
    /* Across a reopen too. */
    idx_rd_close(r);
    idx_close(x);
    x = itest_open(dir, 0, 0);
    cr_assert_eq(idx_rd_open(x, &r), 0);
    cr_assert_eq(idx_w_block_truncate(x, 9, 0), 0);
    itest_put_block(x, 9, 0, a, sizeof a, &l3);
    cr_assert_gt(l3.gen, l2.gen);
}

Test(block, rollback_keeps_old_row)
{
    char a[10], b[10];
    itest_fill(a, sizeof a, 1);
    itest_fill(b, sizeof b, 2);
    struct idx_bloc l1, got;
    itest_put_block(x, 9, 0, a, sizeof a, &l1);
    cr_assert_eq(idx_w_begin(x), 0);
    itest_put_block(x, 9, 0, b, sizeof b, NULL);
    idx_w_rollback(x);
    cr_assert_eq(idx_r_block_get(r, 9, 0, &got), 0);
    cr_assert_eq(got.gen, l1.gen);
    read_back(&got, a, sizeof a);
}

Test(block, reopen_sees_everything)
{
    char a[4096];
    struct idx_bloc locs[20];
    cr_assert_eq(idx_w_begin(x), 0);
    for (int i = 0; i < 20; i++) {
        itest_fill(a, sizeof a, (uint32_t)i);
        itest_put_block(x, 3, (uint64_t)i, a, sizeof a, &locs[i]);
    }
    struct idx_attr at = { .mode = S_IFREG | 0644, .nlink = 1, .size = 20 * 4096 };
    cr_assert_eq(idx_w_inode_create(x, &at), 0);
    cr_assert_eq(idx_w_link(x, 1, "f", 1, at.ino), 0);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    idx_rd_close(r);
    idx_close(x);
    x = itest_open(dir, 0, 0);
    cr_assert_eq(idx_rd_open(x, &r), 0);
    uint64_t ino;
    cr_assert_eq(idx_r_lookup(r, 1, "f", 1, &ino), 0);
    cr_assert_eq(ino, at.ino);
    for (int i = 0; i < 20; i++) {
        struct idx_bloc got;
        cr_assert_eq(idx_r_block_get(r, 3, (uint64_t)i, &got), 0);
        cr_assert_eq(got.gen, locs[i].gen);
        itest_fill(a, sizeof a, (uint32_t)i);
        read_back(&got, a, sizeof a);
    }
}

Test(queue, push_peek_remove)
{
    uint64_t ino[8], blk[8];
    cr_assert_eq(idx_r_queue_peek(r, ino, blk, 8), 0);
    cr_assert_eq(idx_w_queue_push(x, 1, 10), 0);
    cr_assert_eq(idx_w_queue_push(x, 2, 20), 0);
    cr_assert_eq(idx_w_queue_push(x, 3, 30), 0);
    cr_assert_eq(idx_r_queue_peek(r, ino, blk, 8), 3);
    cr_assert_eq(ino[0], 1); cr_assert_eq(blk[0], 10);
    cr_assert_eq(ino[1], 2); cr_assert_eq(blk[1], 20);
    cr_assert_eq(ino[2], 3); cr_assert_eq(blk[2], 30);
    cr_assert_eq(idx_r_queue_peek(r, ino, blk, 2), 2);
    cr_assert_eq(idx_r_queue_peek(r, ino, blk, 0), 0);
    /* Pushing again moves the entry to the back, once. */
    cr_assert_eq(idx_w_queue_push(x, 1, 10), 0);
    cr_assert_eq(idx_r_queue_peek(r, ino, blk, 8), 3);
    cr_assert_eq(ino[0], 2);
    cr_assert_eq(ino[2], 1);
    cr_assert_eq(idx_w_queue_remove(x, 2, 20), 0);
    cr_assert_eq(idx_w_queue_remove(x, 2, 20), 0);   /* absent: not an error */
    cr_assert_eq(idx_r_queue_peek(r, ino, blk, 8), 2);
    cr_assert_eq(ino[0], 3);
    /* Truncate drops queued blocks past the cut. */
    cr_assert_eq(idx_w_queue_push(x, 3, 31), 0);
    cr_assert_eq(idx_w_block_truncate(x, 3, 31), 0);
    cr_assert_eq(idx_r_queue_peek(r, ino, blk, 8), 2);
}

Test(queue, peek_before_and_persistence)
{
    uint64_t ino[8], blk[8];
    cr_assert_eq(idx_w_queue_push(x, 1, 10), 0);
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t mid = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    nanosleep(&ts, NULL);
    cr_assert_eq(idx_w_queue_push(x, 2, 20), 0);
    cr_assert_eq(idx_r_queue_peek_before(r, mid, ino, blk, 8), 1);
    cr_assert_eq(ino[0], 1);
    cr_assert_eq(idx_r_queue_peek_before(r, 0, ino, blk, 8), 0);
    idx_rd_close(r);
    idx_close(x);
    x = itest_open(dir, 0, 0);
    cr_assert_eq(idx_rd_open(x, &r), 0);
    cr_assert_eq(idx_r_queue_peek(r, ino, blk, 8), 2);
}

Test(stats, counts_and_bytes)
{
    struct idx_stats s;
    cr_assert_eq(idx_r_stats(r, &s), 0);
    cr_assert_eq(s.n_inodes, 1);
    cr_assert_eq(s.n_blocks, 0);
    cr_assert_eq(s.raw_bytes, 0);
    cr_assert_eq(s.payload_bytes, 0);
    cr_assert_eq(s.segment_bytes, 0);   /* no segment before the first append */
    uint64_t seg0 = 32;                 /* its file header */

    char a[1000];
    itest_fill(a, sizeof a, 1);
    struct idx_bloc l;
    cr_assert_eq(idx_w_payload_append(x, 5, 0, 1, 4096, a, 600, &l), 0);
    cr_assert_eq(idx_w_block_put(x, 5, 0, &l), 0);
    cr_assert_eq(idx_w_payload_append(x, 5, 1, 0, 1000, a, 1000, &l), 0);
    cr_assert_eq(idx_w_block_put(x, 5, 1, &l), 0);
    struct idx_attr at = { .mode = S_IFREG | 0644, .nlink = 1 };
    cr_assert_eq(idx_w_inode_create(x, &at), 0);
    cr_assert_eq(idx_r_stats(r, &s), 0);
    cr_assert_eq(s.n_inodes, 2);
    cr_assert_eq(s.n_blocks, 2);
    cr_assert_eq(s.raw_bytes, 5096);
    cr_assert_eq(s.payload_bytes, 1600);
    cr_assert_eq(s.segment_bytes, seg0 + 2 * 40 + 1600);
    /* Replacing block 0 changes the sums, not the count. */
    cr_assert_eq(idx_w_payload_append(x, 5, 0, 0, 100, a, 100, &l), 0);
    cr_assert_eq(idx_w_block_put(x, 5, 0, &l), 0);
    cr_assert_eq(idx_r_stats(r, &s), 0);
    cr_assert_eq(s.n_blocks, 2);
    cr_assert_eq(s.raw_bytes, 1100);
    cr_assert_eq(s.payload_bytes, 1100);
    cr_assert_eq(idx_w_inode_delete(x, at.ino), 0);
    cr_assert_eq(idx_w_block_truncate(x, 5, 0), 0);
    cr_assert_eq(idx_r_stats(r, &s), 0);
    cr_assert_eq(s.n_inodes, 1);
    cr_assert_eq(s.n_blocks, 0);
    cr_assert_eq(s.raw_bytes, 0);
    cr_assert_eq(s.payload_bytes, 0);
}

Test(block, delete_one_row)
{
    char a[300], b[400];
    itest_fill(a, sizeof a, 3);
    itest_fill(b, sizeof b, 4);
    struct idx_bloc l0, l1, got;
    struct idx_stats s;
    cr_assert_eq(idx_w_begin(x), 0);
    itest_put_block(x, 11, 0, a, sizeof a, &l0);
    itest_put_block(x, 11, 1, b, sizeof b, &l1);
    cr_assert_eq(idx_w_queue_push(x, 11, 0), 0);
    cr_assert_eq(idx_w_queue_push(x, 11, 1), 0);
    cr_assert_eq(idx_w_commit(x, 0), 0);

    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_block_delete(x, 11, 0), 0);
    cr_assert_eq(idx_w_block_delete(x, 11, 7), 0);      /* a hole: no error */
    cr_assert_eq(idx_w_commit(x, 0), 0);
    cr_assert_eq(idx_r_block_get(r, 11, 0, &got), -ENOENT);
    cr_assert_eq(idx_r_block_get(r, 11, 1, &got), 0);
    read_back(&got, b, sizeof b);
    /* Its queue entry went with it; the neighbour's stayed. */
    uint64_t qi[4], qb[4];
    cr_assert_eq(idx_r_queue_peek(r, qi, qb, 4), 1);
    cr_assert_eq(qi[0], 11);
    cr_assert_eq(qb[0], 1);
    /* Its payload is dead space now. */
    cr_assert_eq(idx_r_stats(r, &s), 0);
    cr_assert_eq(s.n_blocks, 1);
    cr_assert_eq(s.payload_bytes, sizeof b);
    cr_assert_gt(s.segment_bytes, s.payload_bytes + sizeof a);
}

Test(block, delete_rolls_back)
{
    char a[100];
    itest_fill(a, sizeof a, 5);
    struct idx_bloc l0, got;
    cr_assert_eq(idx_w_begin(x), 0);
    itest_put_block(x, 12, 3, a, sizeof a, &l0);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_block_delete(x, 12, 3), 0);
    idx_w_rollback(x);
    cr_assert_eq(idx_r_block_get(r, 12, 3, &got), 0);
    cr_assert_eq(got.gen, l0.gen);
}

Test(block, usage_counts_and_sums)
{
    char a[1000];
    itest_fill(a, sizeof a, 6);
    uint64_t n = 99, bytes = 99;
    cr_assert_eq(idx_r_block_usage(r, 20, &n, &bytes), 0);   /* no rows */
    cr_assert_eq(n, 0);
    cr_assert_eq(bytes, 0);
    struct idx_bloc l;
    cr_assert_eq(idx_w_begin(x), 0);
    itest_put_block(x, 20, 0, a, 100, &l);
    itest_put_block(x, 20, 9, a, 250, &l);
    itest_put_block(x, 20, 1000000, a, 1000, &l);
    itest_put_block(x, 21, 0, a, 777, &l);                   /* another file */
    itest_put_block(x, 19, 5, a, 555, &l);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    cr_assert_eq(idx_r_block_usage(r, 20, &n, &bytes), 0);
    cr_assert_eq(n, 3);
    cr_assert_eq(bytes, 1350);
    cr_assert_eq(idx_r_block_usage(r, 21, NULL, &bytes), 0);
    cr_assert_eq(bytes, 777);
    cr_assert_eq(idx_r_block_usage(r, 19, &n, NULL), 0);
    cr_assert_eq(n, 1);
    /* Replacing, deleting and truncating move the sums. */
    cr_assert_eq(idx_w_begin(x), 0);
    itest_put_block(x, 20, 9, a, 50, &l);
    cr_assert_eq(idx_w_block_delete(x, 20, 0), 0);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    cr_assert_eq(idx_r_block_usage(r, 20, &n, &bytes), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(bytes, 1050);
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_block_truncate(x, 20, 10), 0);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    cr_assert_eq(idx_r_block_usage(r, 20, &n, &bytes), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(bytes, 50);
}

/* ---- background compression: compare-and-swap on the generation ---- */
TestSuite(cas, .init = setup, .fini = teardown);

/* A raw block of ino 5 at blkno, committed and queued; returns its row. */
static struct idx_bloc cas_block(uint64_t blkno, int seed)
{
    char a[300];
    itest_fill(a, sizeof a, seed);
    struct idx_bloc l;
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_payload_append(x, 5, blkno, 0, sizeof a, a, sizeof a, &l), 0);
    cr_assert_eq(idx_w_block_put(x, 5, blkno, &l), 0);
    cr_assert_eq(idx_w_queue_push(x, 5, blkno), 0);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    return l;
}

static uint64_t queued(uint64_t ino)
{
    uint64_t n = 99;
    cr_assert_eq(idx_r_queue_count(r, ino, 0, &n), 0);
    return n;
}

Test(cas, swap_lands_only_on_the_generation_read)
{
    struct idx_bloc old = cas_block(0, 1);
    char coded[100];
    itest_fill(coded, sizeof coded, 9);
    struct idx_bloc l;
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_payload_append(x, 5, 0, 1, 300, coded, sizeof coded, &l), 0);
    /* A generation that is not the row's: nothing changes. */
    cr_assert_eq(idx_w_block_swap(x, 5, 0, old.gen + 1, &l, 0x1234), -ESTALE);
    /* A raw length that is not the row's: refused the same way. */
    struct idx_bloc wrong = l;
    wrong.raw_len = 299;
    cr_assert_eq(idx_w_block_swap(x, 5, 0, old.gen, &wrong, 0x1234), -ESTALE);
    cr_assert_eq(idx_w_block_swap(x, 5, 0, old.gen, &l, 0x1234), 0);
    cr_assert_neq(l.gen, old.gen);
    cr_assert_eq(idx_w_model_note(x, 0x1234, "tiny"), 0);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    struct idx_bloc now;
    cr_assert_eq(idx_r_block_get(r, 5, 0, &now), 0);
    cr_assert_eq(now.codec, 1);
    cr_assert_eq(now.len, 100);
    cr_assert_eq(now.raw_len, 300);
    cr_assert_eq(now.gen, l.gen);
    read_back(&now, coded, sizeof coded);
    cr_assert_eq(queued(5), 0, "the queue row stays after a swap");
    struct idx_census_row rows[4];
    cr_assert_eq(idx_r_census(r, 5, rows, 4), 1);
    cr_assert_eq(rows[0].codec, 1);
    cr_assert_eq(rows[0].model, 0x1234);
    cr_assert_eq(rows[0].raw_bytes, 300);
    cr_assert_eq(rows[0].payload_bytes, 100);
    char name[16];
    cr_assert_eq(idx_r_model_name(r, 0x1234, name, sizeof name), 0);
    cr_assert_str_eq(name, "tiny");
    cr_assert_eq(idx_r_model_name(r, 0x999, name, sizeof name), -ENOENT);
    /* A rewrite clears what the compressor knew. */
    struct idx_bloc again = cas_block(0, 2);
    cr_assert_eq(again.codec, 0);
    cr_assert_eq(idx_r_census(r, 5, rows, 4), 1);
    cr_assert_eq(rows[0].codec, 0);
    cr_assert_eq(rows[0].model, 0);
    cr_assert_eq(queued(5), 1);
}

Test(cas, rewritten_or_deleted_blocks_are_stale)
{
    struct idx_bloc old = cas_block(0, 1);
    struct idx_bloc newer = cas_block(0, 2);     /* rewritten: new gen, queued again */
    cr_assert_neq(newer.gen, old.gen);
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_block_keep(x, 5, 0, old.gen, 0x55), -ESTALE);
    cr_assert_eq(idx_w_block_drop(x, 5, 0, old.gen), -ESTALE);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    cr_assert_eq(queued(5), 1, "a lost race took the newer version's queue row");
    struct idx_bloc gone = cas_block(1, 3);
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_block_truncate(x, 5, 1), 0);
    cr_assert_eq(idx_w_block_keep(x, 5, 1, gone.gen, 0x55), -ESTALE);
    cr_assert_eq(idx_w_block_keep(x, 5, 0, newer.gen, 0), -EINVAL);
    cr_assert_eq(idx_w_commit(x, 0), 0);
}

Test(cas, keep_drop_and_requeue)
{
    struct idx_bloc a = cas_block(0, 1), b = cas_block(1, 2), c = cas_block(2, 3);
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_block_keep(x, 5, 0, a.gen, 0x77), 0);
    cr_assert_eq(idx_w_block_keep(x, 5, 1, b.gen, IDX_KEPT_FAILED), 0);
    cr_assert_eq(idx_w_block_drop(x, 5, 2, c.gen), 0);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    cr_assert_eq(queued(5), 0);
    struct idx_bloc l;
    cr_assert_eq(idx_r_block_get(r, 5, 2, &l), -ENOENT, "a dropped block is a hole");
    struct idx_census_row rows[4];
    cr_assert_eq(idx_r_census(r, 0, rows, 4), 2);
    int seen_kept = 0, seen_failed = 0;
    for (int i = 0; i < 2; i++) {
        seen_kept += rows[i].kept == 0x77;
        seen_failed += rows[i].kept == IDX_KEPT_FAILED;
    }
    cr_assert(seen_kept == 1 && seen_failed == 1);
    /* The same model: nothing to retry. */
    uint64_t n = 99;
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_requeue_kept(x, 0x77, &n), 0);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    cr_assert_eq(n, 1, "only the failed block is queued again");
    cr_assert_eq(queued(5), 1);
    /* Another model: the kept one too. */
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_requeue_kept(x, 0x88, &n), 0);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    cr_assert_eq(n, 1);
    cr_assert_eq(queued(5), 2);
    cr_assert_eq(idx_r_census(r, 0, rows, 4), 1);
    cr_assert_eq(rows[0].kept, 0);
}

Test(cas, orphan_queue_rows_go_others_stay)
{
    cas_block(0, 1);
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_queue_push(x, 5, 9), 0);       /* names no block */
    cr_assert_eq(idx_w_commit(x, 0), 0);
    cr_assert_eq(queued(5), 2);
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_queue_drop_orphan(x, 5, 9), 0);
    cr_assert_eq(idx_w_queue_drop_orphan(x, 5, 0), 0);  /* has a block: stays */
    cr_assert_eq(idx_w_commit(x, 0), 0);
    cr_assert_eq(queued(5), 1);
    uint64_t cold = 99;
    cr_assert_eq(idx_r_queue_count(r, 0, 1, &cold), 0);
    cr_assert_eq(cold, 0, "a row queued now counted as queued before 1970");
}
