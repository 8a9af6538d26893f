/* test_fs_seek.c — lseek SEEK_DATA / SEEK_HOLE through a real mount: holes
 * are blocks the store has no row for, dirty blocks count as data, the end
 * of the file is a hole, and the answers are the same while the data is
 * dirty, while its commit is still deferred, once it is committed, and
 * after a remount. */
#include "tests/fs/fs_test.h"

TestSuite(fs_seek, .fini = fsT_down, .timeout = 120);

#define BS 65536u                 /* the store's block size in these tests */

static const char *const small_blocks[] = { "-o", "block_size=64K", NULL };

/* The answer lseek must give for a file of `size` bytes whose blocks b
 * with data[b] != 0 hold data (block granularity): -errno or the offset. */
static long long model(const uint8_t *data, uint64_t size, uint64_t off,
                       int whence)
{
    if (off >= size)
        return -ENXIO;
    uint64_t nblk = (size + BS - 1) / BS;
    for (uint64_t b = off / BS; b < nblk; b++) {
        if (!!data[b] == (whence == SEEK_DATA))
            return (long long)(b * BS > off ? b * BS : off);
    }
    return whence == SEEK_DATA ? -ENXIO : (long long)size;
}

static long long seek(int fd, uint64_t off, int whence)
{
    errno = 0;
    off_t r = lseek(fd, (off_t)off, whence);
    return r < 0 ? -errno : (long long)r;
}

/* Every block boundary, a point inside each block, and the end. */
static void check_all(int fd, const uint8_t *data, uint64_t size,
                      const char *when)
{
    uint64_t nblk = (size + BS - 1) / BS + 1;
    for (uint64_t b = 0; b <= nblk; b++) {
        const uint64_t offs[] = { b * BS, b * BS + 1, b * BS + BS / 2, b * BS + BS - 1 };
        for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
            for (int k = 0; k < 2; k++) {
                int wh = k ? SEEK_HOLE : SEEK_DATA;
                long long want = model(data, size, offs[i], wh);
                long long got = seek(fd, offs[i], wh);
                cr_assert_eq(got, want, "%s: %s from %llu: got %lld, want %lld",
                             when, k ? "SEEK_HOLE" : "SEEK_DATA",
                             (unsigned long long)offs[i], got, want);
            }
        }
    }
    /* Past EOF, and for whatever SEEK_DATA found, the file offset moved. */
    cr_assert_eq(seek(fd, size, SEEK_DATA), -ENXIO, "%s", when);
    cr_assert_eq(seek(fd, size, SEEK_HOLE), -ENXIO, "%s", when);
    long long d = seek(fd, 0, SEEK_DATA);
    if (d >= 0)
        cr_assert_eq(lseek(fd, 0, SEEK_CUR), d, "%s: offset not moved", when);
}

/* Writes block b (all of it, from `seed`) or only its middle bytes. */
static void put_block(int fd, uint64_t b, uint64_t seed, int partial)
{
    uint8_t buf[BS];
    fsT_fill(buf, BS, seed, b * BS);
    if (partial)
        fsT_pwrite_all(fd, buf + 1000, 100, (off_t)(b * BS + 1000));
    else
        fsT_pwrite_all(fd, buf, BS, (off_t)(b * BS));
}

Test(fs_seek, empty_and_tiny_files)
{
    fsT_up_opts("seek-empty", small_blocks);
    int fd = open(fsT_p("e"), O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(seek(fd, 0, SEEK_DATA), -ENXIO);
    cr_assert_eq(seek(fd, 0, SEEK_HOLE), -ENXIO);
    cr_assert_eq(write(fd, "x", 1), 1);
    cr_assert_eq(seek(fd, 0, SEEK_DATA), 0);
    cr_assert_eq(seek(fd, 0, SEEK_HOLE), 1);
    cr_assert_eq(seek(fd, 1, SEEK_DATA), -ENXIO);
    cr_assert_eq(seek(fd, -1, SEEK_DATA), -ENXIO);
    /* Other whences stay the kernel's. */
    cr_assert_eq(lseek(fd, 0, SEEK_END), 1);
    cr_assert_eq(close(fd), 0);
    /* A file that is one long hole. */
    fd = open(fsT_p("h"), O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, 10 * BS + 7), 0);
    cr_assert_eq(seek(fd, 0, SEEK_DATA), -ENXIO);
    cr_assert_eq(seek(fd, 3 * BS + 5, SEEK_HOLE), 3 * BS + 5);
    cr_assert_eq(close(fd), 0);
}

/* One layout checked dirty, deferred (closed, commit not landed), fsync'd
 * and after a remount. */
Test(fs_seek, layout_in_every_state)
{
    fsT_up_opts("seek-layout", small_blocks);
    enum { N = 40 };
    uint8_t data[N + 2] = { 0 };
    /* Runs of data and holes, single blocks, a partly written block. */
    static const int blocks[] = { 1, 2, 3, 7, 10, 11, 12, 13, 20, 27, 28, 35 };
    const char *p = fsT_p("f");
    int fd = open(p, O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        put_block(fd, (uint64_t)blocks[i], 5, blocks[i] == 20);
        data[blocks[i]] = 1;
    }
    uint64_t size = (uint64_t)N * BS - 123;   /* a hole runs to EOF */
    cr_assert_eq(ftruncate(fd, (off_t)size), 0);
    check_all(fd, data, size, "dirty");
    cr_assert_eq(close(fd), 0);

    /* Closing hands the blocks to the writer without waiting. */
    fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    check_all(fd, data, size, "just closed");
    cr_assert_eq(fsync(fd), 0);
    check_all(fd, data, size, "fsync'd");
    cr_assert_eq(close(fd), 0);

    fsT_remount();
    fd = open(p, O_RDONLY);
    cr_assert_geq(fd, 0);
    check_all(fd, data, size, "remounted");
    fsT_check_range(fd, 4 * BS, 3 * BS, 0, 1);
    cr_assert_eq(close(fd), 0);
}

/* A block of zeros is data while it is a dirty buffer and a hole once it
 * is committed; a truncate takes data away and growing adds a hole. */
Test(fs_seek, zeros_truncate_and_mixed_dirty)
{
    fsT_up_opts("seek-zero", small_blocks);
    uint8_t data[16] = { 0 };
    int fd = open(fsT_p("z"), O_RDWR | O_CREAT, 0644);
    cr_assert_geq(fd, 0);
    for (int b = 0; b < 8; b++) {
        put_block(fd, (uint64_t)b, 9, 0);
        data[b] = 1;
    }
    cr_assert_eq(fsync(fd), 0);
    uint64_t size = 8 * BS;
    check_all(fd, data, size, "committed");

    /* Zeros over block 3: dirty, still data; committed, a hole. */
    static uint8_t zero[BS];
    fsT_pwrite_all(fd, zero, BS, 3 * BS);
    check_all(fd, data, size, "zero block dirty");
    cr_assert_eq(fsync(fd), 0);
    data[3] = 0;
    check_all(fd, data, size, "zero block committed");
    cr_assert_eq(seek(fd, 0, SEEK_HOLE), 3 * BS);
    cr_assert_eq(seek(fd, 3 * BS, SEEK_DATA), 4 * BS);

    /* Committed and dirty blocks mixed: dirty 10 and 12 past a hole. */
    put_block(fd, 10, 9, 1);
    put_block(fd, 12, 9, 0);
    data[10] = data[12] = 1;
    size = 13 * BS;
    check_all(fd, data, size, "mixed");

    /* Shrinking drops blocks 6 and up; growing again leaves a hole. */
    cr_assert_eq(ftruncate(fd, 6 * BS + 10), 0);
    data[6] = 1;                  /* its first 10 bytes stay */
    for (int b = 7; b < 16; b++)
        data[b] = 0;
    size = 6 * BS + 10;
    check_all(fd, data, size, "shrunk");
    cr_assert_eq(ftruncate(fd, 11 * BS), 0);
    size = 11 * BS;
    check_all(fd, data, size, "grown");
    cr_assert_eq(seek(fd, 6 * BS, SEEK_HOLE), 7 * BS);
    cr_assert_eq(close(fd), 0);
}

/* Pseudo-random layouts with some blocks fsync'd and some still dirty. */
Test(fs_seek, random_layouts)
{
    fsT_up_opts("seek-rand", small_blocks);
    uint64_t rng = 0x5eed;
    for (int round = 0; round < 4; round++) {
        enum { N = 48 };
        uint8_t data[N + 2] = { 0 }, partial[N] = { 0 };
        char name[16];
        snprintf(name, sizeof name, "r%d", round);
        int fd = open(fsT_p(name), O_RDWR | O_CREAT, 0644);
        cr_assert_geq(fd, 0);
        for (int b = 0; b < N; b++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            if ((rng >> 33) % 3 == 0) {
                partial[b] = (uint8_t)((rng >> 40) & 1);
                put_block(fd, (uint64_t)b, (uint64_t)round + 1, partial[b]);
                data[b] = 1;
            }
            if (b == N / 2)
                cr_assert_eq(fsync(fd), 0);
        }
        uint64_t size = (uint64_t)N * BS - (rng >> 50) % BS;
        cr_assert_eq(ftruncate(fd, (off_t)size), 0);
        /* The cut last block keeps only its first bytes: zeros if its
         * data (bytes 1000..1099 of a partial write) lay past them. */
        if (partial[N - 1] && size % BS <= 1000)
            data[N - 1] = 0;
        check_all(fd, data, size, name);
        cr_assert_eq(close(fd), 0);
    }
}
