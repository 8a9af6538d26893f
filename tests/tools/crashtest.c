/* crashtest.c — kill -9 the fadefs daemon at random moments and check that
 * everything fsync'd before the kill reads back exactly after a remount.
 *
 *   crashtest [-c CYCLES] [-s SEED] [-t MAX_MS] [-w STREAM_MB] [-b FADEFS]
 *             [-d WORKDIR] [-o MOUNT_OPTS] [-v]
 *
 * Each cycle: mount; create files of random sizes and contents, overwrite
 * and extend some, unlink some, fsync each change; a second thread SIGKILLs
 * the daemon after a random delay (0..MAX_MS ms); the dead mount is detached
 * lazily; remount; every file whose last change was fsync'd must read back
 * exactly, and a change in flight at the kill may have landed only in part
 * (each byte old or new) but must not touch anything else.  Every fsync'd
 * change is appended to a journal outside the mount (WORKDIR/.../journal)
 * after fsync returned, so a failure can be replayed by reading it.
 *
 * Meanwhile a second thread streams, over and over, STREAM_MB MiB (default
 * 48; 0: none) into a file of its own in 1 MiB writes without fsync, so
 * that the daemon's pipelined commits (one batch of blocks appended while
 * the last one syncs) are in flight at the kill as well.  Its bytes are never zero:
 * after the remount each byte must be the streamed one or zero (a block
 * whose row had not committed), and every read must succeed.
 */
#include "tests/common/mount.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CT_MAXFILES 48
#define CT_MAXSIZE  (1536u * 1024u)

struct ct_file {
    char     name[32];
    uint8_t *data;       /* the fsync'd content */
    size_t   size;
    mode_t   mode;       /* fsync'd permission bits (fchmod before fsync) */
    int      live;       /* exists and is being checked */
    /* A change in flight when the daemon died: it may have landed in part. */
    int      pending;
    off_t    p_off;
    size_t   p_len;
    uint8_t *p_data;
};

struct ct {
    struct fst_mount m;
    uint64_t rng, seed;
    int cycles, verbose;
    unsigned max_ms;
    const char *extra[3];            /* {"-o", MOUNT_OPTS, NULL} or {NULL} */
    struct ct_file f[CT_MAXFILES];
    int journal;
    long counter;
    atomic_int killed;
    pid_t victim;
    unsigned delay_ms;
    unsigned stream_mb;
    int stream_cycle;                /* the streamer's cycle */
    long streamed_mb, stream_checked;
    long fsyncs, checked_files, checked_bytes, pendings;
};

static uint64_t ct_rand(struct ct *c)
{
    uint64_t x = c->rng;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    c->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t ct_below(struct ct *c, uint64_t n) { return n ? ct_rand(c) % n : 0; }

static void ct_fill(struct ct *c, uint8_t *p, size_t n)
{
    int kind = (int)ct_below(c, 3);
    for (size_t i = 0; i < n; i++)
        p[i] = kind == 0 ? (uint8_t)ct_rand(c) : kind == 1 ? (uint8_t)("crash test "[i % 11])
                                                           : (uint8_t)(i >> 9);
}

static void ct_cleanup(struct ct *c)
{
    fst_close_fds_under(c->m.mnt);
    fst_mount_fini(&c->m);
    for (int i = 0; i < CT_MAXFILES; i++) {
        free(c->f[i].data);
        free(c->f[i].p_data);
    }
    if (c->journal >= 0)
        close(c->journal);
}

static void ct_die(struct ct *c, int cycle, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
static void ct_die(struct ct *c, int cycle, const char *fmt, ...)
{
    fprintf(stderr, "crashtest: FAILED in cycle %d (seed %" PRIu64 ", kill after %u ms): ",
            cycle, c->seed, c->delay_ms);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ncrashtest: journal: %s/journal%s\n", c->m.dir,
            getenv("FST_KEEP") ? "" : " (set FST_KEEP=1 to keep it)");
    fst_mount_dump_log(&c->m, "crashtest");
    ct_cleanup(c);
    exit(1);
}

static void ct_journal(struct ct *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void ct_journal(struct ct *c, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0 && write(c->journal, line, (size_t)n) == n)
        fdatasync(c->journal);
}

static void *ct_killer(void *arg)
{
    struct ct *c = arg;
    struct timespec ts = { c->delay_ms / 1000, (long)(c->delay_ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    kill(c->victim, SIGKILL);
    atomic_store(&c->killed, 1);
    return NULL;
}

/* A syscall failed: fine after the kill (the cycle ends), a bug before. */
static int ct_failed(struct ct *c, int cycle, const char *what, const char *name)
{
    int e = errno;
    /* The kill can land between the syscall and the flag being set. */
    for (int i = 0; i < 200 && !atomic_load(&c->killed); i++) {
        struct timespec ts = { 0, 5000000 };
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&c->killed))
        return 1;
    ct_die(c, cycle, "%s %s before the kill: %s", what, name, strerror(e));
}

static int ct_write_all(int fd, const uint8_t *p, size_t n, off_t off)
{
    while (n) {
        size_t k = n > 200000 ? 200000 : n;   /* several requests per change */
        ssize_t w = pwrite(fd, p, k, off);
        if (w <= 0)
            return -1;
        p += w; n -= (size_t)w; off += w;
    }
    return 0;
}

static uint8_t ct_stream_byte(int cycle, uint64_t k)
{
    uint64_t x = (k >> 12) * 0x9E3779B97F4A7C15ull + (uint64_t)cycle;
    return (uint8_t)((x >> 56) ^ k) | 1;    /* never zero */
}

static void *ct_streamer(void *arg)
{
    struct ct *c = arg;
    int cycle = c->stream_cycle;
    char name[32], path[PATH_MAX];
    snprintf(name, sizeof name, "s%d", cycle);
    if (fst_path(&c->m, name, path, sizeof path))
        ct_die(c, cycle, "path");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        ct_failed(c, cycle, "create", name);
        return NULL;
    }
    const size_t chunk = 1u << 20;
    uint8_t *buf = malloc(chunk);
    if (!buf)
        ct_die(c, cycle, "out of memory");
    /* Round and round the first STREAM_MB MiB until the kill: the bytes
     * of an offset are always the same, so each pass overwrites with equal
     * data (and leaves garbage for the compaction to collect). */
    for (uint64_t n = 0; !atomic_load(&c->killed); n++) {
        uint64_t off = (n % c->stream_mb) * chunk;
        for (size_t i = 0; i < chunk; i++)
            buf[i] = ct_stream_byte(cycle, off + i);
        if (ct_write_all(fd, buf, chunk, (off_t)off) != 0) {
            ct_failed(c, cycle, "stream write", name);
            break;
        }
        c->streamed_mb++;
    }
    free(buf);
    close(fd);
    return NULL;
}

/* After the remount: the stream of the cycle before holds its bytes or
 * zeros, reads without error; then it goes (the disk stays small). */
static void ct_verify_stream(struct ct *c, int cycle)
{
    char name[32], path[PATH_MAX];
    snprintf(name, sizeof name, "s%d", cycle - 1);
    if (fst_path(&c->m, name, path, sizeof path))
        ct_die(c, cycle, "path");
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        if (errno == ENOENT)
            return;                  /* killed before its create landed */
        ct_die(c, cycle, "stream %s cannot be opened: %s", name, strerror(errno));
    }
    const size_t chunk = 1u << 20;
    uint8_t *buf = malloc(chunk);
    if (!buf)
        ct_die(c, cycle, "out of memory");
    uint64_t off = 0;
    for (;;) {
        ssize_t r = pread(fd, buf, chunk, (off_t)off);
        if (r < 0)
            ct_die(c, cycle, "stream %s: read at %llu: %s", name, (unsigned long long)off,
                   strerror(errno));
        if (r == 0)
            break;
        for (ssize_t i = 0; i < r; i++)
            if (buf[i] && buf[i] != ct_stream_byte(cycle - 1, off + (uint64_t)i))
                ct_die(c, cycle, "stream %s: byte %llu is 0x%02x, streamed 0x%02x", name,
                       (unsigned long long)(off + (uint64_t)i), buf[i],
                       ct_stream_byte(cycle - 1, off + (uint64_t)i));
        off += (uint64_t)r;
    }
    close(fd);
    free(buf);
    c->stream_checked += (long)(off >> 20);
    if (unlink(path) != 0)
        ct_die(c, cycle, "unlink stream %s: %s", name, strerror(errno));
}

/* One cycle of changes until the daemon is killed (or 400 changes; in
 * half of the cycles a few dozen at most, after which the streamer runs
 * alone and its blocks go through the daemon's pipeline undisturbed). */
static void ct_work(struct ct *c, int cycle)
{
    char path[PATH_MAX];
    int steps = ct_below(c, 2) ? 400 : (int)ct_below(c, 40);
    for (int step = 0; step < steps && !atomic_load(&c->killed); step++) {
        int i = (int)ct_below(c, CT_MAXFILES);
        struct ct_file *f = &c->f[i];
        if (!f->live) {
            /* Create a new file under a fresh name. */
            size_t size = ct_below(c, 4) == 0 ? (size_t)ct_below(c, 100) : (size_t)ct_below(c, CT_MAXSIZE);
            uint8_t *d = malloc(size ? size : 1);
            if (!d)
                ct_die(c, cycle, "out of memory");
            ct_fill(c, d, size);
            snprintf(f->name, sizeof f->name, "c%d-%ld", cycle, c->counter++);
            if (fst_path(&c->m, f->name, path, sizeof path))
                ct_die(c, cycle, "path");
            int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
            if (fd < 0) {
                free(d);
                if (ct_failed(c, cycle, "create", f->name))
                    return;
            }
            /* Metadata changed before fsync must be durable with the data. */
            mode_t mode = (mode_t)(0400 | ct_below(c, 01000));
            if (ct_write_all(fd, d, size, 0) != 0 || fchmod(fd, mode) != 0 || fsync(fd) != 0) {
                free(d);
                close(fd);
                if (ct_failed(c, cycle, "write+fsync", f->name))
                    return;
            }
            close(fd);
            f->data = d;
            f->size = size;
            f->mode = mode;
            f->live = 1;
            c->fsyncs++;
            ct_journal(c, "F %s %zu mode %o\n", f->name, size, (unsigned)mode);
            continue;
        }
        if (fst_path(&c->m, f->name, path, sizeof path))
            ct_die(c, cycle, "path");
        uint64_t what = ct_below(c, 10);
        if (what == 0) {
            /* Unlink: afterwards the file may or may not come back after a
             * crash, so it is no longer checked. */
            if (unlink(path) != 0 && ct_failed(c, cycle, "unlink", f->name))
                return;
            f->live = 0;
            free(f->data);
            f->data = NULL;
            ct_journal(c, "U %s\n", f->name);
            continue;
        }
        /* Overwrite (and maybe extend) a range, then fsync. */
        off_t off = (off_t)ct_below(c, f->size + 1);
        size_t len = (size_t)ct_below(c, 300000) + 1;
        if ((size_t)off + len > CT_MAXSIZE)
            len = CT_MAXSIZE - (size_t)off;
        if (len == 0)
            continue;
        f->p_data = malloc(len);
        if (!f->p_data)
            ct_die(c, cycle, "out of memory");
        ct_fill(c, f->p_data, len);
        f->p_off = off;
        f->p_len = len;
        f->pending = 1;
        int fd = open(path, O_WRONLY);
        if (fd < 0) {
            if (ct_failed(c, cycle, "open", f->name))
                return;
        }
        if (ct_write_all(fd, f->p_data, len, off) != 0 || fsync(fd) != 0) {
            close(fd);
            if (ct_failed(c, cycle, "overwrite+fsync", f->name))
                return;
        }
        close(fd);
        size_t nsize = (size_t)off + len > f->size ? (size_t)off + len : f->size;
        uint8_t *nd = realloc(f->data, nsize ? nsize : 1);
        if (!nd)
            ct_die(c, cycle, "out of memory");
        memcpy(nd + off, f->p_data, len);
        f->data = nd;
        f->size = nsize;
        free(f->p_data);
        f->p_data = NULL;
        f->pending = 0;
        c->fsyncs++;
        ct_journal(c, "M %s %lld %zu -> %zu\n", f->name, (long long)off, len, nsize);
    }
}

/* After the remount: every checked file holds its fsync'd content, or for
 * a change in flight, each byte of the changed range old, new (or zero
 * past the old end) and nothing else touched. */
static void ct_verify(struct ct *c, int cycle)
{
    char path[PATH_MAX];
    uint8_t *buf = malloc(CT_MAXSIZE + 1);
    if (!buf)
        ct_die(c, cycle, "out of memory");
    for (int i = 0; i < CT_MAXFILES; i++) {
        struct ct_file *f = &c->f[i];
        if (!f->live)
            continue;
        if (fst_path(&c->m, f->name, path, sizeof path))
            ct_die(c, cycle, "path");
        struct stat st;
        if (lstat(path, &st) != 0)
            ct_die(c, cycle, "fsync'd file %s missing after remount: %s", f->name, strerror(errno));
        if ((st.st_mode & 07777) != f->mode)
            ct_die(c, cycle, "%s: mode %o after remount, fsync'd %o", f->name,
                   (unsigned)(st.st_mode & 07777), (unsigned)f->mode);
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            ct_die(c, cycle, "fsync'd file %s cannot be opened after remount: %s", f->name,
                   strerror(errno));
        size_t n = 0;
        for (;;) {
            ssize_t r = pread(fd, buf + n, CT_MAXSIZE + 1 - n, (off_t)n);
            if (r < 0)
                ct_die(c, cycle, "read %s at %zu: %s", f->name, n, strerror(errno));
            if (r == 0 || n + (size_t)r > CT_MAXSIZE)
                break;
            n += (size_t)r;
        }
        close(fd);
        if (!f->pending) {
            if (n != f->size)
                ct_die(c, cycle, "%s: %zu bytes after remount, fsync'd %zu", f->name, n, f->size);
            if (memcmp(buf, f->data, n) != 0) {
                size_t k = 0;
                while (buf[k] == f->data[k])
                    k++;
                ct_die(c, cycle, "%s: fsync'd content differs at byte %zu of %zu", f->name, k, n);
            }
        } else {
            size_t lo = (size_t)f->p_off, hi = lo + f->p_len;
            size_t maxsize = hi > f->size ? hi : f->size;
            if (n < f->size || n > maxsize)
                ct_die(c, cycle, "%s: size %zu after a change in flight, want %zu..%zu", f->name, n,
                       f->size, maxsize);
            for (size_t k = 0; k < n; k++) {
                int in = k >= lo && k < hi;
                int ok = (k < f->size && buf[k] == f->data[k]) ||
                         (in && buf[k] == f->p_data[k - lo]) || (k >= f->size && buf[k] == 0);
                if (!ok)
                    ct_die(c, cycle, "%s: byte %zu is 0x%02x after a change in flight to [%zu,%zu)",
                           f->name, k, buf[k], lo, hi);
            }
            /* Adopt what is there as the new durable state. */
            uint8_t *nd = realloc(f->data, n ? n : 1);
            if (!nd)
                ct_die(c, cycle, "out of memory");
            memcpy(nd, buf, n);
            f->data = nd;
            f->size = n;
            free(f->p_data);
            f->p_data = NULL;
            f->pending = 0;
            c->pendings++;
        }
        c->checked_files++;
        c->checked_bytes += (long)n;
    }
    /* Everything else in the tree must at least read without errors. */
    DIR *d = opendir(c->m.mnt);
    if (!d)
        ct_die(c, cycle, "opendir after remount: %s", strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (fst_path(&c->m, e->d_name, path, sizeof path))
            continue;
        int fd = open(path, O_RDONLY);
        if (fd < 0)
            ct_die(c, cycle, "listed file %s cannot be opened: %s", e->d_name, strerror(errno));
        ssize_t r;
        off_t off = 0;
        while ((r = pread(fd, buf, CT_MAXSIZE, off)) > 0)
            off += r;
        if (r < 0)
            ct_die(c, cycle, "listed file %s: read error %s", e->d_name, strerror(errno));
        close(fd);
    }
    closedir(d);
    free(buf);
}

int main(int argc, char **argv)
{
    static struct ct ct;
    struct ct *c = &ct;
    c->cycles = 10;
    c->max_ms = 1500;
    c->journal = -1;
    c->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    const char *bin = NULL, *work = NULL;
    int o;
    c->stream_mb = 48;
    while ((o = getopt(argc, argv, "c:s:t:w:b:d:o:v")) != -1) {
        switch (o) {
        case 'c': c->cycles = atoi(optarg); break;
        case 's': c->seed = strtoull(optarg, NULL, 0); break;
        case 't': c->max_ms = (unsigned)atoi(optarg); break;
        case 'w': c->stream_mb = (unsigned)atoi(optarg); break;
        case 'b': bin = optarg; break;
        case 'd': work = optarg; break;
        case 'o': c->extra[0] = "-o"; c->extra[1] = optarg; break;
        case 'v': c->verbose = 1; break;
        default:
            fprintf(stderr, "usage: crashtest [-c CYCLES] [-s SEED] [-t MAX_MS] [-w STREAM_MB] "
                            "[-b FADEFS] [-d WORKDIR] [-o MOUNT_OPTS] [-v]\n");
            return 2;
        }
    }
    c->rng = c->seed * 0x9E3779B97F4A7C15ull + 7;
    if ((work && setenv("TMPDIR", work, 1) != 0) || (bin && setenv("FADEFS_BIN", bin, 1) != 0))
        return 2;
    int rc = fst_mount_init(&c->m, "crashtest");
    if (rc) {
        fprintf(stderr, "crashtest: %s\n", strerror(-rc));
        return 2;
    }
    /* A long run must not trip over a rebuild of the binary. */
    if (access(c->m.bin, X_OK) == 0 && fst_mount_pin_binary(&c->m) != 0)
        fprintf(stderr, "crashtest: could not copy %s; using it in place\n", c->m.bin);
    char jpath[PATH_MAX + 16];
    if (snprintf(jpath, sizeof jpath, "%s/journal", c->m.dir) < (int)sizeof jpath)
        c->journal = open(jpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (c->journal < 0) {
        ct_cleanup(c);
        return 2;
    }
    printf("crashtest: seed %" PRIu64 ", %d cycles, kill within %u ms\n", c->seed, c->cycles, c->max_ms);
    fflush(stdout);
    umask(022);
    for (int cycle = 0; cycle < c->cycles; cycle++) {
        rc = fst_mount_start(&c->m, c->extra);
        if (rc)
            ct_die(c, cycle, "mount: %s", c->m.why);
        if (cycle > 0) {
            ct_verify(c, cycle);
            ct_verify_stream(c, cycle);
        }
        c->delay_ms = (unsigned)ct_below(c, c->max_ms + 1);
        ct_journal(c, "cycle %d kill after %u ms\n", cycle, c->delay_ms);
        atomic_store(&c->killed, 0);
        c->victim = c->m.pid;
        pthread_t killer;
        if (pthread_create(&killer, NULL, ct_killer, c) != 0)
            ct_die(c, cycle, "pthread_create");
        pthread_t streamer;
        c->stream_cycle = cycle;
        if (c->stream_mb && pthread_create(&streamer, NULL, ct_streamer, c) != 0)
            ct_die(c, cycle, "pthread_create");
        ct_work(c, cycle);
        pthread_join(killer, NULL);
        if (c->stream_mb)
            pthread_join(streamer, NULL);
        fst_close_fds_under(c->m.mnt);
        rc = fst_mount_kill(&c->m);
        if (rc)
            ct_die(c, cycle, "could not detach the dead mount: %s", strerror(-rc));
        if (c->verbose)
            printf("crashtest: cycle %d killed after %u ms, %ld fsyncs so far\n", cycle, c->delay_ms,
                   c->fsyncs);
    }
    rc = fst_mount_start(&c->m, c->extra);
    if (rc)
        ct_die(c, c->cycles, "final mount: %s", c->m.why);
    ct_verify(c, c->cycles);
    ct_verify_stream(c, c->cycles);
    rc = fst_mount_stop(&c->m);
    if (rc)
        ct_die(c, c->cycles, "final unmount: %s", c->m.why);
    printf("crashtest: %d cycles, %ld fsync'd changes, %ld file checks (%ld bytes), "
           "%ld changes in flight at a kill, %ld MiB streamed (%ld MiB read back): "
           "all intact\n",
           c->cycles, c->fsyncs, c->checked_files, c->checked_bytes, c->pendings,
           c->streamed_mb, c->stream_checked);
    ct_cleanup(c);
    return 0;
}
