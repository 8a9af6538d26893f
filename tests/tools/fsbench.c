/* fsbench.c — the timed parts of scripts/bench-fs.sh, one measurement per
 * call so that the script can run each one on the plain directory and on
 * the mount side by side:
 *
 *   fsbench seqwrite SRC DST        copy SRC to DST in 1 MiB writes + fsync; prints MB/s
 *   fsbench seqread FILE            read FILE in 1 MiB reads; prints MB/s
 *   fsbench randread FILE N BS [RANGE [SEED [direct]]]
 *                                   N preads of BS bytes at random BS-aligned
 *                                   offsets in [0, RANGE); prints reads/s and
 *                                   the p50/p99 latency of one read (us);
 *                                   "direct" opens with O_DIRECT, so a
 *                                   FUSE mount serves every read itself
 *   fsbench meta DIR N SIZE         create+write N files of SIZE bytes, stat
 *                                   them, unlink them; prints three rates/s
 *
 * Output is one line of "name=value" pairs on stdout; errors go to stderr
 * with exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double fb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int fb_die(const char *what, const char *path)
{
    fprintf(stderr, "fsbench: %s %s: %s\n", what, path ? path : "", strerror(errno));
    return 1;
}

static int fb_seqwrite(const char *src, const char *dst)
{
    const size_t bs = 1u << 20;
    char *buf = malloc(bs);
    int in = open(src, O_RDONLY);
    if (!buf || in < 0)
        return fb_die("open", src);
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0)
        return fb_die("open", dst);
    double t0 = fb_now();
    uint64_t total = 0;
    for (;;) {
        ssize_t r = read(in, buf, bs);
        if (r < 0)
            return fb_die("read", src);
        if (r == 0)
            break;
        for (ssize_t done = 0; done < r; ) {
            ssize_t w = write(out, buf + done, (size_t)(r - done));
            if (w <= 0)
                return fb_die("write", dst);
            done += w;
        }
        total += (uint64_t)r;
    }
    if (fsync(out) != 0)
        return fb_die("fsync", dst);
    if (close(out) != 0)
        return fb_die("close", dst);
    double dt = fb_now() - t0;
    close(in);
    free(buf);
    printf("bytes=%llu seconds=%.3f MBps=%.1f\n", (unsigned long long)total, dt,
           (double)total / 1e6 / dt);
    return 0;
}

static int fb_seqread(const char *path)
{
    const size_t bs = 1u << 20;
    char *buf = malloc(bs);
    int fd = open(path, O_RDONLY);
    if (!buf || fd < 0)
        return fb_die("open", path);
    double t0 = fb_now();
    uint64_t total = 0, sum = 0;
    for (;;) {
        ssize_t r = read(fd, buf, bs);
        if (r < 0)
            return fb_die("read", path);
        if (r == 0)
            break;
        sum += (uint8_t)buf[r - 1];   /* touch the data */
        total += (uint64_t)r;
    }
    double dt = fb_now() - t0;
    close(fd);
    free(buf);
    printf("bytes=%llu seconds=%.3f MBps=%.1f touch=%llu\n", (unsigned long long)total, dt,
           (double)total / 1e6 / dt, (unsigned long long)(sum & 1));
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int fb_randread(const char *path, long n, size_t bs, uint64_t range, uint64_t seed,
                       int direct)
{
    int fd = open(path, O_RDONLY | (direct ? O_DIRECT : 0));
    if (fd < 0)
        return fb_die("open", path);
    struct stat st;
    if (fstat(fd, &st) != 0)
        return fb_die("fstat", path);
    if (range == 0 || range > (uint64_t)st.st_size)
        range = (uint64_t)st.st_size;
    uint64_t slots = range / bs;
    if (slots == 0) {
        fprintf(stderr, "fsbench: %s smaller than one read\n", path);
        return 1;
    }
    char *buf = NULL;
    if (posix_memalign((void **)&buf, 4096, bs))
        buf = NULL;
    double *lat = n > 0 ? malloc((size_t)n * sizeof(*lat)) : NULL;
    if (!buf || (n > 0 && !lat))
        return 1;
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    double t0 = fb_now();
    for (long i = 0; i < n; i++) {
        x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
        uint64_t slot = (x * 0x2545F4914F6CDD1Dull) % slots;
        double ta = fb_now();
        ssize_t r = pread(fd, buf, bs, (off_t)(slot * bs));
        lat[i] = fb_now() - ta;
        if (r != (ssize_t)bs)
            return fb_die("pread", path);
    }
    double dt = fb_now() - t0;
    close(fd);
    free(buf);
    qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
    printf("reads=%ld seconds=%.3f per_s=%.0f us_per_read=%.1f p50_us=%.1f p99_us=%.1f\n",
           n, dt, (double)n / dt, dt * 1e6 / (double)n,
           n ? lat[(n - 1) / 2] * 1e6 : 0, n ? lat[(n * 99 - 1) / 100] * 1e6 : 0);
    free(lat);
    return 0;
}

static int fb_meta(const char *dir, long n, size_t size)
{
    char *data = calloc(1, size ? size : 1);
    char path[4096];
    if (!data)
        return 1;
    for (size_t i = 0; i < size; i++)
        data[i] = (char)("small file "[i % 11]);
    double t0 = fb_now();
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f%06ld", dir, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0)
            return fb_die("create", path);
        if (size && write(fd, data, size) != (ssize_t)size)
            return fb_die("write", path);
        if (close(fd) != 0)
            return fb_die("close", path);
    }
    double t1 = fb_now();
    struct stat st;
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f%06ld", dir, i);
        if (stat(path, &st) != 0 || (size_t)st.st_size != size)
            return fb_die("stat", path);
    }
    double t2 = fb_now();
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f%06ld", dir, i);
        if (unlink(path) != 0)
            return fb_die("unlink", path);
    }
    double t3 = fb_now();
    free(data);
    printf("files=%ld create_per_s=%.0f stat_per_s=%.0f unlink_per_s=%.0f\n", n,
           (double)n / (t1 - t0), (double)n / (t2 - t1), (double)n / (t3 - t2));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "seqwrite") == 0)
        return fb_seqwrite(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "seqread") == 0)
        return fb_seqread(argv[2]);
    if (argc >= 5 && strcmp(argv[1], "randread") == 0)
        return fb_randread(argv[2], atol(argv[3]), (size_t)atol(argv[4]),
                           argc > 5 ? strtoull(argv[5], NULL, 0) : 0,
                           argc > 6 ? strtoull(argv[6], NULL, 0) : 1,
                           argc > 7 && strcmp(argv[7], "direct") == 0);
    if (argc >= 5 && strcmp(argv[1], "meta") == 0)
        return fb_meta(argv[2], atol(argv[3]), (size_t)atol(argv[4]));
    fprintf(stderr, "usage: fsbench seqwrite SRC DST | seqread FILE | "
                    "randread FILE N BS [RANGE [SEED [direct]]] | meta DIR N SIZE\n");
    return 2;
}
