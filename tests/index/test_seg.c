/* test_seg.c — segment files: format, roll-over, corruption, ioerr
 * (injected write and sync failures, file size limit), compaction. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "codec/fade.h"
#include "index/idx.h"
#include "index/idx_int.h"
#include "tests/index/idx_testutil.h"

static char *dir;
static struct idx *x;
static struct idx_rd *r;

static void setup(void) { dir = itest_tmpdir(); }

static void teardown(void)
{
    idx_rd_close(r);
    idx_close(x);
    r = NULL;
    x = NULL;
    itest_rmrf(dir);
    free(dir);
}

TestSuite(seg, .init = setup, .fini = teardown);
TestSuite(corrupt, .init = setup, .fini = teardown);
TestSuite(ioerr, .init = setup, .fini = teardown);
TestSuite(compact, .init = setup, .fini = teardown);

static void open_store(uint64_t segment_max)
{
    x = itest_open(dir, 1, segment_max);
    cr_assert_eq(idx_rd_open(x, &r), 0);
}

static void reopen(void)
{
    idx_rd_close(r);
    idx_close(x);
    x = itest_open(dir, 0, 0);
    cr_assert_eq(idx_rd_open(x, &r), 0);
}

static const char *seg_path(uint64_t id)
{
    static char p[4096];
    char name[SEG_NAME_LEN];
    seg_name(name, id);
    snprintf(p, sizeof p, "%s/segments/%s", dir, name);
    return p;
}

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static int check_block(uint64_t ino, uint64_t blkno, uint32_t seed, size_t len)
{
    struct idx_bloc l;
    int rc = idx_r_block_get(r, ino, blkno, &l);
    if (rc != 0)
        return rc;
    char *buf = malloc(len), *want = malloc(len);
    itest_fill(want, len, seed);
    rc = idx_r_payload_read(r, &l, buf, len);
    if (rc == 0 && (l.len != len || memcmp(buf, want, len) != 0))
        rc = -EBADMSG;
    free(buf);
    free(want);
    return rc;
}

static void put(uint64_t ino, uint64_t blkno, uint32_t seed, size_t len, struct idx_bloc *loc)
{
    char *buf = malloc(len);
    itest_fill(buf, len, seed);
    itest_put_block(x, ino, blkno, buf, len, loc);
    free(buf);
}

/* Sum of live bytes over the segments table, straight from the database. */
static int64_t db_int(const char *q)
{
    sqlite3 *h;
    cr_assert_eq(sqlite3_open_v2(itest_path(dir, "fadefs.db"), &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(h, q, -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(h);
    return v;
}

Test(seg, file_header_and_record_format)
{
    open_store(0);
    struct idx_bloc l;
    put(42, 7, 1, 100, &l);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    int fd = open(seg_path(l.seg), O_RDONLY);
    cr_assert(fd >= 0);
    unsigned char h[32], rh[40], payload[100], want[100];
    cr_assert_eq(pread(fd, h, 32, 0), 32);
    cr_assert_eq(memcmp(h, "\x89" "FSEG\r\n\x1a", 8), 0);
    cr_assert_eq(h[8], 1);
    cr_assert_eq(h[9], 1);
    cr_assert_eq(seg_get32(h + 12), 32);
    cr_assert_eq(seg_get64(h + 16), l.seg);
    cr_assert_eq(seg_get32(h + 28), fade_crc32c(0, h, 28));
    cr_assert_eq(l.off, 32);
    cr_assert_eq(pread(fd, rh, 40, (off_t)l.off), 40);
    cr_assert_eq(pread(fd, payload, 100, (off_t)l.off + 40), 100);
    close(fd);
    itest_fill(want, 100, 1);
    cr_assert_eq(memcmp(payload, want, 100), 0);
    struct seg_rec rec;
    cr_assert_eq(seg_rec_decode(rh, &rec), 0);
    cr_assert_eq(rec.ino, 42);
    cr_assert_eq(rec.blkno, 7);
    cr_assert_eq(rec.codec, 0);
    cr_assert_eq(rec.raw_len, 100);
    cr_assert_eq(rec.len, 100);
    cr_assert_eq(rec.crc32c, fade_crc32c(0, want, 100));
    cr_assert_eq(rec.crc32c, l.crc32c);
    cr_assert_eq(seg_get32(rh), 0x31434552u);
    cr_assert_eq(memcmp(rh, "REC1", 4), 0);
}

/* The payload CRC combined from the CRCs of two pieces equals the CRC of
 * the pieces back to back, for lengths around every alignment and size. */
Test(seg, crc32c_combine_matches_direct)
{
    static const size_t lens[] = { 0, 1, 3, 7, 8, 9, 20, 63, 64, 65, 4095,
                                   65536, 262144 + 13 };
    size_t total = 2 * (262144 + 13);
    unsigned char *buf = malloc(total);
    cr_assert_not_null(buf);
    itest_fill(buf, total, 77);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
            size_t a = lens[i], b = lens[k];
            uint32_t ca = fade_crc32c(0, buf, a), cb = fade_crc32c(0, buf + a, b);
            cr_assert_eq(seg_crc32c_combine(ca, cb, b), fade_crc32c(0, buf, a + b),
                         "lengths %zu + %zu", a, b);
        }
    }
    free(buf);
}

/* A payload in pieces is the same record as the payload in one piece; with
 * piece CRCs given, the record CRC is derived from them, and a wrong one
 * makes the record fail its read check instead of reading back. */
Test(seg, appendv_pieces_and_given_crcs)
{
    open_store(0);
    char data[5000];
    itest_fill(data, sizeof data, 9);
    struct iovec iov[3] = {
        { .iov_base = data, .iov_len = 20 },
        { .iov_base = data + 20, .iov_len = 3000 },
        { .iov_base = data + 3020, .iov_len = 1980 },
    };
    struct idx_bloc a, b, c, d;
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_payload_append(x, 1, 0, 0, 5000, data, sizeof data, &a), 0);
    cr_assert_eq(idx_w_payload_appendv(x, 1, 1, 0, 5000, iov, 3, NULL, &b), 0);
    uint32_t pc[3];
    for (int i = 0; i < 3; i++)
        pc[i] = fade_crc32c(0, iov[i].iov_base, iov[i].iov_len);
    cr_assert_eq(idx_w_payload_appendv(x, 1, 2, 0, 5000, iov, 3, pc, &c), 0);
    pc[2] ^= 1;
    cr_assert_eq(idx_w_payload_appendv(x, 1, 3, 0, 5000, iov, 3, pc, &d), 0);
    cr_assert_eq(b.len, 5000u);
    cr_assert_eq(b.crc32c, a.crc32c);
    cr_assert_eq(c.crc32c, a.crc32c);
    cr_assert_neq(d.crc32c, a.crc32c);
    cr_assert_eq(b.off, a.off + 40 + 5000);
    cr_assert_eq(idx_w_block_put(x, 1, 0, &a), 0);
    cr_assert_eq(idx_w_block_put(x, 1, 1, &b), 0);
    cr_assert_eq(idx_w_block_put(x, 1, 2, &c), 0);
    cr_assert_eq(idx_w_block_put(x, 1, 3, &d), 0);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    for (uint64_t k = 0; k < 3; k++)
        cr_assert_eq(check_block(1, k, 9, 5000), 0, "block %llu", (unsigned long long)k);
    cr_assert_eq(check_block(1, 3, 9, 5000), -EIO);
}

Test(seg, names_from_numbers_only)
{
    char n[SEG_NAME_LEN];
    seg_name(n, 0x1a2b);
    cr_assert_str_eq(n, "0000000000001a2b.seg");
    cr_assert_eq(seg_parse_name(n), 0x1a2b);
    cr_assert_eq(seg_parse_name("000000000000001A.seg"), 0);
    cr_assert_eq(seg_parse_name("0000000000000001.seg~"), 0);
    cr_assert_eq(seg_parse_name("x"), 0);
}

Test(seg, roll_over)
{
    open_store(16384);
    struct idx_bloc l[12];
    for (int i = 0; i < 12; i++)
        put(1, (uint64_t)i, (uint32_t)i, 3000, &l[i]);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    uint64_t first = l[0].seg, last = l[11].seg;
    cr_assert_geq(last - first, 2, "segments %llu..%llu",
                  (unsigned long long)first, (unsigned long long)last);
    for (uint64_t s = first; s <= last; s++) {
        cr_assert_leq(file_size(seg_path(s)), 16384);
        cr_assert_gt(file_size(seg_path(s)), 32);
    }
    /* A record bigger than segment_max still goes in (alone). */
    put(1, 100, 100, 40000, NULL);
    for (int i = 0; i < 12; i++)
        cr_assert_eq(check_block(1, (uint64_t)i, (uint32_t)i, 3000), 0);
    cr_assert_eq(check_block(1, 100, 100, 40000), 0);
    reopen();
    for (int i = 0; i < 12; i++)
        cr_assert_eq(check_block(1, (uint64_t)i, (uint32_t)i, 3000), 0);
}

Test(seg, live_accounting)
{
    open_store(0);
    struct idx_bloc a, b;
    put(77, 0, 1, 1000, &a);
    put(77, 1, 2, 500, &b);
    char q[128];
    snprintf(q, sizeof q, "SELECT live FROM segments WHERE id = %llu", (unsigned long long)a.seg);
    cr_assert_eq(db_int(q), 40 + 1000 + 40 + 500);
    put(77, 0, 3, 200, NULL);                  /* replace */
    cr_assert_eq(db_int(q), 40 + 200 + 40 + 500);
    cr_assert_eq(idx_w_block_truncate(x, 77, 1), 0);
    cr_assert_eq(db_int(q), 40 + 200);
    cr_assert_eq(idx_w_inode_delete(x, 77), -ENOENT);  /* no inode row, blocks gone */
    cr_assert_eq(db_int(q), 0);
}

Test(seg, orphan_segment_swept_at_open)
{
    open_store(8192);
    struct idx_bloc a, b;
    put(1, 0, 1, 5000, &a);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    /* The next record rolls over to a new segment, is synced, but its row
     * never commits (a crash, here a rollback). */
    char buf[5000];
    itest_fill(buf, sizeof buf, 2);
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_payload_append(x, 1, 1, 0, 5000, buf, 5000, &b), 0);
    cr_assert_eq(b.seg, a.seg + 1);
    cr_assert_eq(idx_w_block_put(x, 1, 1, &b), 0);
    idx_w_rollback(x);
    cr_assert_eq(idx_w_payload_sync(x), 0);
    cr_assert_eq(access(seg_path(b.seg), F_OK), 0);
    reopen();
    /* Nothing references it and it has no row: garbage, deleted. */
    cr_assert_eq(access(seg_path(b.seg), F_OK), -1);
    cr_assert_eq(check_block(1, 0, 1, 5000), 0);
    /* A session that appends but commits nothing leaves a segment without
     * a row: swept too. */
    idx_rd_close(r);
    idx_close(x);
    x = itest_open(dir, 0, 0);
    cr_assert_eq(idx_rd_open(x, &r), 0);
    cr_assert_eq(idx_w_payload_append(x, 1, 1, 0, 5000, buf, 5000, &b), 0);
    cr_assert_eq(idx_w_payload_sync(x), 0);
    cr_assert_eq(access(seg_path(b.seg), F_OK), 0);
    reopen();
    cr_assert_eq(access(seg_path(b.seg), F_OK), -1);
    cr_assert_eq(check_block(1, 0, 1, 5000), 0);
}

Test(seg, idle_open_creates_no_segment)
{
    open_store(0);
    put(1, 0, 1, 100, NULL);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    for (int i = 0; i < 3; i++)
        reopen();
    cr_assert_eq(db_int("SELECT count(*) FROM segments"), 1);
    struct idx_bloc l;
    put(1, 1, 2, 100, &l);
    cr_assert_eq(l.seg, 2);
}

Test(corrupt, flipped_payload_byte)
{
    open_store(0);
    struct idx_bloc l;
    put(1, 0, 1, 1000, &l);
    cr_assert_eq(check_block(1, 0, 1, 1000), 0);
    int fd = open(seg_path(l.seg), O_RDWR);
    unsigned char c;
    cr_assert_eq(pread(fd, &c, 1, (off_t)l.off + 40 + 500), 1);
    c ^= 0x10;
    cr_assert_eq(pwrite(fd, &c, 1, (off_t)l.off + 40 + 500), 1);
    close(fd);
    cr_assert_eq(check_block(1, 0, 1, 1000), -EIO);
}

Test(corrupt, flipped_header_byte)
{
    open_store(0);
    struct idx_bloc l;
    put(1, 0, 1, 1000, &l);
    for (int i = 0; i < 40; i++) {
        int fd = open(seg_path(l.seg), O_RDWR);
        unsigned char c;
        cr_assert_eq(pread(fd, &c, 1, (off_t)l.off + i), 1);
        c ^= 0x01;
        cr_assert_eq(pwrite(fd, &c, 1, (off_t)l.off + i), 1);
        cr_assert_eq(check_block(1, 0, 1, 1000), -EIO, "header byte %d", i);
        c ^= 0x01;
        cr_assert_eq(pwrite(fd, &c, 1, (off_t)l.off + i), 1);
        close(fd);
    }
    cr_assert_eq(check_block(1, 0, 1, 1000), 0);
}

Test(corrupt, bad_file_header)
{
    open_store(0);
    struct idx_bloc l;
    put(1, 0, 1, 1000, &l);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    reopen();    /* no descriptor of l.seg cached any more */
    int fd = open(seg_path(l.seg), O_RDWR);
    unsigned char c = 2;       /* segment number 2 in a file named 1 */
    cr_assert_eq(pwrite(fd, &c, 1, 16), 1);
    close(fd);
    cr_assert_eq(check_block(1, 0, 1, 1000), -EIO);
}

Test(corrupt, truncated_segment)
{
    open_store(0);
    struct idx_bloc l;
    put(1, 0, 1, 1000, &l);
    cr_assert_eq(truncate(seg_path(l.seg), (off_t)l.off + 500), 0);
    cr_assert_eq(check_block(1, 0, 1, 1000), -EIO);
}

Test(corrupt, deleted_segment)
{
    open_store(0);
    struct idx_bloc l;
    put(1, 0, 1, 1000, &l);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    reopen();     /* l.seg is no longer active: not held open */
    cr_assert_eq(unlink(seg_path(l.seg)), 0);
    int rc = check_block(1, 0, 1, 1000);
    cr_assert(rc == -ESTALE || rc == -EIO, "%d", rc);
}

/* ---- injected failures ---- */

static int fail_after;          /* bytes pwrite may still write; -1 = unlimited */
static int fail_errno = ENOSPC;
static int fail_sync;
static int fail_unlink;

static ssize_t inj_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (fail_after < 0)
        return pwrite(fd, buf, n, off);
    if (fail_after == 0) {
        errno = fail_errno;
        return -1;
    }
    size_t k = n < (size_t)fail_after ? n : (size_t)fail_after;
    ssize_t w = pwrite(fd, buf, k, off);
    if (w > 0)
        fail_after -= (int)w;
    return w;
}

static int n_syncs;             /* fdatasync calls, failed ones too */
static int n_drops;             /* page drops (fadvise DONTNEED) */

static int inj_fdatasync(int fd)
{
    n_syncs++;
    if (fail_sync) {
        errno = EIO;
        return -1;
    }
    return fdatasync(fd);
}

static int inj_unlinkat(int dfd, const char *name, int flags)
{
    if (fail_unlink) {
        errno = EIO;
        return -1;
    }
    return unlinkat(dfd, name, flags);
}

static int inj_fadvise(int fd, off_t off, off_t n, int advice)
{
    if (advice == POSIX_FADV_DONTNEED)
        n_drops++;
    return posix_fadvise(fd, off, n, advice);
}

static struct seg_sys inj;

static void inject(void)
{
    inj = seg_sys_default;
    inj.pwrite = inj_pwrite;
    inj.fdatasync = inj_fdatasync;
    inj.unlinkat = inj_unlinkat;
    inj.fadvise = inj_fadvise;
    fail_after = -1;
    idx_test_set_sys(x, &inj);
}

Test(ioerr, enospc_trims_tail)
{
    open_store(0);
    inject();
    struct idx_bloc a, b;
    put(1, 0, 1, 1000, &a);
    off_t size0 = file_size(seg_path(a.seg));
    /* The header goes through, the payload half: ENOSPC. */
    fail_after = 40 + 300;
    char buf[1000];
    itest_fill(buf, sizeof buf, 2);
    cr_assert_eq(idx_w_payload_append(x, 1, 1, 0, 1000, buf, 1000, &b), -ENOSPC);
    cr_assert_eq(file_size(seg_path(a.seg)), size0);
    /* Space comes back: the next record lands where the torn one was. */
    fail_after = -1;
    put(1, 1, 2, 1000, &b);
    cr_assert_eq(b.off, (uint64_t)size0);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    cr_assert_eq(check_block(1, 0, 1, 1000), 0);
    cr_assert_eq(check_block(1, 1, 2, 1000), 0);
    reopen();
    cr_assert_eq(check_block(1, 0, 1, 1000), 0);
    cr_assert_eq(check_block(1, 1, 2, 1000), 0);
}

Test(ioerr, edquot_reads_as_enospc)
{
    open_store(0);
    inject();
    fail_after = 0;
    fail_errno = EDQUOT;
    char buf[10] = { 0 };
    struct idx_bloc l;
    cr_assert_eq(idx_w_payload_append(x, 1, 1, 0, 10, buf, 10, &l), -ENOSPC);
    fail_errno = EIO;
    cr_assert_eq(idx_w_payload_append(x, 1, 1, 0, 10, buf, 10, &l), -EIO);
}

Test(ioerr, file_size_limit)
{
    open_store(0);
    struct idx_bloc l;
    put(1, 0, 1, 1000, &l);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    off_t size0 = file_size(seg_path(l.seg));
    /* pwrite past RLIMIT_FSIZE fails with EFBIG once SIGXFSZ is ignored. */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = { .rlim_cur = (rlim_t)size0 + 2000, .rlim_max = RLIM_INFINITY };
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    /* (only segment appends while the limit holds: it binds SQLite too) */
    char *buf = malloc(5000);
    itest_fill(buf, 5000, 3);
    struct idx_bloc m;
    cr_assert_eq(idx_w_payload_append(x, 1, 1, 0, 5000, buf, 5000, &m), -ENOSPC);
    cr_assert_eq(file_size(seg_path(l.seg)), size0);
    /* A smaller record still fits, right where the torn one started. */
    itest_fill(buf, 1000, 4);
    cr_assert_eq(idx_w_payload_append(x, 1, 2, 0, 1000, buf, 1000, &m), 0);
    cr_assert_eq(m.off, (uint64_t)size0);
    cr_assert_eq(idx_w_payload_sync(x), 0);
    rl.rlim_cur = RLIM_INFINITY;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
    cr_assert_eq(idx_w_block_put(x, 1, 2, &m), 0);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    cr_assert_eq(check_block(1, 0, 1, 1000), 0);
    cr_assert_eq(check_block(1, 2, 4, 1000), 0);
    free(buf);
}

Test(ioerr, sync_failure_fails_commit)
{
    open_store(0);
    inject();
    struct idx_bloc l;
    put(1, 0, 1, 100, &l);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    cr_assert_eq(idx_w_begin(x), 0);
    put(1, 1, 2, 100, NULL);
    fail_sync = 1;
    /* The payload cannot be made durable: its row must not commit. */
    cr_assert_eq(idx_w_commit(x, 0), -EIO);
    struct idx_bloc g;
    cr_assert_eq(idx_r_block_get(r, 1, 1, &g), -ENOENT);
    /* A failed sync sticks, even once the disk "recovers"... */
    fail_sync = 0;
    cr_assert_eq(idx_w_payload_append(x, 1, 9, 0, 3, "abc", 3, &g), 0);
    fail_sync = 1;
    cr_assert_eq(idx_w_payload_sync(x), -EIO);
    fail_sync = 0;
    cr_assert_eq(idx_w_payload_sync(x), -EIO);
    cr_assert_eq(idx_w_begin(x), 0);
    put(1, 2, 3, 100, NULL);
    cr_assert_eq(idx_w_commit(x, 0), -EIO);
    /* ...until the rows that needed it are rolled back (the failed commit
     * did that); appends then go to a new segment. */
    cr_assert_eq(idx_w_payload_sync(x), 0);
    struct idx_bloc n;
    put(1, 3, 4, 100, &n);
    cr_assert_gt(n.seg, l.seg);
    cr_assert_eq(check_block(1, 0, 1, 100), 0);
    cr_assert_eq(check_block(1, 3, 4, 100), 0);
    cr_assert_eq(idx_r_block_get(r, 1, 2, &g), -ENOENT);
}

Test(ioerr, autocommit_put_syncs_payload_first)
{
    open_store(0);
    inject();
    char buf[100];
    itest_fill(buf, sizeof buf, 1);
    struct idx_bloc l, g;
    cr_assert_eq(idx_w_payload_append(x, 1, 0, 0, 100, buf, 100, &l), 0);
    fail_sync = 1;
    /* Outside a transaction the put commits at once: not before the sync. */
    cr_assert_eq(idx_w_block_put(x, 1, 0, &l), -EIO);
    cr_assert_eq(idx_r_block_get(r, 1, 0, &g), -ENOENT);
    fail_sync = 0;
    cr_assert_eq(idx_w_block_put(x, 1, 0, &l), -EIO);   /* sticky */
    idx_w_rollback(x);
    put(1, 0, 1, 100, NULL);
    cr_assert_eq(check_block(1, 0, 1, 100), 0);
}

Test(ioerr, roll_over_failure_keeps_old_segment)
{
    open_store(8192);
    inject();
    struct idx_bloc a, b;
    put(1, 0, 1, 5000, &a);
    fail_after = 0;            /* the new segment's header cannot be written */
    char buf[5000];
    itest_fill(buf, sizeof buf, 2);
    cr_assert_eq(idx_w_payload_append(x, 1, 1, 0, 5000, buf, 5000, &b), -ENOSPC);
    cr_assert_eq(access(seg_path(a.seg + 1), F_OK), -1);
    fail_after = -1;
    put(1, 1, 2, 5000, &b);
    cr_assert_eq(b.seg, a.seg + 1);
    cr_assert_eq(check_block(1, 0, 1, 5000), 0);
    cr_assert_eq(check_block(1, 1, 2, 5000), 0);
}

/* ---- syncing on another thread (idx_w_payload_mark) ---- */

struct sync_arg { int fd, result; };

static void *sync_thread(void *p)
{
    struct sync_arg *a = p;
    a->result = idx_payload_sync_fd(x, a->fd);
    return NULL;
}

/* Marks, syncs the mark on a thread of its own, reports the result. */
static int sync_marked(int *fd_seen)
{
    int fd;
    uint64_t gen;
    cr_assert_eq(idx_w_payload_mark(x, &fd, &gen), 0);
    *fd_seen = fd;
    if (fd < 0)
        return 0;
    struct sync_arg a = { .fd = fd };
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, sync_thread, &a), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    close(fd);
    idx_w_payload_marked(x, gen, a.result);
    return a.result;
}

Test(ioerr, marked_sync_makes_payloads_durable)
{
    open_store(0);
    inject();
    int fd;
    /* Nothing appended: nothing to sync. */
    cr_assert_eq(sync_marked(&fd), 0);
    cr_assert_eq(fd, -1);
    struct idx_bloc a, b, c;
    char buf[3000];
    itest_fill(buf, sizeof buf, 1);
    cr_assert_eq(idx_w_payload_append(x, 1, 0, 0, 3000, buf, 3000, &a), 0);
    int syncs = n_syncs, drops = n_drops;
    cr_assert_eq(sync_marked(&fd), 0);
    cr_assert_geq(fd, 0);
    cr_assert_eq(n_syncs, syncs + 1);
    cr_assert_eq(n_drops, drops + 1, "synced pages are dropped");
    /* The row commits without a sync of its own... */
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_block_put(x, 1, 0, &a), 0);
    cr_assert_eq(idx_w_commit_synced(x, 0), 0);
    cr_assert_eq(n_syncs, syncs + 1);
    cr_assert_eq(check_block(1, 0, 1, 3000), 0);
    /* ...and a mark covers only what was appended before it: an append
     * after the mark is still synced by the next ordinary commit. */
    itest_fill(buf, sizeof buf, 2);
    cr_assert_eq(idx_w_payload_append(x, 1, 1, 0, 3000, buf, 3000, &b), 0);
    int mfd;
    uint64_t gen;
    cr_assert_eq(idx_w_payload_mark(x, &mfd, &gen), 0);
    cr_assert_geq(mfd, 0);
    itest_fill(buf, sizeof buf, 3);
    cr_assert_eq(idx_w_payload_append(x, 1, 2, 0, 3000, buf, 3000, &c), 0);
    cr_assert_eq(idx_payload_sync_fd(x, mfd), 0);
    close(mfd);
    idx_w_payload_marked(x, gen, 0);
    syncs = n_syncs;
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_block_put(x, 1, 1, &b), 0);
    cr_assert_eq(idx_w_block_put(x, 1, 2, &c), 0);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    cr_assert_eq(n_syncs, syncs + 1, "the append after the mark was synced");
    cr_assert_eq(idx_w_payload_failures(x), 0);
    reopen();
    cr_assert_eq(check_block(1, 0, 1, 3000), 0);
    cr_assert_eq(check_block(1, 1, 2, 3000), 0);
    cr_assert_eq(check_block(1, 2, 3, 3000), 0);
}

Test(ioerr, marked_sync_failure_is_counted)
{
    open_store(0);
    inject();
    struct idx_bloc a, b, c;
    put(1, 0, 1, 500, &a);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    uint64_t f0 = idx_w_payload_failures(x);
    char buf[500];
    itest_fill(buf, sizeof buf, 2);
    cr_assert_eq(idx_w_payload_append(x, 1, 1, 0, 500, buf, 500, &b), 0);
    fail_sync = 1;
    int fd;
    cr_assert_eq(sync_marked(&fd), -EIO);
    cr_assert_geq(fd, 0);
    fail_sync = 0;
    /* The holder of unsynced payloads sees the failure and appends them
     * again: to a new segment, since the pages of the old one may be gone. */
    cr_assert_eq(idx_w_payload_failures(x), f0 + 1);
    cr_assert_eq(idx_w_payload_append(x, 1, 1, 0, 500, buf, 500, &c), 0);
    cr_assert_gt(c.seg, b.seg);
    cr_assert_eq(idx_w_block_put(x, 1, 1, &c), 0);
    cr_assert_eq(check_block(1, 0, 1, 500), 0);
    cr_assert_eq(check_block(1, 1, 2, 500), 0);
}

Test(ioerr, roll_over_sync_failure_is_counted)
{
    open_store(8192);
    inject();
    struct idx_bloc a, b;
    char buf[5000];
    itest_fill(buf, sizeof buf, 1);
    /* Appended, not yet synced (no row: a put outside a transaction would
     * sync it at once). */
    cr_assert_eq(idx_w_payload_append(x, 1, 0, 0, 5000, buf, 5000, &a), 0);
    uint64_t f0 = idx_w_payload_failures(x);
    fail_sync = 1;             /* the old segment's sync before the roll */
    itest_fill(buf, sizeof buf, 2);
    cr_assert_eq(idx_w_payload_append(x, 1, 1, 0, 5000, buf, 5000, &b), -EIO);
    cr_assert_eq(idx_w_payload_failures(x), f0 + 1);
}

/* ---- compaction ---- */

static uint64_t segment_bytes(void)
{
    struct idx_stats s;
    cr_assert_eq(idx_r_stats(r, &s), 0);
    return s.segment_bytes;
}

Test(compact, reclaims_and_preserves)
{
    open_store(32768);
    /* 40 blocks over several segments, then most of them rewritten: the
     * old segments are mostly dead. */
    for (int i = 0; i < 40; i++)
        put(1, (uint64_t)i, (uint32_t)i, 3000, NULL);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    for (int i = 0; i < 40; i++)
        if (i % 5 != 0)
            put(1, (uint64_t)i, 1000 + (uint32_t)i, 3000, NULL);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    uint64_t before = segment_bytes();
    struct idx_bloc old0;
    cr_assert_eq(idx_r_block_get(r, 1, 0, &old0), 0);
    cr_assert_eq(idx_w_compact(x, 0.5), 0);
    uint64_t after = segment_bytes();
    cr_assert_lt(after, before - 8 * 3040, "before %llu after %llu",
                 (unsigned long long)before, (unsigned long long)after);
    cr_assert_eq(access(seg_path(old0.seg), F_OK), -1);
    for (int i = 0; i < 40; i++)
        cr_assert_eq(check_block(1, (uint64_t)i, i % 5 ? 1000 + (uint32_t)i : (uint32_t)i, 3000), 0, "%d", i);
    struct idx_bloc new0;
    cr_assert_eq(idx_r_block_get(r, 1, 0, &new0), 0);
    cr_assert_neq(new0.seg, old0.seg);
    cr_assert_eq(new0.gen, old0.gen);   /* moved, not rewritten */
    /* A reader holding the old location still reads the block: the read
     * follows the row to where compaction moved it. */
    char buf[3000], want[3000];
    cr_assert_eq(idx_r_payload_read(r, &old0, buf, sizeof buf), 0);
    itest_fill(want, sizeof want, 0);
    cr_assert_eq(memcmp(buf, want, sizeof buf), 0);
    /* ...but not once the block was rewritten: then it must look again. */
    put(1, 0, 7, 3000, NULL);
    cr_assert_eq(idx_w_compact(x, 0.99), 0);   /* closes retired descriptors */
    int rc = idx_r_payload_read(r, &old0, buf, sizeof buf);
    cr_assert(rc == -ESTALE || rc == 0, "%d", rc);
    if (rc == 0)
        cr_assert_eq(memcmp(buf, want, sizeof buf), 0);
    put(1, 0, 0, 3000, NULL);
    /* live of the segments matches the block map exactly */
    cr_assert_eq(db_int("SELECT sum(live) FROM segments"),
                 db_int("SELECT sum(40 + len) FROM blocks"));
    reopen();
    for (int i = 0; i < 40; i++)
        cr_assert_eq(check_block(1, (uint64_t)i, i % 5 ? 1000 + (uint32_t)i : (uint32_t)i, 3000), 0, "%d", i);
    /* Nothing left to do: a second pass changes nothing. */
    before = segment_bytes();
    cr_assert_eq(idx_w_compact(x, 0.5), 0);
    cr_assert_leq(segment_bytes(), before);
}

Test(compact, empty_segments_removed)
{
    open_store(0);
    put(1, 0, 1, 100, NULL);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    struct idx_bloc l;
    cr_assert_eq(idx_r_block_get(r, 1, 0, &l), 0);
    reopen();    /* its segment is no longer the active one */
    cr_assert_eq(idx_w_block_truncate(x, 1, 0), 0);
    cr_assert_eq(db_int("SELECT live FROM segments"), 0);
    cr_assert_eq(idx_w_compact(x, 0.0), 0);
    cr_assert_eq(access(seg_path(l.seg), F_OK), -1);
    cr_assert_eq(db_int("SELECT count(*) FROM segments"), 0);
    cr_assert_eq(idx_w_begin(x), 0);
    cr_assert_eq(idx_w_compact(x, 0.5), -EINVAL);     /* not inside a transaction */
    idx_w_rollback(x);
}

Test(compact, crash_before_unlink_is_swept)
{
    open_store(16384);
    for (int i = 0; i < 10; i++)
        put(1, (uint64_t)i, (uint32_t)i, 3000, NULL);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    struct idx_bloc l;
    cr_assert_eq(idx_r_block_get(r, 1, 0, &l), 0);
    for (int i = 0; i < 10; i++)
        put(1, (uint64_t)i, 100 + (uint32_t)i, 3000, NULL);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    inject();
    fail_unlink = 1;     /* rows moved and committed, files stay */
    cr_assert_eq(idx_w_compact(x, 0.5), -EIO);
    cr_assert_eq(access(seg_path(l.seg), F_OK), 0);
    fail_unlink = 0;
    reopen();
    cr_assert_eq(access(seg_path(l.seg), F_OK), -1);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(check_block(1, (uint64_t)i, 100 + (uint32_t)i, 3000), 0);
}

Test(compact, failed_copy_changes_nothing)
{
    open_store(16384);
    for (int i = 0; i < 10; i++)
        put(1, (uint64_t)i, (uint32_t)i, 3000, NULL);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    for (int i = 0; i < 9; i++)
        put(1, (uint64_t)i, 100 + (uint32_t)i, 3000, NULL);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    struct idx_bloc l9;
    cr_assert_eq(idx_r_block_get(r, 1, 9, &l9), 0);
    inject();
    fail_sync = 1;
    cr_assert_neq(idx_w_compact(x, 0.9), 0);
    fail_sync = 0;
    struct idx_bloc g;
    cr_assert_eq(idx_r_block_get(r, 1, 9, &g), 0);
    cr_assert_eq(g.seg, l9.seg);
    cr_assert_eq(g.off, l9.off);
    cr_assert_eq(check_block(1, 9, 9, 3000), 0);
    reopen();
    cr_assert_eq(check_block(1, 9, 9, 3000), 0);
    cr_assert_eq(idx_w_compact(x, 0.9), 0);
    cr_assert_eq(check_block(1, 9, 9, 3000), 0);
}

Test(compact, corrupt_segment_left_alone)
{
    open_store(16384);
    for (int i = 0; i < 10; i++)
        put(1, (uint64_t)i, (uint32_t)i, 3000, NULL);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    struct idx_bloc l;
    cr_assert_eq(idx_r_block_get(r, 1, 9, &l), 0);
    for (int i = 0; i < 9; i++)
        put(1, (uint64_t)i, 100 + (uint32_t)i, 3000, NULL);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    int fd = open(seg_path(l.seg), O_RDWR);
    unsigned char c = 0xee;
    cr_assert_eq(pwrite(fd, &c, 1, (off_t)l.off + 100), 1);
    close(fd);
    cr_assert_eq(idx_w_compact(x, 0.9), -EIO);
    cr_assert_eq(access(seg_path(l.seg), F_OK), 0);
    struct idx_bloc g;
    cr_assert_eq(idx_r_block_get(r, 1, 9, &g), 0);
    cr_assert_eq(g.seg, l.seg);
}

/* Readers on their own threads read while the writer writes, rolls over
 * and compacts; every read gives the right bytes, even when compaction
 * moved the block between the row lookup and the payload read. */
#define N_BLK 24
static volatile int stop_readers;
static uint32_t seeds[N_BLK];     /* written only before readers start */

static void *reader(void *arg)
{
    struct idx_rd *rr;
    cr_assert_eq(idx_rd_open(x, &rr), 0);
    char *buf = malloc(2000), *want = malloc(2000);
    unsigned n = 0, k = (unsigned)(uintptr_t)arg;
    while (!stop_readers) {
        uint64_t b = (k * 7 + n++) % N_BLK;
        struct idx_bloc l;
        cr_assert_eq(idx_r_block_get(rr, 2, b, &l), 0);
        cr_assert_eq(idx_r_payload_read(rr, &l, buf, 2000), 0);
        itest_fill(want, 2000, seeds[b]);
        cr_assert_eq(memcmp(buf, want, 2000), 0);
    }
    free(buf);
    free(want);
    idx_rd_close(rr);
    return NULL;
}

Test(compact, concurrent_readers)
{
    open_store(16384);
    for (int i = 0; i < N_BLK; i++) {
        seeds[i] = (uint32_t)i;
        put(2, (uint64_t)i, seeds[i], 2000, NULL);
    }
    cr_assert_eq(idx_w_commit(x, 1), 0);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, reader, (void *)(uintptr_t)i), 0);
    /* Churn other blocks so the segments holding file 2 go mostly dead. */
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 20; i++)
            put(3, (uint64_t)i, (uint32_t)(round * 100 + i), 2000, NULL);
        cr_assert_eq(idx_w_commit(x, 0), 0);
        cr_assert_eq(idx_w_compact(x, 0.6), 0);
    }
    stop_readers = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < N_BLK; i++)
        cr_assert_eq(check_block(2, (uint64_t)i, seeds[i], 2000), 0);
}

/* A store whose only segment is the active one gives space back: once the
 * active segment is mostly dead, compaction seals it (a new segment becomes
 * active), moves its live blocks and deletes it.  One that is mostly live
 * stays active and untouched. */
Test(compact, seals_mostly_dead_active_segment)
{
    open_store(0);
    for (int i = 0; i < 20; i++)
        put(2, (uint64_t)i, 50 + (uint32_t)i, 4000, NULL);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    struct idx_bloc l0;
    cr_assert_eq(idx_r_block_get(r, 2, 0, &l0), 0);
    off_t full = file_size(seg_path(l0.seg));

    /* Mostly live: nothing to do, the active segment stays as it is. */
    cr_assert_eq(idx_w_compact(x, 0.5), 0);
    cr_assert_eq(file_size(seg_path(l0.seg)), full);
    struct idx_bloc l;
    cr_assert_eq(idx_w_begin(x), 0);
    put(2, 100, 7, 10, &l);
    cr_assert_eq(idx_w_commit(x, 0), 0);
    cr_assert_eq(l.seg, l0.seg, "appends still go to the same segment");

    /* Three quarters deleted: the active segment is mostly dead. */
    cr_assert_eq(idx_w_block_truncate(x, 2, 5), 0);
    cr_assert_eq(idx_w_compact(x, 0.5), 0);
    cr_assert_eq(access(seg_path(l0.seg), F_OK), -1, "sealed segment not deleted");
    struct idx_bloc n0;
    cr_assert_eq(idx_r_block_get(r, 2, 0, &n0), 0);
    cr_assert_gt(n0.seg, l0.seg);
    cr_assert_eq(n0.gen, l0.gen);   /* moved, not rewritten */
    cr_assert_lt(file_size(seg_path(n0.seg)), full / 2);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(check_block(2, (uint64_t)i, 50 + (uint32_t)i, 4000), 0, "%d", i);
    cr_assert_eq(idx_r_block_get(r, 2, 7, &l), -ENOENT);
    /* The old location still reads (the read follows the row). */
    char buf[4000], want[4000];
    cr_assert_eq(idx_r_payload_read(r, &l0, buf, sizeof buf), 0);
    itest_fill(want, sizeof want, 50);
    cr_assert_eq(memcmp(buf, want, sizeof buf), 0);
    /* New appends go to the new active segment, and the accounting holds. */
    cr_assert_eq(idx_w_begin(x), 0);
    put(2, 1, 99, 4000, &l);
    cr_assert_eq(idx_w_commit(x, 1), 0);
    cr_assert_eq(l.seg, n0.seg);
    cr_assert_eq(db_int("SELECT sum(live) FROM segments"),
                 db_int("SELECT sum(40 + len) FROM blocks"));
    cr_assert_eq(db_int("SELECT count(*) FROM segments"), 1);
    reopen();
    cr_assert_eq(check_block(2, 0, 50, 4000), 0);
    cr_assert_eq(check_block(2, 1, 99, 4000), 0);
    for (int i = 2; i < 5; i++)
        cr_assert_eq(check_block(2, (uint64_t)i, 50 + (uint32_t)i, 4000), 0, "%d", i);
}

/* An active segment that holds only garbage (appends whose transaction was
 * rolled back) is sealed and deleted as well. */
Test(compact, garbage_only_active_segment_removed)
{
    open_store(0);
    cr_assert_eq(idx_w_begin(x), 0);
    struct idx_bloc l;
    put(3, 0, 1, 5000, &l);
    idx_w_rollback(x);
    cr_assert_eq(db_int("SELECT count(*) FROM segments"), 0);
    cr_assert_gt(file_size(seg_path(l.seg)), 5000);
    cr_assert_eq(idx_w_compact(x, 0.5), 0);
    cr_assert_eq(access(seg_path(l.seg), F_OK), -1);
    /* The store goes on: the next append lands in a new segment. */
    struct idx_bloc m;
    put(3, 0, 2, 5000, &m);
    cr_assert_gt(m.seg, l.seg);
    cr_assert_eq(check_block(3, 0, 2, 5000), 0);
}
