/* test_fsck.c — fadefsck, the offline checker: a store made through a real
 * mount passes; a flipped payload byte, FADE blocks that decode wrongly
 * (found only by --full), rows that point at nothing and other index
 * damage are reported with the file's path and block; a store in use and
 * bad command lines give their exit statuses. */
#include "tests/fs/fs_test.h"

#include <dirent.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include "codec/fade.h"
#include "index/idx.h"
#include "tests/index/idx_testutil.h"

TestSuite(fsck, .fini = fsT_down, .timeout = 120);

#define BS 65536u

/* ---- running the checker ---- */

static char fsck_out[1 << 16];

/* Runs fadefsck with args (NULL-terminated) and returns its exit status;
 * the output (stdout and stderr) is in fsck_out. */
static int run_fsck(const char *const *args)
{
    return fsT_run_cmd("fadefsck", args, 60000, fsck_out, sizeof fsck_out);
}

static void expect_fsck(int want, const char *const *args)
{
    int got = run_fsck(args);
    cr_assert_eq(got, want, "fadefsck exited %d, want %d:\n%s", got, want, fsck_out);
}

static void expect_out(const char *what)
{
    cr_assert(strstr(fsck_out, what), "output lacks \"%s\":\n%s", what, fsck_out);
}

/* ---- a store made through a mount ---- */

static const char *const mount_opts[] = { "-o", "block_size=64K", NULL };

/* Random bytes stay raw (they do not compress), so a flipped byte is easy
 * to place in a segment. */
static uint8_t victim[300000];

static void make_mounted_store(void)
{
    umask(022);
    fsT_up_opts("fsck", mount_opts);
    cr_assert_eq(mkdir(fsT_p("dir"), 0755), 0);
    cr_assert_eq(mkdir(fsT_p("dir/sub"), 0755), 0);
    fsT_fill(victim, sizeof victim, 91, 0);
    fsT_write_file(fsT_p("dir/sub/victim"), victim, sizeof victim, 0644);
    char text[100000];
    size_t n = 0;
    for (int i = 0; n + 16 < sizeof text; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "line %d\n", i);
    fsT_write_file(fsT_p("text"), text, n, 0644);
    fsT_write_file(fsT_p("empty"), "", 0, 0644);
    /* Sparse: a hole of 16 blocks, then data, then a hole up to the end. */
    int fd = open(fsT_p("sparse"), O_CREAT | O_WRONLY, 0644);
    cr_assert_geq(fd, 0);
    fsT_pwrite_all(fd, victim, 5000, 16 * BS + 100);
    cr_assert_eq(ftruncate(fd, 40 * BS + 7), 0);
    cr_assert_eq(fsync(fd), 0);
    close(fd);
    cr_assert_eq(link(fsT_p("text"), fsT_p("dir/hardlink")), 0);
    cr_assert_eq(symlink("dir/sub/victim", fsT_p("link")), 0);
    int rc = fst_mount_stop(&fsT_m);
    if (rc)
        fsT_fail_mount("unmount", rc);
}

Test(fsck, mounted_store_passes)
{
    make_mounted_store();
    const char *const args[] = { fsT_m.store, NULL };
    expect_fsck(0, args);
    expect_out(" files, ");
    expect_out(" blocks, ");
    expect_out("0 problems found");
    const char *const full[] = { "--full", fsT_m.store, NULL };
    expect_fsck(0, full);
    expect_out("0 problems found");
}

/* Flips the byte at flip_at of the first copy of pat in each segment file;
 * returns how many files had one. */
static int seg_scan(const char *dir, const uint8_t *pat, size_t patlen, size_t flip_at)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/segments", dir);
    DIR *d = opendir(path);
    cr_assert_not_null(d, "opendir %s: %s", path, strerror(errno));
    int hits = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t nl = strlen(de->d_name);
        if (nl < 5 || strcmp(de->d_name + nl - 4, ".seg"))
            continue;
        char p[PATH_MAX + 300];
        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
        size_t len;
        char *data;
        cr_assert_eq(fst_read_text(p, &data, &len), 0, "read %s", p);
        for (size_t i = 0; i + patlen <= len; i++) {
            if (memcmp(data + i, pat, patlen) == 0) {
                int fd = open(p, O_WRONLY);
                cr_assert_geq(fd, 0);
                uint8_t b = (uint8_t)(data[i + flip_at] ^ 0x20);
                cr_assert_eq(pwrite(fd, &b, 1, (off_t)(i + flip_at)), 1);
                close(fd);
                hits++;
                break;
            }
        }
        free(data);
    }
    closedir(d);
    return hits;
}

Test(fsck, flipped_payload_byte_names_file_and_block)
{
    make_mounted_store();
    /* File offset 200000 is in block 3 (bytes 196608-262143). */
    int hits = seg_scan(fsT_m.store, victim + 200000 - 512, 1024, 512);
    cr_assert_eq(hits, 1, "the victim's bytes were found in %d segment files", hits);
    const char *const args[] = { fsT_m.store, NULL };
    expect_fsck(4, args);
    expect_out("/dir/sub/victim: block 3 (bytes 196608-262143): ");
    expect_out("1 problem found");
}

/* ---- stores built at index level ---- */

struct istore {
    char       *dir;
    struct idx *x;
};

static void istore_open(struct istore *s)
{
    s->dir = itest_tmpdir();
    s->x = itest_open(s->dir, 1, 0);
    cr_assert_eq(idx_block_size(s->x), BS);
    cr_assert_eq(idx_w_begin(s->x), 0);
}

/* A regular file of `size` bytes named `name` in the root. */
static uint64_t istore_file(struct istore *s, const char *name, uint64_t size)
{
    struct idx_attr a = { .mode = S_IFREG | 0644, .nlink = 1, .size = size };
    cr_assert_eq(idx_w_inode_create(s->x, &a), 0);
    cr_assert_eq(idx_w_link(s->x, IDX_ROOT_INO, name, strlen(name), a.ino), 0);
    return a.ino;
}

static void istore_put(struct istore *s, uint64_t ino, uint64_t blkno, uint32_t codec,
                       uint32_t raw_len, const void *payload, size_t len)
{
    struct idx_bloc loc;
    cr_assert_eq(idx_w_payload_append(s->x, ino, blkno, codec, raw_len, payload, len,
                                      &loc), 0);
    cr_assert_eq(idx_w_block_put(s->x, ino, blkno, &loc), 0);
}

static void istore_put_raw(struct istore *s, uint64_t ino, uint64_t blkno,
                           const void *data, uint32_t len)
{
    size_t cap = fade_block_bound(len, 1);
    uint8_t *p = malloc(cap);
    cr_assert_not_null(p);
    ssize_t n = fade_block_encode_raw(p, cap, data, len);
    cr_assert_gt(n, 0);
    istore_put(s, ino, blkno, FADE_CODEC_RAW, len, p, (size_t)n);
    free(p);
}

static void istore_close(struct istore *s)
{
    cr_assert_eq(idx_w_commit(s->x, 1), 0);
    idx_close(s->x);
    s->x = NULL;
}

static void istore_fini(struct istore *s)
{
    idx_close(s->x);
    itest_rmrf(s->dir);
    free(s->dir);
}

/* Text the tiny model shrinks. */
static size_t text_data(uint8_t *buf, size_t cap, int seed)
{
    size_t n = 0;
    for (int i = 0; n + 32 < cap; i++)
        n += (size_t)snprintf((char *)buf + n, cap - n, "%d: the quick fox %d\n",
                              i, seed + i % 7);
    return n;
}

/* Codes data with the tiny preset; the result must be a FADE block. */
static ssize_t encode_tiny(fade_ctx *ctx, uint8_t *dst, size_t cap, const uint8_t *src,
                           size_t len, struct fade_block_info *info)
{
    ssize_t n = fade_block_encode(ctx, dst, cap, src, len);
    cr_assert_gt(n, 0, "encode: %s", fade_strerror((int)n));
    cr_assert_eq(fade_block_info(dst, (size_t)n, info), 0);
    cr_assert_eq(info->codec, FADE_CODEC_FADE, "the tiny model did not shrink text");
    cr_assert_lt(info->header_len + 16, (size_t)n);
    return n;
}

enum fade_damage { FD_NONE, FD_CODED_BYTE, FD_UNKNOWN_MODEL };

/* Block 0 of "good" and of "bad" is coded correctly.  FD_CODED_BYTE: block
 * 1 of "bad" has a byte of its coded part changed before it was appended,
 * so its record and CRC are consistent and only decoding finds the damage.
 * FD_UNKNOWN_MODEL: the file "alien" names a model no preset has (with a
 * header CRC that matches). */
static void make_fade_store(struct istore *s, enum fade_damage damage)
{
    istore_open(s);
    fade_ctx *ctx = NULL;
    struct fade_ctx_params p = { .preset = "tiny" };
    cr_assert_eq(fade_ctx_create(&ctx, &p), 0);
    static uint8_t raw[16384], coded[16384 + 1024];
    struct fade_block_info info;

    size_t n0 = text_data(raw, sizeof raw, 1);
    uint64_t good = istore_file(s, "good", n0);
    ssize_t c0 = encode_tiny(ctx, coded, sizeof coded, raw, n0, &info);
    istore_put(s, good, 0, FADE_CODEC_FADE, (uint32_t)n0, coded, (size_t)c0);

    if (damage == FD_UNKNOWN_MODEL) {
        uint64_t alien = istore_file(s, "alien", n0);
        c0 = encode_tiny(ctx, coded, sizeof coded, raw, n0, &info);
        for (int i = 0; i < 8; i++)
            coded[16 + i] ^= (uint8_t)(0xa5 + i);
        uint32_t hcrc = fade_crc32c(0, coded, info.header_len - 4);
        for (int i = 0; i < 4; i++)
            coded[info.header_len - 4 + (size_t)i] = (uint8_t)(hcrc >> (8 * i));
        struct fade_block_info ai;
        cr_assert_eq(fade_block_info(coded, (size_t)c0, &ai), 0);
        cr_assert_neq(ai.model_id, info.model_id);
        istore_put(s, alien, 0, FADE_CODEC_FADE, (uint32_t)n0, coded, (size_t)c0);
    }
    if (damage == FD_CODED_BYTE) {
        uint8_t *full = malloc(BS);
        cr_assert_not_null(full);
        memset(full, 'a', BS);
        memcpy(full, raw, n0);
        size_t n1 = text_data(raw, sizeof raw, 2);
        uint64_t bad = istore_file(s, "bad", BS + n1);
        ssize_t cf = fade_block_encode(ctx, coded, sizeof coded, full, BS);
        cr_assert_gt(cf, 0);
        struct fade_block_info fi;
        cr_assert_eq(fade_block_info(coded, (size_t)cf, &fi), 0);
        istore_put(s, bad, 0, fi.codec, BS, coded, (size_t)cf);
        free(full);
        ssize_t c1 = encode_tiny(ctx, coded, sizeof coded, raw, n1, &info);
        coded[info.header_len + ((size_t)c1 - info.header_len) / 2] ^= 0x5a;
        istore_put(s, bad, 1, FADE_CODEC_FADE, (uint32_t)n1, coded, (size_t)c1);
    }
    fade_ctx_free(ctx);
    istore_close(s);
}

Test(fsck, fade_blocks_pass_full)
{
    struct istore s = { 0 };
    make_fade_store(&s, FD_NONE);
    const char *const args[] = { s.dir, NULL };
    expect_fsck(0, args);
    const char *const full[] = { "-f", s.dir, NULL };
    expect_fsck(0, full);
    expect_out("1 files, 1 blocks, ");
    expect_out("checked and decoded, 0 problems found");
    istore_fini(&s);
}

Test(fsck, wrongly_decoding_block_found_only_by_full)
{
    struct istore s = { 0 };
    make_fade_store(&s, FD_CODED_BYTE);
    const char *const args[] = { s.dir, NULL };
    expect_fsck(0, args);
    expect_out("0 problems found");
    const char *const full[] = { "--full", s.dir, NULL };
    expect_fsck(4, full);
    expect_out("/bad: block 1 (bytes 65536-");
    expect_out("1 problem found");
    cr_assert_null(strstr(fsck_out, "/good"), "the good file was reported:\n%s", fsck_out);
    istore_fini(&s);
}

Test(fsck, unknown_model_is_a_problem)
{
    struct istore s = { 0 };
    make_fade_store(&s, FD_UNKNOWN_MODEL);
    const char *const args[] = { s.dir, NULL };
    expect_fsck(0, args);
    const char *const full[] = { "--full", s.dir, NULL };
    expect_fsck(4, full);
    expect_out("/alien: block 0 (bytes 0-");
    expect_out("which this build does not know");
    expect_out("1 problem found");

    /* The daemon refuses the block the same way: EIO and a log line that
     * names it, no crash, and the coders leave it alone. */
    cr_assert_eq(fst_mount_init(&fsT_m, "alien"), 0);
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "cp -a '%s'/. '%s'/", s.dir, fsT_m.store);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    int rc = fst_mount_start(&fsT_m, (const char *const[]){ "-o", "cold=0", NULL });
    if (rc)
        fsT_fail_mount("mount", rc);
    int fd = open(fsT_p("alien"), O_RDONLY);
    cr_assert_geq(fd, 0);
    char buf[4096];
    errno = 0;
    cr_assert_eq(pread(fd, buf, sizeof buf, 0), -1, "a block of an unknown model read");
    cr_assert_eq(errno, EIO);
    close(fd);
    sleep(1);
    cr_assert_eq(fst_mount_stop(&fsT_m), 0, "the daemon did not stop cleanly");
    char *log = NULL;
    size_t n;
    cr_assert_eq(fst_read_text(fsT_m.log, &log, &n), 0);
    cr_assert(strstr(log, "block 0: cannot decode"), "%s", log);
    free(log);
    istore_fini(&s);
}

/* A store with a raw file "file" of two blocks, then `sql` run on its
 * database behind index/'s back. */
static void damage_case(const char *sql, const char *const *want)
{
    struct istore s = { 0 };
    istore_open(&s);
    static uint8_t data[BS];
    itest_fill(data, sizeof data, 5);
    uint64_t ino = istore_file(&s, "file", BS + 1000);
    cr_assert_eq(ino, 2, "the test's SQL assumes inode 2");
    istore_put_raw(&s, ino, 0, data, BS);
    istore_put_raw(&s, ino, 1, data, 1000);
    istore_close(&s);

    const char *const args[] = { s.dir, NULL };
    expect_fsck(0, args);

    sqlite3 *db = NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/fadefs.db", s.dir);
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    char *err = NULL;
    int r = sqlite3_exec(db, sql, NULL, NULL, &err);
    cr_assert_eq(r, SQLITE_OK, "%s: %s", sql, err ? err : "?");
    cr_assert_eq(sqlite3_close(db), SQLITE_OK);

    expect_fsck(4, args);
    for (int i = 0; want[i]; i++)
        expect_out(want[i]);
    istore_fini(&s);
}

Test(fsck, queue_row_without_block)
{
    const char *const want[] = {
        "/file: block 7 (bytes 458752-524287): compression queue entry", NULL,
    };
    damage_case("INSERT INTO queue(ino, blkno, t) VALUES(2, 7, 0)", want);
}

Test(fsck, block_row_of_missing_inode)
{
    /* A copy of block 0's row for inode 99: its payload names inode 2, so
     * the payload check reports it too. */
    const char *const want[] = {
        "inode 99: block 0 (bytes 0-65535): block row of inode 99, which does not exist",
        "inode 99: block 0 (bytes 0-65535): payload record", NULL,
    };
    damage_case("INSERT INTO blocks(ino, blkno, seg, off, len, raw_len, codec, crc, gen) "
                "SELECT 99, blkno, seg, off, len, raw_len, codec, crc, gen FROM blocks "
                "WHERE ino = 2 AND blkno = 0", want);
}

Test(fsck, block_row_past_end_of_file)
{
    const char *const want[] = {
        "/file: block 1 (bytes 65536-66535): block ends at byte 66536, past the end "
        "of the file (size 65636)", NULL,
    };
    damage_case("UPDATE inodes SET size = 65636 WHERE ino = 2", want);
}

Test(fsck, entry_naming_missing_inode_and_nlink)
{
    const char *const want[] = {
        "/: entry \"ghost\" names inode 77, which does not exist",
        "/file: nlink is 3, but 1 directory entries name it", NULL,
    };
    damage_case("INSERT INTO dentries(dir, name, ino) VALUES(1, CAST('ghost' AS BLOB), 77);"
                "UPDATE inodes SET nlink = 3 WHERE ino = 2", want);
}

Test(fsck, totals_and_segment_live)
{
    /* Triggers keep both exact; direct updates of the rows bypass them. */
    const char *const want[] = {
        "store: totals.raw_bytes is 1, the tables hold 66536",
        "store: segment ", "segments.live is 5, its blocks hold ", NULL,
    };
    damage_case("UPDATE totals SET raw_bytes = 1; UPDATE segments SET live = 5", want);
}

Test(fsck, missing_segment_file)
{
    struct istore s = { 0 };
    istore_open(&s);
    static uint8_t data[1000];
    itest_fill(data, sizeof data, 6);
    uint64_t ino = istore_file(&s, "lost", sizeof data);
    istore_put_raw(&s, ino, 0, data, sizeof data);
    istore_close(&s);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/segments/0000000000000001.seg", s.dir);
    cr_assert_eq(unlink(path), 0, "unlink %s: %s", path, strerror(errno));
    const char *const args[] = { s.dir, NULL };
    expect_fsck(4, args);
    expect_out("store: segment 0000000000000001.seg: file missing");
    expect_out("/lost: block 0 (bytes 0-999): payload in segment 0000000000000001");
    istore_fini(&s);
}

Test(fsck, store_in_use_is_refused)
{
    struct istore s = { 0 };
    istore_open(&s);
    istore_file(&s, "f", 0);
    cr_assert_eq(idx_w_commit(s.x, 1), 0);
    /* s.x stays open: the writable open holds the store's lock. */
    const char *const args[] = { s.dir, NULL };
    expect_fsck(8, args);
    expect_out(": store is mounted (or in use)");
    idx_close(s.x);
    s.x = NULL;
    expect_fsck(0, args);
    istore_fini(&s);
}

Test(fsck, command_line)
{
    const char *const none[] = { NULL };
    expect_fsck(16, none);
    const char *const bad[] = { "--no-such-option", "x", NULL };
    expect_fsck(16, bad);
    const char *const two[] = { "a", "b", NULL };
    expect_fsck(16, two);
    const char *const help[] = { "--help", NULL };
    expect_fsck(0, help);
    expect_out("SYNOPSIS");
    expect_out("EXIT STATUS");
    const char *const ver[] = { "-V", NULL };
    expect_fsck(0, ver);
    expect_out("fadefsck ");
    const char *const missing[] = { "/nonexistent/fadefsck-store", NULL };
    expect_fsck(8, missing);
}
