/* test_fs_files.c — file data through a real mount: open flags, sparse
 * writes and holes, truncate, fallocate, mmap, unlink of an open file,
 * large and random I/O, corpus round trips, and survival of all of it
 * across a remount. */
#include "tests/fs/fs_test.h"

#include <dirent.h>
#include <pthread.h>
#include <sys/mman.h>

TestSuite(fs_files, .fini = fsT_down, .timeout = 120);

Test(fs_files, open_flags)
{
    umask(022);
    fsT_up("flags");
    const char *p = fsT_p("f");
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
    cr_assert_geq(fd, 0, "O_CREAT|O_EXCL on a new name: %s", strerror(errno));
    cr_assert_eq(write(fd, "hello world", 11), 11);
    close(fd);

    errno = 0;
    cr_assert_eq(open(p, O_WRONLY | O_CREAT | O_EXCL, 0644), -1);
    cr_assert_eq(errno, EEXIST, "O_EXCL on an existing file: %s", strerror(errno));
    errno = 0;
    cr_assert_eq(open(fsT_p("missing"), O_RDONLY), -1);
    cr_assert_eq(errno, ENOENT);

    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_size, 11);
    cr_assert(S_ISREG(st.st_mode));
    cr_assert_eq(st.st_mode & 07777, 0644, "mode %o", st.st_mode & 07777);

    fd = open(p, O_WRONLY | O_TRUNC);
    cr_assert_geq(fd, 0);
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(st.st_size, 0, "O_TRUNC left %lld bytes", (long long)st.st_size);
    cr_assert_eq(write(fd, "abc", 3), 3);
    close(fd);

    /* Two O_APPEND descriptors: every write lands at the current end. */
    int a = open(p, O_WRONLY | O_APPEND), b = open(p, O_WRONLY | O_APPEND);
    cr_assert(a >= 0 && b >= 0);
    for (int i = 0; i < 50; i++) {
        cr_assert_eq(write(a, "A", 1), 1);
        cr_assert_eq(write(b, "BB", 2), 2);
    }
    /* pwrite on O_APPEND appends on Linux too. */
    close(a); close(b);
    size_t len;
    uint8_t *d = fsT_read_file(p, &len);
    cr_assert_eq(len, 3 + 150u);
    cr_assert_eq(memcmp(d, "abc", 3), 0);
    for (int i = 0; i < 50; i++)
        cr_assert_eq(memcmp(d + 3 + 3 * i, "ABB", 3), 0, "append order broken at %d", i);
    free(d);

    /* O_RDONLY descriptor refuses writes, O_WRONLY refuses reads. */
    fd = open(p, O_RDONLY);
    errno = 0;
    cr_assert_eq(write(fd, "x", 1), -1);
    cr_assert_eq(errno, EBADF);
    close(fd);
    /* Opening a directory for writing fails with EISDIR. */
    errno = 0;
    cr_assert_eq(open(fsT_m.mnt, O_WRONLY), -1);
    cr_assert_eq(errno, EISDIR);
}

Test(fs_files, pwrite_far_past_eof)
{
    fsT_up("sparse");
    const char *p = fsT_p("sparse");
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    uint8_t buf[5000];
    fsT_fill(buf, sizeof buf, 7, 0);
    const off_t far = (off_t)5 << 30 | 12345;   /* past 4 GiB (32-bit offsets wrap), odd */
    fsT_pwrite_all(fd, buf, 100, 10);
    fsT_pwrite_all(fd, buf, sizeof buf, far);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(st.st_size, far + (off_t)sizeof buf);
    cr_assert_eq(fsync(fd), 0);
    /* A hole this big must not be stored as data... */
    long long stored = fsT_du(fsT_m.store);
    cr_assert_lt(stored, 64ll << 20, "a 5 GiB hole made the store %lld bytes", stored);
    /* ...nor reported as allocated (du and cp --sparse go by st_blocks). */
    cr_assert_lt((long long)st.st_blocks * 512, 64ll << 20,
                 "st_blocks says %lld bytes allocated for 5100 bytes of data",
                 (long long)st.st_blocks * 512);

    uint8_t got[sizeof buf];
    cr_assert_eq(fsT_pread_all(fd, got, sizeof buf, far), sizeof buf);
    cr_assert_eq(memcmp(got, buf, sizeof buf), 0, "data written past EOF differs");
    cr_assert_eq(fsT_pread_all(fd, got, 100, 10), 100u);
    cr_assert_eq(memcmp(got, buf, 100), 0);
    fsT_check_range(fd, 0, 10, 0, 1);
    fsT_check_range(fd, 110, 70000, 0, 1);
    fsT_check_range(fd, (off_t)1 << 30, 8192, 0, 1);
    fsT_check_range(fd, far - 70000, 70000, 0, 1);
    /* Reading at and past EOF returns 0. */
    cr_assert_eq(pread(fd, got, 10, far + (off_t)sizeof buf), 0);
    cr_assert_eq(pread(fd, got, 10, far + (off_t)sizeof buf + 99999), 0);
    close(fd);

    fsT_remount();
    fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(st.st_size, far + (off_t)sizeof buf, "size after remount");
    cr_assert_eq(fsT_pread_all(fd, got, sizeof buf, far), sizeof buf);
    cr_assert_eq(memcmp(got, buf, sizeof buf), 0, "data past EOF differs after remount");
    fsT_check_range(fd, 110, 70000, 0, 1);
    fsT_check_range(fd, far - 4096, 4096, 0, 1);
    close(fd);
}

Test(fs_files, holes_between_blocks)
{
    fsT_up("holes");
    const char *p = fsT_p("h");
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    /* Data islands at offsets that straddle likely block sizes. */
    static const off_t at[] = { 0, 65536 - 7, 3 * 131072 + 1, 5 << 20, (9 << 20) - 3 };
    uint8_t buf[3000];
    for (unsigned i = 0; i < sizeof at / sizeof at[0]; i++) {
        fsT_fill(buf, sizeof buf, 100 + i, 0);
        fsT_pwrite_all(fd, buf, sizeof buf, at[i]);
    }
    for (int pass = 0; pass < 2; pass++) {
        off_t pos = 0;
        for (unsigned i = 0; i < sizeof at / sizeof at[0]; i++) {
            if (at[i] > pos)
                fsT_check_range(fd, pos, (size_t)(at[i] - pos), 0, 1);
            uint8_t got[sizeof buf];
            fsT_fill(buf, sizeof buf, 100 + i, 0);
            cr_assert_eq(fsT_pread_all(fd, got, sizeof got, at[i]), sizeof got);
            cr_assert_eq(memcmp(got, buf, sizeof buf), 0, "island %u differs (pass %d)", i, pass);
            pos = at[i] + (off_t)sizeof buf;
        }
        struct stat st;
        cr_assert_eq(fstat(fd, &st), 0);
        cr_assert_eq(st.st_size, pos);
        if (pass == 0) {
            close(fd);
            fsT_remount();
            fd = open(p, O_RDWR);
            cr_assert_geq(fd, 0);
        }
    }
    close(fd);
}

Test(fs_files, truncate_down_and_up)
{
    fsT_up("trunc");
    const char *p = fsT_p("t");
    const size_t n = 600000;
    uint8_t *buf = malloc(n);
    cr_assert_not_null(buf);
    fsT_fill(buf, n, 11, 0);
    fsT_write_file(p, buf, n, 0644);

    /* Down into the middle of a block, then up again: the cut-off bytes
     * must read as zeros, not as the old data. */
    cr_assert_eq(truncate(p, 70001), 0, "truncate: %s", strerror(errno));
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_size, 70001);
    cr_assert_eq(truncate(p, 500000), 0);
    int fd = open(p, O_RDWR);
    cr_assert_geq(fd, 0);
    fsT_check_range(fd, 0, 70001, 11, 0);
    fsT_check_range(fd, 70001, 500000 - 70001, 0, 1);

    /* ftruncate on an open descriptor with unwritten (dirty) data. */
    fsT_pwrite_all(fd, buf, 4096, 200000);
    cr_assert_eq(ftruncate(fd, 201000), 0);
    cr_assert_eq(ftruncate(fd, 300000), 0);
    uint8_t got[4096];
    cr_assert_eq(fsT_pread_all(fd, got, 1000, 200000), 1000u);
    cr_assert_eq(memcmp(got, buf, 1000), 0);
    fsT_check_range(fd, 201000, 99000, 0, 1);
    close(fd);

    /* Truncate to zero, then grow by writing far out. */
    cr_assert_eq(truncate(p, 0), 0);
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_size, 0);
    fd = open(p, O_RDWR);
    fsT_pwrite_all(fd, "z", 1, 400000);
    fsT_check_range(fd, 0, 400000, 0, 1);
    close(fd);

    fsT_remount();
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_size, 400001);
    fd = open(p, O_RDONLY);
    fsT_check_range(fd, 0, 400000, 0, 1);
    cr_assert_eq(pread(fd, got, 10, 400000), 1);
    cr_assert_eq(got[0], 'z');
    close(fd);
    free(buf);
}

Test(fs_files, fallocate)
{
    fsT_up("falloc");
    const char *p = fsT_p("fa");
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(fallocate(fd, 0, 0, 1 << 20), 0, "fallocate: %s", strerror(errno));
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(st.st_size, 1 << 20, "fallocate mode 0 must extend the size");
    fsT_check_range(fd, 0, 1 << 20, 0, 1);

    /* Preallocation past EOF means little to a compressed store: it may be
     * refused, but where it succeeds it must not change the size. */
    if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20) == 0) {
        cr_assert_eq(fstat(fd, &st), 0);
        cr_assert_eq(st.st_size, 1 << 20, "KEEP_SIZE changed the size");
    } else {
        cr_assert(errno == EOPNOTSUPP || errno == ENOSYS,
                  "fallocate KEEP_SIZE: unexpected %s", strerror(errno));
    }

    /* Allocating inside existing data keeps it. */
    uint8_t buf[10000];
    fsT_fill(buf, sizeof buf, 5, 0);
    fsT_pwrite_all(fd, buf, sizeof buf, 5000);
    cr_assert_eq(fallocate(fd, 0, 0, 20000), 0);
    uint8_t got[sizeof buf];
    cr_assert_eq(fsT_pread_all(fd, got, sizeof got, 5000), sizeof got);
    cr_assert_eq(memcmp(got, buf, sizeof buf), 0, "fallocate over data changed it");

    /* Punching a hole is optional; where it is supported it must zero. */
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 6000, 3000) == 0) {
        fsT_check_range(fd, 6000, 3000, 0, 1);
        cr_assert_eq(fsT_pread_all(fd, got, 1000, 5000), 1000u);
        cr_assert_eq(memcmp(got, buf, 1000), 0);
        cr_assert_eq(fsT_pread_all(fd, got, 6000, 9000), 6000u);
        cr_assert_eq(memcmp(got, buf + 4000, 6000), 0);
    } else {
        cr_assert(errno == EOPNOTSUPP || errno == ENOSYS,
                  "punch hole: unexpected %s", strerror(errno));
    }
    close(fd);
}

Test(fs_files, mmap_read_write)
{
    fsT_up("mmap");
    const char *p = fsT_p("m");
    const size_t n = 300000;
    uint8_t *want = malloc(n);
    cr_assert_not_null(want);
    fsT_fill(want, n, 21, 0);
    fsT_write_file(p, want, n, 0644);

    /* mmap read of written data. */
    int fd = open(p, O_RDWR);
    cr_assert_geq(fd, 0);
    uint8_t *map = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
    cr_assert_neq(map, MAP_FAILED, "mmap read: %s", strerror(errno));
    cr_assert_eq(memcmp(map, want, n), 0, "mmap read differs");
    munmap(map, n);

    /* mmap write (shared), msync, then read back through read(). */
    map = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    cr_assert_neq(map, MAP_FAILED, "shared writable mmap: %s", strerror(errno));
    for (size_t i = 0; i < n; i += 997) {
        map[i] = (uint8_t)(map[i] ^ 0x5a);
        want[i] = (uint8_t)(want[i] ^ 0x5a);
    }
    memset(map + 131000, 0xee, 3000);
    memset(want + 131000, 0xee, 3000);
    cr_assert_eq(msync(map, n, MS_SYNC), 0, "msync: %s", strerror(errno));
    cr_assert_eq(munmap(map, n), 0);
    cr_assert_eq(close(fd), 0);

    size_t len;
    uint8_t *got = fsT_read_file(p, &len);
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(got, want, n), 0, "read() after mmap write differs");
    free(got);

    /* Write through mmap of a file grown by ftruncate (pages past the old
     * data are holes), then survive a remount. */
    const char *q = fsT_p("m2");
    fd = open(q, O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 200000), 0);
    map = mmap(NULL, 200000, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    cr_assert_neq(map, MAP_FAILED);
    for (size_t i = 0; i < 200000; i++)
        cr_assert_eq(map[i], 0, "fresh mmap page not zero at %zu", i);
    fsT_fill(map + 50000, 100000, 22, 0);
    cr_assert_eq(msync(map, 200000, MS_SYNC), 0);
    munmap(map, 200000);
    close(fd);

    fsT_remount();
    got = fsT_read_file(p, &len);
    cr_assert_eq(len, n);
    cr_assert_eq(memcmp(got, want, n), 0, "mmap-written data differs after remount");
    free(got);
    fd = open(q, O_RDONLY);
    cr_assert_geq(fd, 0);
    fsT_check_range(fd, 0, 50000, 0, 1);
    uint8_t *chk = malloc(100000);
    fsT_fill(chk, 100000, 22, 0);
    uint8_t *g2 = malloc(100000);
    cr_assert_eq(fsT_pread_all(fd, g2, 100000, 50000), 100000u);
    cr_assert_eq(memcmp(g2, chk, 100000), 0, "mmap write into grown file lost");
    fsT_check_range(fd, 150000, 50000, 0, 1);
    close(fd);
    free(chk); free(g2); free(want);
}

Test(fs_files, unlink_open_file)
{
    fsT_up("unlinkopen");
    const char *p = fsT_p("doomed");
    uint8_t buf[200000];
    fsT_fill(buf, sizeof buf, 31, 0);
    fsT_write_file(p, buf, sizeof buf, 0600);
    int fd = open(p, O_RDWR);
    cr_assert_geq(fd, 0);
    cr_assert_eq(unlink(p), 0);
    errno = 0;
    struct stat st;
    cr_assert_eq(stat(p, &st), -1);
    cr_assert_eq(errno, ENOENT);
    /* Still readable and writable through the open descriptor. */
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq(st.st_nlink, 0);
    fsT_check_range(fd, 0, sizeof buf, 31, 0);
    fsT_pwrite_all(fd, "tail", 4, sizeof buf);
    char t[4];
    cr_assert_eq(pread(fd, t, 4, sizeof buf), 4);
    cr_assert_eq(memcmp(t, "tail", 4), 0);
    /* A new file with the same name is a different file. */
    fsT_write_file(p, "new", 3, 0644);
    fsT_check_range(fd, 0, 1000, 31, 0);
    close(fd);
    size_t len;
    uint8_t *d = fsT_read_file(p, &len);
    cr_assert_eq(len, 3u);
    free(d);
    fsT_remount();
    d = fsT_read_file(p, &len);
    cr_assert_eq(len, 3u);
    cr_assert_eq(memcmp(d, "new", 3), 0);
    free(d);
}

Test(fs_files, large_sequential_and_overwrite)
{
    fsT_up("large");
    const char *p = fsT_p("big");
    const size_t n = 12u << 20;
    uint8_t *buf = malloc(n);
    cr_assert_not_null(buf);
    fsT_fill(buf, n, 41, 0);
    /* Odd chunk sizes so that writes straddle every block boundary. */
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0);
    size_t off = 0, chunk = 1;
    while (off < n) {
        size_t k = chunk < n - off ? chunk : n - off;
        ssize_t w = write(fd, buf + off, k);
        cr_assert_eq(w, (ssize_t)k, "write %zu at %zu: %s", k, off, strerror(errno));
        off += k;
        chunk = chunk * 3 + 7;
        if (chunk > 3u << 20)
            chunk = 4093;
    }
    cr_assert_eq(fsync(fd), 0, "fsync: %s", strerror(errno));
    close(fd);

    /* Overwrite pieces in the middle, across block edges. */
    fd = open(p, O_RDWR);
    for (int i = 0; i < 20; i++) {
        size_t at = ((size_t)i * 611953u) % (n - 70000), len = 1 + (size_t)i * 3331u;
        fsT_fill(buf + at, len, 1000 + (uint64_t)i, 0);
        fsT_pwrite_all(fd, buf + at, len, (off_t)at);
    }
    close(fd);
    for (int pass = 0; pass < 2; pass++) {
        size_t len;
        uint8_t *got = fsT_read_file(p, &len);
        cr_assert_eq(len, n);
        if (memcmp(got, buf, n) != 0) {
            size_t i = 0;
            while (got[i] == buf[i])
                i++;
            cr_assert_fail("pass %d: first difference at byte %zu", pass, i);
        }
        free(got);
        if (pass == 0)
            fsT_remount();
    }
    free(buf);
}

Test(fs_files, random_offset_reads)
{
    fsT_up("randread");
    const char *p = fsT_p("r");
    const size_t n = 3u << 20;
    uint8_t *buf = malloc(n), *got = malloc(200000);
    cr_assert(buf && got);
    fsT_fill(buf, n, 51, 0);
    fsT_write_file(p, buf, n, 0644);
    uint64_t s = 88172645463325252ull;
    for (int pass = 0; pass < 2; pass++) {
        int fd = open(p, O_RDONLY);
        cr_assert_geq(fd, 0);
        for (int i = 0; i < 400; i++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            size_t off = (size_t)(s % (n + 1000));
            size_t len = (size_t)((s >> 32) % 200000) + 1;
            size_t want = off >= n ? 0 : (n - off < len ? n - off : len);
            ssize_t r = pread(fd, got, len, (off_t)off);
            cr_assert_eq(r, (ssize_t)want, "pread %zu at %zu returned %zd (%s)",
                         len, off, r, r < 0 ? strerror(errno) : "");
            cr_assert_eq(memcmp(got, buf + (off < n ? off : 0), want), 0,
                         "pread %zu at %zu: wrong bytes", len, off);
        }
        close(fd);
        if (pass == 0)
            fsT_remount();
    }
    free(buf); free(got);
}

Test(fs_files, corpus_round_trip)
{
    char corpus[PATH_MAX];
    if (fst_corpus_dir(corpus, sizeof corpus) != 0)
        cr_skip_test("no corpus (set FADE_CORPUS)");
    fsT_up("corpus");
    DIR *d = opendir(corpus);
    cr_assert_not_null(d);
    struct dirent *e;
    int files = 0;
    char names[64][256];
    while ((e = readdir(d)) && files < 64) {
        if (e->d_name[0] == '.')
            continue;
        char src[PATH_MAX + 256];
        if (snprintf(src, sizeof src, "%s/%s", corpus, e->d_name) >= (int)sizeof src)
            continue;
        struct stat st;
        if (stat(src, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        size_t len;
        uint8_t *data = fsT_read_file(src, &len);
        fsT_write_file(fsT_p(e->d_name), data, len, 0644);
        free(data);
        memcpy(names[files++], e->d_name, sizeof names[0]);
    }
    closedir(d);
    cr_assert_gt(files, 0, "corpus is empty");
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < files; i++) {
            char src[PATH_MAX + 256];
            cr_assert_lt(snprintf(src, sizeof src, "%s/%s", corpus, names[i]), (int)sizeof src);
            size_t a, b;
            uint8_t *want = fsT_read_file(src, &a);
            uint8_t *got = fsT_read_file(fsT_p(names[i]), &b);
            cr_assert_eq(b, a, "%s: size %zu, want %zu (pass %d)", names[i], b, a, pass);
            cr_assert_eq(memcmp(got, want, a), 0, "%s differs (pass %d)", names[i], pass);
            free(want); free(got);
        }
        if (pass == 0)
            fsT_remount();
    }
}

/* Block buffers are recycled (a pool, and the cache's least recently used
 * entries once writes have filled a quarter of it): a block begun by a
 * small write past EOF must still read as zeros everywhere else, never as
 * the bytes of the file that used the buffer before. */
Test(fs_files, recycled_buffers_hold_no_stale_bytes)
{
    static const char *const opts[] = { "-o", "cache_size=1M", NULL };
    fsT_up_opts("recycle", opts);
    const size_t big = 6u << 20;
    uint8_t *buf = malloc(big);
    cr_assert_not_null(buf);
    /* A file of non-zero bytes fills the buffers, the pool and the cache. */
    for (size_t i = 0; i < big; i++)
        buf[i] = (uint8_t)(0xA5 ^ (i * 131));
    for (size_t i = 0; i < big; i++)
        buf[i] |= 1;
    int fd = open(fsT_p("old"), O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    fsT_pwrite_all(fd, buf, big, 0);
    cr_assert_eq(fsync(fd), 0);
    free(fsT_read_file(fsT_p("old"), &(size_t){ 0 }));
    close(fd);

    /* Small islands, each starting a new block past EOF at an odd offset. */
    const size_t n = 9u << 20;
    uint8_t *want = calloc(1, n);
    cr_assert_not_null(want);
    fd = open(fsT_p("new"), O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    for (size_t k = 0, at = 77; at + 1000 <= n; k++, at += 300007 + k * 4099) {
        fsT_fill(want + at, 1000, 500 + k, 0);
        fsT_pwrite_all(fd, want + at, 1000, (off_t)at);
    }
    cr_assert_eq(ftruncate(fd, (off_t)n), 0);
    for (int pass = 0; pass < 3; pass++) {
        /* 0: dirty or deferred blocks; 1: after fsync; 2: after remount. */
        size_t len;
        uint8_t *got = fsT_read_file(fsT_p("new"), &len);
        cr_assert_eq(len, n);
        for (size_t i = 0; i < n; i++)
            if (got[i] != want[i])
                cr_assert_fail("pass %d: byte %zu is %#x, want %#x", pass, i,
                               got[i], want[i]);
        free(got);
        if (pass == 0) {
            cr_assert_eq(fsync(fd), 0);
        } else if (pass == 1) {
            close(fd);
            fsT_remount();
        }
    }
    free(want);
    free(buf);
}

/* A block's CRC is kept up while writes arrive in order; writes that go
 * back inside a block still dirty, or leave gaps, must still give a
 * payload that passes its checks and reads back right after a remount. */
Test(fs_files, rewrites_inside_a_dirty_block)
{
    fsT_up("rewrite");
    const size_t n = 600000;
    uint8_t *want = calloc(1, n);
    cr_assert_not_null(want);
    int fd = open(fsT_p("f"), O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    static const size_t at[] = { 5000, 100, 20000, 4000, 70000, 65530, 300000,
                                 299990, 131072, 1 };
    static const size_t len[] = { 10000, 100, 2000, 3000, 5, 20, 4096, 50,
                                  65536, 1 };
    for (unsigned i = 0; i < sizeof at / sizeof at[0]; i++) {
        fsT_fill(want + at[i], len[i], 900 + i, 0);
        fsT_pwrite_all(fd, want + at[i], len[i], (off_t)at[i]);
    }
    cr_assert_eq(ftruncate(fd, (off_t)n), 0);
    close(fd);
    for (int pass = 0; pass < 2; pass++) {
        size_t got_len;
        uint8_t *got = fsT_read_file(fsT_p("f"), &got_len);
        cr_assert_not_null(got, "pass %d: read failed: %s", pass, strerror(errno));
        cr_assert_eq(got_len, n);
        cr_assert_eq(memcmp(got, want, n), 0, "pass %d: content differs", pass);
        free(got);
        if (pass == 0)
            fsT_remount();
    }
    free(want);
}

/* A small store has a single segment, the active one: deleting a file must
 * still give its space back (idle compaction seals and compacts the active
 * segment once it is mostly dead). */
Test(fs_files, small_store_gives_deleted_space_back)
{
    fsT_up("giveback");
    const size_t n = 40u << 20;
    uint8_t *buf = malloc(n);
    cr_assert_not_null(buf);
    fsT_fill(buf, n, 77, 0);
    int fd = open(fsT_p("big"), O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    fsT_pwrite_all(fd, buf, n, 0);
    cr_assert_eq(fsync(fd), 0);
    cr_assert_eq(close(fd), 0);
    free(buf);
    fd = open(fsT_p("small"), O_WRONLY | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    fsT_pwrite_all(fd, "kept", 4, 0);
    cr_assert_eq(close(fd), 0);
    cr_assert_geq(fsT_du(fsT_m.store), (long long)n);
    cr_assert_eq(unlink(fsT_p("big")), 0);
    const long long limit = 8ll << 20;
    long long used = fsT_du(fsT_m.store);
    for (int i = 0; i < 40 && used > limit; i++) {
        usleep(250000);
        used = fsT_du(fsT_m.store);
    }
    cr_assert_leq(used, limit, "store still uses %lld MiB after the only big file was deleted",
                  used >> 20);
    size_t len;
    uint8_t *d = fsT_read_file(fsT_p("small"), &len);
    cr_assert_eq(len, 4u);
    cr_assert_eq(memcmp(d, "kept", 4), 0);
    free(d);
    fsT_remount();
    d = fsT_read_file(fsT_p("small"), &len);
    cr_assert_eq(len, 4u);
    cr_assert_eq(memcmp(d, "kept", 4), 0);
    free(d);
}

/* A reader of a file that is being streamed: each read must see the bytes
 * written before it started, wherever they are (block buffers handed to
 * the writer, segments not yet committed, the store).  Asserting is left
 * to the test's own thread. */
struct stream_reader {
    const char *path;
    uint64_t seed;
    _Atomic uint64_t written;     /* bytes the writer has written */
    _Atomic int done;
    long checks;
    char err[200];
};

static void *stream_reader_main(void *arg)
{
    struct stream_reader *sr = arg;
    uint8_t buf[65536];
    uint64_t rng = 12345;
    int fd = open(sr->path, O_RDONLY);
    if (fd < 0) {
        snprintf(sr->err, sizeof sr->err, "open: %s", strerror(errno));
        return NULL;
    }
    while (!sr->done && !sr->err[0]) {
        uint64_t w = sr->written;
        if (w < sizeof buf)
            continue;
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t off = (rng >> 20) % (w - sizeof buf + 1);
        /* Past the kernel's page cache, to the daemon. */
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        ssize_t r = pread(fd, buf, sizeof buf, (off_t)off);
        if (r != (ssize_t)sizeof buf) {
            snprintf(sr->err, sizeof sr->err, "pread at %llu: %zd (%s)",
                     (unsigned long long)off, r, r < 0 ? strerror(errno) : "short");
            break;
        }
        for (size_t i = 0; i < sizeof buf; i++) {
            if (buf[i] != fsT_byte(sr->seed, off + i)) {
                snprintf(sr->err, sizeof sr->err, "byte %llu is 0x%02x, want 0x%02x",
                         (unsigned long long)(off + i), buf[i], fsT_byte(sr->seed, off + i));
                break;
            }
        }
        sr->checks++;
    }
    close(fd);
    return NULL;
}

/* A stream of full blocks with no fsync: the daemon appends one batch of
 * blocks while the previous batch syncs (fs_writer.c, the pipeline), and a
 * concurrent reader sees every written byte throughout. */
Test(fs_files, streaming_write_pipelines_commits)
{
    const char *const debug[] = { "-d", NULL };     /* for the writer's counts */
    fsT_up_opts("stream", debug);
    char *p = fsT_pdup("stream");
    const size_t chunk = 1u << 20, n = 64u << 20;
    uint8_t *buf = malloc(chunk);
    cr_assert_not_null(buf);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert_geq(fd, 0, "open: %s", strerror(errno));
    struct stream_reader sr = { .path = p, .seed = 77 };
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, stream_reader_main, &sr), 0);
    for (size_t off = 0; off < n; off += chunk) {
        fsT_fill(buf, chunk, sr.seed, off);
        fsT_pwrite_all(fd, buf, chunk, (off_t)off);
        sr.written = off + chunk;
    }
    sr.done = 1;
    pthread_join(t, NULL);
    cr_assert_eq(sr.err[0], 0, "concurrent reader: %s", sr.err);
    cr_assert_gt(sr.checks, 0);
    cr_assert_eq(close(fd), 0, "close: %s", strerror(errno));

    fsT_remount();
    /* The first daemon logged its writer's counts at unmount (-d). */
    char *log = NULL;
    size_t len = 0;
    cr_assert_eq(fst_read_text(fsT_m.log, &log, &len), 0);
    const char *at = strstr(log, "pipelined)");
    cr_assert_not_null(at, "no writer counts in the daemon log");
    while (at > log && at[-1] != '(')
        at--;
    cr_assert_gt(strtoull(at, NULL, 10), 0, "no batch went through the pipeline");
    free(log);

    fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    struct stat st;
    cr_assert_eq(fstat(fd, &st), 0);
    cr_assert_eq((size_t)st.st_size, n);
    fsT_check_range(fd, 0, n, sr.seed, 0);
    close(fd);
    free(buf);
    free(p);
}
