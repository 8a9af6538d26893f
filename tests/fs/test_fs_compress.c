/* test_fs_compress.c — background compression through real mounts: corpus
 * files end up FADE-coded and read back exact across remounts (and
 * fadefsck --full agrees); SIGKILL while coding loses nothing; rewrites,
 * truncates and unlinks of blocks being coded win over the coder; a
 * format-1 store is upgraded in place and compressed; a damaged coded
 * payload gives EIO on its own range only; queue rows naming nothing,
 * unknown models and a segment cut short are refused cleanly; the
 * runtime switch and compress=off.
 *
 * The whole corpus (35 MB) takes minutes to code on two cores: the test
 * that writes it has a timeout of its own. */
#include "tests/fs/fs_test.h"

#include <dirent.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

TestSuite(fs_compress, .fini = fsT_down, .timeout = 900);

/* The filesystem's own preset; the race and damage tests keep the slower
 * tiny-match, whose long blocks leave time to rewrite one while it codes. */
static const char *const fast[] = { "-o", "cold=0", NULL };
static const char *const fast64k[] = { "-o", "preset=tiny-match,cold=0,block_size=64K",
                                       NULL };

/* The corpus: every file of ../shared/corpus but its notes (*.md). */
#define N_MAX 128
static char *kinds[N_MAX];
static size_t N_KINDS;

static void list_corpus(void)
{
    char dir[PATH_MAX];
    int rc = fst_corpus_dir(dir, sizeof dir);
    cr_assert_eq(rc, 0, "corpus not found (../shared/corpus or $FADE_CORPUS)");
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (de->d_name[0] == '.' || (n > 3 && !strcmp(de->d_name + n - 3, ".md")))
            continue;
        cr_assert_lt(N_KINDS, (size_t)N_MAX);
        kinds[N_KINDS] = strdup(de->d_name);
        cr_assert_not_null(kinds[N_KINDS]);
        N_KINDS++;
    }
    closedir(d);
    cr_assert_geq(N_KINDS, 30, "the corpus has only %zu files", N_KINDS);
}

static void corpus_path(const char *name, char *out, size_t cap)
{
    char dir[PATH_MAX];
    int rc = fst_corpus_dir(dir, sizeof dir);
    cr_assert_eq(rc, 0, "corpus not found (../shared/corpus or $FADE_CORPUS)");
    cr_assert_lt((size_t)snprintf(out, cap, "%s/%s", dir, name), cap);
}

static uint8_t *corpus_file(const char *name, size_t *len)
{
    char p[PATH_MAX];
    corpus_path(name, p, sizeof p);
    return fsT_read_file(p, len);
}

static void copy_in(const char *name, const char *rel)
{
    size_t n;
    uint8_t *d = corpus_file(name, &n);
    fsT_write_file(fsT_p(rel), d, n, 0644);
    free(d);
}

static void expect_same(const char *name, const char *rel)
{
    size_t a, b;
    uint8_t *want = corpus_file(name, &a);
    uint8_t *got = fsT_read_file(fsT_p(rel), &b);
    cr_assert_eq(b, a, "%s: %zu bytes, want %zu", rel, b, a);
    for (size_t i = 0; i < a; i++)
        if (got[i] != want[i])
            cr_assert_fail("%s: byte %zu differs", rel, i);
    free(want);
    free(got);
}

/* ---- the commands ---- */

static char out[1 << 16];

static int run_tool(const char *tool, const char *const *args, unsigned timeout_ms)
{
    return fsT_run_cmd(tool, args, timeout_ms, out, sizeof out);
}

/* A number from fadefs-stat --json's output. */
static uint64_t json_u64(const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(out, pat);
    cr_assert_not_null(p, "no %s in:\n%s", key, out);
    return strtoull(p + strlen(pat), NULL, 10);
}

/* fadefs-stat --wait --json PATH: the queue drains. */
static void wait_drained(const char *rel)
{
    const char *args[] = { "--wait", "--json", "-i", "30", fsT_p(rel), NULL };
    int rc = run_tool("fadefs-stat", args, 1200000);
    cr_assert_eq(rc, 0, "fadefs-stat --wait exited %d:\n%s", rc, out);
    cr_assert_eq(json_u64("blocks_queued"), 0, "%s", out);
}

/* The daemon's own report, parsed from the xattr the same way. */
static void stat_json(const char *rel)
{
    const char *args[] = { "--json", fsT_p(rel), NULL };
    int rc = run_tool("fadefs-stat", args, 60000);
    cr_assert_eq(rc, 0, "fadefs-stat exited %d:\n%s", rc, out);
}

static void expect_fsck_full(int want)
{
    const char *args[] = { "--full", fsT_m.store, NULL };
    int rc = run_tool("fadefsck", args, 1200000);
    cr_assert_eq(rc, want, "fadefsck --full exited %d, want %d:\n%s", rc, want, out);
}

static char *log_text(void)
{
    char *t = NULL;
    size_t n;
    cr_assert_eq(fst_read_text(fsT_m.log, &t, &n), 0);
    return t;
}

/* ---- tests ---- */

Test(fs_compress, corpus_compresses_and_reads_back, .timeout = 2400)
{
    list_corpus();
    fsT_up_opts("corpus", fast);
    uint64_t total = 0;
    for (size_t i = 0; i < N_KINDS; i++) {
        char p[PATH_MAX];
        struct stat st;
        corpus_path(kinds[i], p, sizeof p);
        cr_assert_eq(stat(p, &st), 0, "%s: %s", p, strerror(errno));
        total += (uint64_t)st.st_size;
        copy_in(kinds[i], kinds[i]);
    }
    wait_drained(".");
    uint64_t logical = json_u64("logical_bytes"), stored = json_u64("stored_bytes");
    cr_assert_eq(logical, total, "logical %llu, written %llu",
                 (unsigned long long)logical, (unsigned long long)total);
    cr_assert_lt(stored * 10, logical * 6, "stored %llu of %llu: not compressed",
                 (unsigned long long)stored, (unsigned long long)logical);
    cr_assert_gt(json_u64("blocks_compressed"), 10);
    /* The JPEG (the probe keeps it raw) and tails too short to save 12.5 %
     * (camera.pgm ends 15 bytes into a block): a handful, nothing else. */
    cr_assert_geq(json_u64("blocks_kept_raw"), 1, "%s", out);
    cr_assert_leq(json_u64("blocks_kept_raw"), 5, "%s", out);
    cr_assert_eq(json_u64("blocks_failed"), 0, "%s", out);
    stat_json("fireworks.jpeg");
    cr_assert_eq(json_u64("blocks_kept_raw"), 1, "%s", out);
    char v[64];
    ssize_t n = getxattr(fsT_p("alice29.txt"), "user.fadefs.ratio", v, sizeof v - 1);
    cr_assert_gt(n, 0, "user.fadefs.ratio: %s", strerror(errno));
    v[n] = 0;
    cr_assert_gt(strtod(v, NULL), 2.0, "alice29.txt ratio %s", v);
    struct stat st;
    cr_assert_eq(stat(fsT_p("alice29.txt"), &st), 0);
    cr_assert_lt(st.st_blocks * 512, st.st_size / 2, "st_blocks %lld of %lld bytes",
                 (long long)st.st_blocks, (long long)st.st_size);

    /* A fresh daemon has no cached block: every byte comes from the coded
     * payloads. */
    fsT_remount();
    for (size_t i = 0; i < N_KINDS; i++)
        expect_same(kinds[i], kinds[i]);
    cr_assert_eq(fst_mount_stop(&fsT_m), 0, "unmount");
    expect_fsck_full(0);
    cr_assert(strstr(out, "0 problems"), "%s", out);
    for (size_t i = 0; i < N_KINDS; i++)
        free(kinds[i]);
}

Test(fs_compress, kill_during_compression_loses_nothing)
{
    fsT_up_opts("kill", fast);
    static const char *const files[] = { "enwik6", "iso_3166-2.json", "urls.10K" };
    for (int i = 0; i < 3; i++)
        copy_in(files[i], files[i]);
    int fd = open(fsT_p("."), O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(syncfs(fd), 0);
    close(fd);
    srand((unsigned)time(NULL));
    for (int cycle = 0; cycle < 4; cycle++) {
        /* Somewhere while the three files' blocks are coded. */
        usleep(300000 + (unsigned)(rand() % 1500) * 1000);
        cr_assert_eq(fst_mount_kill(&fsT_m), 0, "kill -9");
        int rc = fst_mount_start(&fsT_m, fast);
        if (rc)
            fsT_fail_mount("mount after kill", rc);
        for (int i = 0; i < 3; i++)
            expect_same(files[i], files[i]);
    }
    wait_drained(".");
    cr_assert_gt(json_u64("blocks_compressed"), 0);
    fsT_remount();
    for (int i = 0; i < 3; i++)
        expect_same(files[i], files[i]);
    cr_assert_eq(fst_mount_stop(&fsT_m), 0);
    expect_fsck_full(0);
}

/* Waits (at most 30 s) until the coders hold at least one block. */
static void wait_working(void)
{
    for (int i = 0; i < 3000; i++) {
        stat_json(".");
        if (json_u64("in_flight") > 0)
            return;
        usleep(10000);
    }
    cr_assert_fail("the coders never started:\n%s", out);
}

Test(fs_compress, rewrites_while_coding_win)
{
    fsT_up_opts("race", fast64k);
    enum { SZ = 6 * 65536 };
    uint8_t *a = malloc(SZ), *b = malloc(SZ);
    cr_assert(a && b);
    size_t tn;
    uint8_t *text = corpus_file("enwik6", &tn);
    cr_assert_geq(tn, (size_t)2 * SZ);
    memcpy(a, text, SZ);
    memcpy(b, text + SZ, SZ);
    fsT_write_file(fsT_p("over"), a, SZ, 0644);
    fsT_write_file(fsT_p("trunc"), a, SZ, 0644);
    fsT_write_file(fsT_p("gone"), a, SZ, 0644);
    wait_working();
    /* Everything the coders hold is rewritten under them. */
    int fd = open(fsT_p("over"), O_WRONLY);
    cr_assert_geq(fd, 0);
    fsT_pwrite_all(fd, b, SZ, 0);
    cr_assert_eq(fsync(fd), 0);
    close(fd);
    cr_assert_eq(truncate(fsT_p("trunc"), 100000), 0);
    cr_assert_eq(unlink(fsT_p("gone")), 0);
    wait_drained(".");
    cr_assert_gt(json_u64("raced"), 0, "no coder lost a race:\n%s", out);
    cr_assert_eq(json_u64("failed"), 0, "%s", out);
    fsT_remount();
    size_t n;
    uint8_t *got = fsT_read_file(fsT_p("over"), &n);
    cr_assert_eq(n, (size_t)SZ);
    cr_assert_eq(memcmp(got, b, SZ), 0, "over: old bytes came back");
    free(got);
    got = fsT_read_file(fsT_p("trunc"), &n);
    cr_assert_eq(n, 100000u);
    cr_assert_eq(memcmp(got, a, n), 0);
    free(got);
    cr_assert_eq(access(fsT_p("gone"), F_OK), -1);
    stat_json(".");
    cr_assert_eq(json_u64("blocks_queued"), 0, "%s", out);
    cr_assert_eq(fst_mount_stop(&fsT_m), 0);
    expect_fsck_full(0);
    free(a);
    free(b);
    free(text);
}

static void copy_tree(const char *from, const char *to)
{
    char *argv[] = { "/bin/cp", "-r", "--", (char *)from, (char *)to, NULL };
    int st;
    char o[1024];
    cr_assert_eq(fst_run_capture(argv, 60000, o, sizeof o, &st), 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "cp: %s", o);
}

static int64_t meta_int(const char *store, const char *key)
{
    char path[PATH_MAX + 16];
    sqlite3 *db;
    sqlite3_stmt *s;
    snprintf(path, sizeof path, "%s/fadefs.db", store);
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1,
                                    &s, NULL), SQLITE_OK);
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

Test(fs_compress, format1_store_upgraded_and_compressed)
{
    char root[PATH_MAX], src[PATH_MAX + 32];
    cr_assert_eq(fst_repo_root(root, sizeof root), 0);
    snprintf(src, sizeof src, "%s/tests/golden/store-v1/.", root);
    cr_assert_eq(fst_mount_init(&fsT_m, "v1"), 0);
    copy_tree(src, fsT_m.store);
    char readme[PATH_MAX + 16];
    snprintf(readme, sizeof readme, "%s/README.md", fsT_m.store);
    cr_assert_eq(unlink(readme), 0);
    cr_assert_eq(meta_int(fsT_m.store, "write_version"), 1);
    int rc = fst_mount_start(&fsT_m, fast);
    if (rc)
        fsT_fail_mount("mount of a format-1 store", rc);
    size_t n;
    uint8_t *alice = corpus_file("alice29.txt", &n);
    uint8_t *got;
    size_t gn;
    got = fsT_read_file(fsT_p("alice.txt"), &gn);
    cr_assert_eq(gn, n);
    cr_assert_eq(memcmp(got, alice, n), 0);
    free(got);
    char v[16];
    cr_assert_eq(getxattr(fsT_p("alice.txt"), "user.note", v, sizeof v), 5);
    cr_assert_eq(memcmp(v, "hello", 5), 0);
    char l[64];
    cr_assert_eq(readlink(fsT_p("link"), l, sizeof l), 9);
    wait_drained(".");
    cr_assert_geq(json_u64("blocks_compressed"), 4, "%s", out);
    cr_assert_eq(fst_mount_stop(&fsT_m), 0);
    cr_assert_eq(meta_int(fsT_m.store, "write_version"), 2);
    cr_assert_eq(meta_int(fsT_m.store, "read_version"), 1);
    rc = fst_mount_start(&fsT_m, fast);
    if (rc)
        fsT_fail_mount("remount", rc);
    expect_same("alice29.txt", "alice.txt");
    size_t kn;
    uint8_t *k = corpus_file("kppkn.gtb", &kn);
    got = fsT_read_file(fsT_p("d/kppkn.gtb"), &gn);
    cr_assert_eq(gn, 70000u);
    cr_assert_eq(memcmp(got, k, gn), 0);
    free(got);
    got = fsT_read_file(fsT_p("d/sparse"), &gn);
    cr_assert_eq(gn, 300004u);
    for (size_t i = 0; i < 300000; i++)
        cr_assert_eq(got[i], 0, "d/sparse: byte %zu", i);
    cr_assert_eq(memcmp(got + 300000, "tail", 4), 0);
    free(got);
    free(k);
    free(alice);
    cr_assert_eq(fst_mount_stop(&fsT_m), 0);
    expect_fsck_full(0);
}

/* The location of a block's record: segment path, offset, length, codec. */
static void block_record(uint64_t ino, uint64_t blkno, char *seg, size_t cap,
                         int64_t *off, int64_t *len, int *codec)
{
    char path[PATH_MAX + 16];
    sqlite3 *db;
    sqlite3_stmt *s;
    snprintf(path, sizeof path, "%s/fadefs.db", fsT_m.store);
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT seg, off, len, codec FROM blocks "
                                    "WHERE ino = ?1 AND blkno = ?2", -1, &s, NULL),
                 SQLITE_OK);
    sqlite3_bind_int64(s, 1, (int64_t)ino);
    sqlite3_bind_int64(s, 2, (int64_t)blkno);
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW, "no row for block %llu",
                 (unsigned long long)blkno);
    int k = snprintf(seg, cap, "%s/segments/%016llx.seg", fsT_m.store,
                     (unsigned long long)sqlite3_column_int64(s, 0));
    cr_assert(k > 0 && (size_t)k < cap);
    *off = sqlite3_column_int64(s, 1);
    *len = sqlite3_column_int64(s, 2);
    *codec = (int)sqlite3_column_int64(s, 3);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
    uint8_t c;
    cr_assert_eq(pread(fd, &c, 1, at), 1);
    c ^= 0x20;
    cr_assert_eq(pwrite(fd, &c, 1, at), 1);
    close(fd);
}

Test(fs_compress, damaged_coded_block_is_eio_on_its_range_only)
{
    fsT_up_opts("damage", fast64k);
    enum { SZ = 3 * 65536 };
    size_t tn;
    uint8_t *text = corpus_file("enwik6", &tn);
    fsT_write_file(fsT_p("f"), text, SZ, 0644);
    struct stat st;
    cr_assert_eq(stat(fsT_p("f"), &st), 0);
    wait_drained(".");
    cr_assert_eq(json_u64("blocks_compressed"), 3, "%s", out);
    cr_assert_eq(fst_mount_stop(&fsT_m), 0);
    char seg[PATH_MAX + 32];
    int64_t off, len;
    int codec;
    block_record(st.st_ino, 1, seg, sizeof seg, &off, &len, &codec);
    cr_assert_eq(codec, 1, "block 1 is not FADE-coded");
    flip_byte(seg, (off_t)(off + 40 + len / 2));   /* inside the coded bytes */
    int rc = fst_mount_start(&fsT_m, fast64k);
    if (rc)
        fsT_fail_mount("remount", rc);
    int fd = open(fsT_p("f"), O_RDONLY);
    cr_assert_geq(fd, 0);
    uint8_t buf[65536];
    cr_assert_eq(pread(fd, buf, sizeof buf, 0), (ssize_t)sizeof buf);
    cr_assert_eq(memcmp(buf, text, sizeof buf), 0);
    errno = 0;
    cr_assert_eq(pread(fd, buf, 4096, 65536 + 4096), -1, "damaged block read");
    cr_assert_eq(errno, EIO);
    cr_assert_eq(pread(fd, buf, sizeof buf, 2 * 65536), (ssize_t)sizeof buf);
    cr_assert_eq(memcmp(buf, text + 2 * 65536, sizeof buf), 0);
    /* A read across it stops short before it: never wrong bytes. */
    uint8_t *big = malloc(SZ);
    ssize_t got = pread(fd, big, SZ, 0);
    cr_assert_eq(got, 65536, "read across the damage returned %zd", got);
    free(big);
    close(fd);
    char *log = log_text();
    char want[64];
    snprintf(want, sizeof want, "inode %llu block 1", (unsigned long long)st.st_ino);
    cr_assert(strstr(log, want), "the log does not name %s:\n%s", want, log);
    free(log);
    cr_assert_eq(fst_mount_stop(&fsT_m), 0);
    expect_fsck_full(4);
    cr_assert(strstr(out, "/f: block 1"), "fadefsck does not name /f block 1:\n%s", out);
    free(text);
}

static void store_sql(const char *sql)
{
    char path[PATH_MAX + 16];
    sqlite3 *db;
    char *err = NULL;
    snprintf(path, sizeof path, "%s/fadefs.db", fsT_m.store);
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    int r = sqlite3_exec(db, sql, NULL, NULL, &err);
    cr_assert_eq(r, SQLITE_OK, "%s: %s", sql, err ? err : "?");
    sqlite3_close(db);
}

Test(fs_compress, bad_queue_rows_and_short_segments_are_refused_cleanly)
{
    /* Raw blocks only, so that the cut below hits one record alone. */
    fsT_up_opts("bad", (const char *const[]){ "-o", "compress=off,block_size=64K", NULL });
    size_t tn;
    uint8_t *text = corpus_file("enwik6", &tn);
    fsT_write_file(fsT_p("f"), text, 4 * 65536, 0644);
    struct stat st;
    cr_assert_eq(stat(fsT_p("f"), &st), 0);
    cr_assert_eq(fst_mount_stop(&fsT_m), 0);
    /* A queue row naming no block and one naming no inode. */
    store_sql("INSERT INTO queue(ino, blkno, t) VALUES(999999, 0, 1);"
              "INSERT INTO queue(ino, blkno, t) VALUES(2, 77, 1);");
    /* The segment cut inside the last block's record. */
    char seg[PATH_MAX + 32];
    int64_t off, len;
    int codec;
    block_record(st.st_ino, 3, seg, sizeof seg, &off, &len, &codec);
    cr_assert_eq(truncate(seg, off + 100), 0);
    int rc = fst_mount_start(&fsT_m, fast64k);
    if (rc)
        fsT_fail_mount("mount of a damaged store", rc);
    wait_drained(".");          /* the rows naming nothing are dropped */
    int fd = open(fsT_p("f"), O_RDONLY);
    cr_assert_geq(fd, 0);
    uint8_t buf[65536];
    cr_assert_eq(pread(fd, buf, sizeof buf, 2 * 65536), (ssize_t)sizeof buf);
    cr_assert_eq(memcmp(buf, text + 2 * 65536, sizeof buf), 0);
    errno = 0;
    cr_assert_eq(pread(fd, buf, 100, 3 * 65536), -1);
    cr_assert_eq(errno, EIO);
    close(fd);
    /* The cut block could not be read: failed, never retried, still EIO. */
    stat_json("f");
    cr_assert_eq(json_u64("blocks_failed"), 1, "%s", out);
    cr_assert_eq(json_u64("blocks_compressed"), 3, "%s", out);
    cr_assert_eq(fst_mount_stop(&fsT_m), 0);
    free(text);
}

Test(fs_compress, pause_resume_and_compress_off)
{
    fsT_up_opts("switch", (const char *const[]){ "-o", "compress=off", NULL });
    copy_in("alice29.txt", "a");
    const char *w[] = { "--wait", fsT_p("."), NULL };
    cr_assert_eq(run_tool("fadefs-stat", w, 60000), 1, "--wait with compression off:\n%s", out);
    cr_assert(strstr(out, "compression is off"), "%s", out);
    const char *pause[] = { "--pause", fsT_p("."), NULL };
    cr_assert_eq(run_tool("fadefs-stat", pause, 60000), 1, "%s", out);
    stat_json(".");
    cr_assert_eq(json_u64("blocks_queued"), 1);
    cr_assert_eq(json_u64("blocks_compressed"), 0);
    cr_assert(strstr(out, "\"state\":\"off\""), "%s", out);
    cr_assert_eq(fst_mount_stop(&fsT_m), 0);

    /* b turns cold 2 s after it is written: paused before that. */
    int rc = fst_mount_start(&fsT_m, (const char *const[]){
                                 "-o", "preset=tiny-match,cold=2", NULL });
    if (rc)
        fsT_fail_mount("remount", rc);
    copy_in("asyoulik.txt", "b");
    cr_assert_eq(run_tool("fadefs-stat", pause, 60000), 0, "%s", out);
    usleep(3000000);
    stat_json(".");
    cr_assert(strstr(out, "\"state\":\"paused\""), "%s", out);
    stat_json("b");
    cr_assert_eq(json_u64("blocks_compressed"), 0, "coded while paused:\n%s", out);
    cr_assert_eq(json_u64("blocks_queued"), 1, "%s", out);
    /* Only the mount's root takes the switch; the other names are read-only. */
    errno = 0;
    cr_assert_eq(setxattr(fsT_p("a"), "user.fadefs.compress", "on", 2, 0), -1);
    cr_assert_eq(errno, EPERM);
    cr_assert_eq(setxattr(fsT_p("a"), "user.fadefs.ratio", "9", 1, 0), -1);
    cr_assert_eq(errno, EPERM);
    cr_assert_eq(removexattr(fsT_p("a"), "user.fadefs.ratio"), -1);
    cr_assert_eq(errno, EPERM);
    char list[256];
    cr_assert_eq(listxattr(fsT_p("a"), list, sizeof list), 0, "user.fadefs.* listed");
    cr_assert_eq(setxattr(fsT_p("."), "user.fadefs.compress", "on", 2, 0), 0,
                 "resume: %s", strerror(errno));
    wait_drained(".");
    cr_assert_eq(json_u64("blocks_compressed"), 2, "%s", out);
    char *log = log_text();
    cr_assert(strstr(log, "compression paused") && strstr(log, "compression resumed"),
              "%s", log);
    free(log);
}
