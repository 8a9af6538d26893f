/* fsmodel.c — model-based random exerciser: applies the same random
 * sequence of file and directory operations to a fadefs mount and to a
 * mirror in an ordinary directory, and compares results, errors, contents,
 * sizes and listings after every step.
 *
 *   fsmodel [-n OPS] [-s SEED] [-r REMOUNT_EVERY] [-f FULL_EVERY]
 *           [-b FADEFS] [-d WORKDIR] [-o MOUNT_OPTS] [-S MAX_STORE_MB] [-v]
 *   fsmodel -A DIR_A -B DIR_B [...]     compare two ordinary directories
 *
 * The ordinary directory (ext4, tmpfs...) is the model.  On a mismatch it
 * prints the seed, the failing op and the ops before it, and exits 1; the
 * same -s reproduces the run.  Remounts (-r) also check that everything
 * written survives an unmount.  -S fails the run when the store grows past
 * MAX_STORE_MB (checked at each remount), which keeps a store that never
 * reclaims overwritten blocks from filling the disk.
 */
#include "tests/common/mount.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FM_SLOTS    4
#define FM_MAXSIZE  (6u << 20)     /* keep files small enough to compare often */
#define FM_HIST     24

struct fm_slot {
    int  fa, fb;          /* descriptors on side A and B, -1 if closed */
    char path[128];
};

struct fm {
    char a[PATH_MAX], b[PATH_MAX];   /* the two roots */
    struct fst_mount m;              /* A's mount, if any */
    int  mounted;
    uint64_t rng;
    uint64_t seed;
    long op, nops, remount_every, full_every, max_store_mb;
    int  verbose;
    const char *extra[3];            /* {"-o", MOUNT_OPTS, NULL} or {NULL} */
    struct fm_slot slot[FM_SLOTS];
    char hist[FM_HIST][160];
    char cur[160];
    uint8_t *ba, *bb, *wbuf;         /* scratch buffers */
};

static uint64_t fm_rand(struct fm *f)
{
    uint64_t x = f->rng;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    f->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t fm_below(struct fm *f, uint64_t n) { return n ? fm_rand(f) % n : 0; }

static void fm_note(struct fm *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fm_note(struct fm *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->cur, sizeof f->cur, fmt, ap);
    va_end(ap);
    if (snprintf(f->hist[f->op % FM_HIST], sizeof f->hist[0], "%ld: %s", f->op, f->cur) < 0)
        f->hist[f->op % FM_HIST][0] = '\0';
    if (f->verbose)
        fprintf(stderr, "%ld: %s\n", f->op, f->cur);
}

static void fm_cleanup(struct fm *f)
{
    for (int i = 0; i < FM_SLOTS; i++) {
        if (f->slot[i].fa >= 0)
            close(f->slot[i].fa);
        if (f->slot[i].fb >= 0)
            close(f->slot[i].fb);
        f->slot[i].fa = f->slot[i].fb = -1;
    }
    if (f->mounted)
        fst_mount_fini(&f->m);
}

static void fm_fail(struct fm *f, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fm_fail(struct fm *f, const char *fmt, ...)
{
    fprintf(stderr, "fsmodel: MISMATCH at op %ld (seed %" PRIu64 "): %s\n  ", f->op, f->seed, f->cur);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nfsmodel: previous ops:\n");
    for (long i = f->op - FM_HIST + 1; i <= f->op; i++)
        if (i >= 0)
            fprintf(stderr, "  %s\n", f->hist[i % FM_HIST]);
    fprintf(stderr, "fsmodel: reproduce with -s %" PRIu64 " -n %ld%s\n", f->seed, f->op + 1,
            f->mounted ? "" : " (directory mode)");
    if (f->mounted) {
        fst_mount_dump_log(&f->m, "fsmodel");
        if (getenv("FST_KEEP"))
            fprintf(stderr, "fsmodel: kept %s\n", f->m.dir);
    }
    fm_cleanup(f);
    exit(1);
}

/* ---- paths ---- */

static const char *const fm_parents[] = { "", "d0", "d1", "d2", "d0/d1", "d1/d0", "d2/d2" };
static const char *const fm_names[] = { "f0", "f1", "f2", "f3", "f4", "d0", "d1", "d2" };

static void fm_pick(struct fm *f, char *out, size_t cap)
{
    const char *p = fm_parents[fm_below(f, sizeof fm_parents / sizeof fm_parents[0])];
    /* Files are more common than dirs among the names. */
    const char *n = fm_names[fm_below(f, 4) == 0 ? 5 + fm_below(f, 3) : fm_below(f, 5)];
    snprintf(out, cap, "%s%s%s", p, *p ? "/" : "", n);
}

static void fm_join(char *out, size_t cap, const char *root, const char *rel)
{
    if (snprintf(out, cap, "%s/%s", root, rel) >= (int)cap) {
        fprintf(stderr, "fsmodel: path too long\n");
        exit(2);
    }
}

/* ---- comparison ---- */

static int fm_errno_eq(int x, int y)
{
    if (x == y)
        return 1;
    /* POSIX allows either for a non-empty directory. */
    return (x == ENOTEMPTY || x == EEXIST) && (y == ENOTEMPTY || y == EEXIST);
}

/* Both sides returned ra/rb with errno ea/eb; they must agree. */
static void fm_same_result(struct fm *f, const char *what, long ra, int ea, long rb, int eb)
{
    if ((ra < 0) != (rb < 0))
        fm_fail(f, "%s: fadefs returned %ld (%s), model %ld (%s)", what, ra,
                ra < 0 ? strerror(ea) : "ok", rb, rb < 0 ? strerror(eb) : "ok");
    if (ra < 0 && !fm_errno_eq(ea, eb))
        fm_fail(f, "%s: fadefs errno %s, model errno %s", what, strerror(ea), strerror(eb));
    if (ra >= 0 && ra != rb)
        fm_fail(f, "%s: fadefs returned %ld, model %ld", what, ra, rb);
}

static int fm_read_all(int fd, uint8_t *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    for (;;) {
        if (n == cap)
            return -EFBIG;
        ssize_t r = pread(fd, buf + n, cap - n, (off_t)n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *len = n;
    return 0;
}

static int fm_cmp_names(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static int fm_list(const char *dir, char ***out, int *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return -errno;
    char **v = NULL;
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char **nv = realloc(v, sizeof *v * (size_t)(k + 1));
        if (!nv)
            break;
        v = nv;
        v[k++] = strdup(e->d_name);
    }
    closedir(d);
    if (k > 1)
        qsort(v, (size_t)k, sizeof *v, fm_cmp_names);
    *out = v;
    *n = k;
    return 0;
}

static void fm_free_list(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Compares one path on both sides (recursively for dirs if deep). */
static void fm_compare(struct fm *f, const char *rel, int deep)
{
    char pa[PATH_MAX], pb[PATH_MAX];
    fm_join(pa, sizeof pa, f->a, rel);
    fm_join(pb, sizeof pb, f->b, rel);
    struct stat sa, sb;
    int ra = lstat(pa, &sa), ea = errno;
    int rb = lstat(pb, &sb), eb = errno;
    fm_same_result(f, "lstat", ra, ea, rb, eb);
    if (ra < 0)
        return;
    if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT))
        fm_fail(f, "%s: type %o vs model %o", rel, sa.st_mode & S_IFMT, sb.st_mode & S_IFMT);
    if ((sa.st_mode & 07777) != (sb.st_mode & 07777))
        fm_fail(f, "%s: mode %o vs model %o", rel, sa.st_mode & 07777, sb.st_mode & 07777);
    if (S_ISREG(sa.st_mode)) {
        if (sa.st_size != sb.st_size)
            fm_fail(f, "%s: size %lld vs model %lld", rel, (long long)sa.st_size, (long long)sb.st_size);
        if (sa.st_nlink != sb.st_nlink)
            fm_fail(f, "%s: nlink %lu vs model %lu", rel, (unsigned long)sa.st_nlink,
                    (unsigned long)sb.st_nlink);
        int fa = open(pa, O_RDONLY), fb = open(pb, O_RDONLY);
        if (fa < 0 || fb < 0)
            fm_fail(f, "%s: open for compare: %s", rel, strerror(errno));
        size_t la = 0, lb = 0;
        int xa = fm_read_all(fa, f->ba, FM_MAXSIZE + 1, &la);
        int xb = fm_read_all(fb, f->bb, FM_MAXSIZE + 1, &lb);
        close(fa);
        close(fb);
        if (xa < 0)
            fm_fail(f, "%s: read on fadefs: %s", rel, strerror(-xa));
        if (xb < 0)
            fm_fail(f, "%s: read on model: %s", rel, strerror(-xb));
        if (la != lb)
            fm_fail(f, "%s: read %zu bytes vs model %zu", rel, la, lb);
        if (memcmp(f->ba, f->bb, la) != 0) {
            size_t i = 0;
            while (f->ba[i] == f->bb[i])
                i++;
            fm_fail(f, "%s: content differs first at byte %zu (0x%02x vs model 0x%02x), size %zu",
                    rel, i, f->ba[i], f->bb[i], la);
        }
    } else if (S_ISDIR(sa.st_mode)) {
        char **la, **lb;
        int na, nb;
        if (fm_list(pa, &la, &na) || fm_list(pb, &lb, &nb))
            fm_fail(f, "%s: opendir: %s", rel, strerror(errno));
        int same = na == nb;
        for (int i = 0; same && i < na; i++)
            same = strcmp(la[i], lb[i]) == 0;
        if (!same) {
            char sa_[512] = "", sb_[512] = "";
            for (int i = 0; i < na; i++)
                snprintf(sa_ + strlen(sa_), sizeof sa_ - strlen(sa_), "%s ", la[i]);
            for (int i = 0; i < nb; i++)
                snprintf(sb_ + strlen(sb_), sizeof sb_ - strlen(sb_), "%s ", lb[i]);
            fm_fail(f, "%s: listing [%s] vs model [%s]", rel[0] ? rel : ".", sa_, sb_);
        }
        if (deep)
            for (int i = 0; i < na; i++) {
                char sub[PATH_MAX];
                snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", la[i]);
                fm_compare(f, sub, 1);
            }
        fm_free_list(la, na);
        fm_free_list(lb, nb);
    } else if (S_ISLNK(sa.st_mode)) {
        char ta[PATH_MAX], tb[PATH_MAX];
        ssize_t na = readlink(pa, ta, sizeof ta), nb = readlink(pb, tb, sizeof tb);
        if (na != nb || na < 0 || memcmp(ta, tb, (size_t)na) != 0)
            fm_fail(f, "%s: symlink target differs", rel);
    }
}

/* Compares rel and its parent's listing. */
static void fm_compare_around(struct fm *f, const char *rel)
{
    fm_compare(f, rel, 0);
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s", rel);
    char *s = strrchr(parent, '/');
    if (s)
        *s = '\0';
    else
        parent[0] = '\0';
    fm_compare(f, parent, 0);
}

/* ---- store size ---- */

static long long fm_du_total;
static int fm_du_cb(const char *p, const struct stat *st, int type, struct FTW *w)
{
    (void)p; (void)w;
    if (type == FTW_F)
        fm_du_total += (long long)st->st_blocks * 512;
    return 0;
}

static long long fm_du(const char *dir)
{
    fm_du_total = 0;
    if (nftw(dir, fm_du_cb, 16, FTW_PHYS) != 0)
        return -1;
    return fm_du_total;
}

/* ---- remount ---- */

static void fm_close_slots(struct fm *f)
{
    for (int i = 0; i < FM_SLOTS; i++) {
        if (f->slot[i].fa >= 0) {
            int ra = close(f->slot[i].fa), ea = errno;
            int rb = close(f->slot[i].fb), eb = errno;
            fm_same_result(f, "close", ra, ea, rb, eb);
        }
        f->slot[i].fa = f->slot[i].fb = -1;
    }
}

static void fm_remount(struct fm *f)
{
    fm_note(f, "remount");
    fm_close_slots(f);
    if (!f->mounted)
        return;
    int rc = fst_mount_stop(&f->m);
    if (rc)
        fm_fail(f, "unmount failed: %s", f->m.why);
    long long store = fm_du(f->m.store), model = fm_du(f->b);
    if (f->verbose)
        printf("fsmodel: op %ld: store %lld MiB, model %lld MiB\n", f->op, store >> 20, model >> 20);
    if (f->max_store_mb > 0 && store > (long long)f->max_store_mb << 20)
        fm_fail(f, "the store grew to %lld MiB for %lld MiB of live data (limit -S %ld)",
                store >> 20, model >> 20, f->max_store_mb);
    rc = fst_mount_start(&f->m, f->extra);
    if (rc)
        fm_fail(f, "remount failed: %s", f->m.why);
    fm_compare(f, "", 1);
}

/* ---- operations ---- */

#define BOTH(call_a, call_b, what)                                   \
    do {                                                             \
        errno = 0; long r_a_ = (long)(call_a); int e_a_ = errno;     \
        errno = 0; long r_b_ = (long)(call_b); int e_b_ = errno;     \
        fm_same_result(f, what, r_a_, e_a_, r_b_, e_b_);             \
    } while (0)

static void fm_gen(struct fm *f, uint8_t *buf, size_t n)
{
    /* Mix of compressible text-like runs and random bytes. */
    uint64_t kind = fm_below(f, 4);
    for (size_t i = 0; i < n; i++) {
        if (kind == 0)
            buf[i] = (uint8_t)fm_rand(f);
        else if (kind == 1)
            buf[i] = (uint8_t)('a' + (i * 7 + f->op) % 26);
        else if (kind == 2)
            buf[i] = (uint8_t)(f->op + i / 512);
        else
            buf[i] = (uint8_t)(i % 64 == 63 ? '\n' : "the quick brown fox "[i % 20]);
    }
}

static uint64_t fm_offset(struct fm *f)
{
    switch (fm_below(f, 6)) {
    case 0: return 0;
    case 1: return fm_below(f, 4096);
    case 2: return (fm_below(f, 40) + 1) * 65536 - fm_below(f, 3) * 7;   /* around block edges */
    case 3: return fm_below(f, 1u << 20);
    case 4: return fm_below(f, 4u << 20);
    default: return fm_below(f, 300000);
    }
}

static size_t fm_length(struct fm *f)
{
    switch (fm_below(f, 5)) {
    case 0: return (size_t)fm_below(f, 16) + 1;
    case 1: return (size_t)fm_below(f, 4096) + 1;
    case 2: return 65536;
    case 3: return (size_t)fm_below(f, 300000) + 1;
    default: return (size_t)fm_below(f, 20000) + 1;
    }
}

static void fm_op_write(struct fm *f, const char *rel, int append)
{
    char pa[PATH_MAX], pb[PATH_MAX];
    fm_join(pa, sizeof pa, f->a, rel);
    fm_join(pb, sizeof pb, f->b, rel);
    uint64_t off = fm_offset(f);
    size_t len = fm_length(f);
    if (off + len > FM_MAXSIZE)
        off = FM_MAXSIZE - len;
    fm_gen(f, f->wbuf, len);
    int flags = O_WRONLY | O_CREAT | (append ? O_APPEND : 0);
    fm_note(f, "%s %s off=%" PRIu64 " len=%zu", append ? "append" : "pwrite", rel, off, len);
    errno = 0;
    int fa = open(pa, flags, 0644), ea = errno;
    errno = 0;
    int fb = open(pb, flags, 0644), eb = errno;
    fm_same_result(f, "open", fa < 0 ? -1 : 0, ea, fb < 0 ? -1 : 0, eb);
    if (fa < 0)
        return;
    struct stat st;
    if (append && fstat(fb, &st) == 0 && (uint64_t)st.st_size + len > FM_MAXSIZE) {
        close(fa);
        close(fb);
        return;
    }
    if (append)
        BOTH(write(fa, f->wbuf, len), write(fb, f->wbuf, len), "write");
    else
        BOTH(pwrite(fa, f->wbuf, len, (off_t)off), pwrite(fb, f->wbuf, len, (off_t)off), "pwrite");
    if (fm_below(f, 8) == 0)
        BOTH(fsync(fa), fsync(fb), "fsync");
    BOTH(close(fa), close(fb), "close");
    fm_compare_around(f, rel);
}

static void fm_op_truncate(struct fm *f, const char *rel)
{
    char pa[PATH_MAX], pb[PATH_MAX];
    fm_join(pa, sizeof pa, f->a, rel);
    fm_join(pb, sizeof pb, f->b, rel);
    off_t len = (off_t)(fm_below(f, 3) == 0 ? 0 : fm_offset(f));
    fm_note(f, "truncate %s %lld", rel, (long long)len);
    BOTH(truncate(pa, len), truncate(pb, len), "truncate");
    fm_compare_around(f, rel);
}

static void fm_op_read(struct fm *f, const char *rel)
{
    char pa[PATH_MAX], pb[PATH_MAX];
    fm_join(pa, sizeof pa, f->a, rel);
    fm_join(pb, sizeof pb, f->b, rel);
    uint64_t off = fm_offset(f);
    size_t len = fm_length(f);
    fm_note(f, "read %s off=%" PRIu64 " len=%zu", rel, off, len);
    errno = 0;
    int fa = open(pa, O_RDONLY), ea = errno;
    errno = 0;
    int fb = open(pb, O_RDONLY), eb = errno;
    fm_same_result(f, "open", fa < 0 ? -1 : 0, ea, fb < 0 ? -1 : 0, eb);
    if (fa < 0)
        return;
    errno = 0;
    ssize_t ra = pread(fa, f->ba, len, (off_t)off);
    ea = errno;
    errno = 0;
    ssize_t rb = pread(fb, f->bb, len, (off_t)off);
    eb = errno;
    fm_same_result(f, "pread", ra, ea, rb, eb);
    if (ra > 0 && memcmp(f->ba, f->bb, (size_t)ra) != 0)
        fm_fail(f, "pread returned different bytes");
    close(fa);
    close(fb);
}

static void fm_op_mmap(struct fm *f, const char *rel, int write)
{
    char pa[PATH_MAX], pb[PATH_MAX];
    fm_join(pa, sizeof pa, f->a, rel);
    fm_join(pb, sizeof pb, f->b, rel);
    int fa = open(pa, write ? O_RDWR : O_RDONLY), fb = open(pb, write ? O_RDWR : O_RDONLY);
    if ((fa < 0) != (fb < 0))
        fm_fail(f, "open for mmap: fadefs %d, model %d", fa, fb);
    if (fa < 0)
        return;
    struct stat st;
    if (fstat(fb, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
        close(fa);
        close(fb);
        return;
    }
    size_t size = (size_t)st.st_size;
    size_t off = (size_t)fm_below(f, size), len = fm_length(f);
    if (len > size - off)
        len = size - off;
    fm_note(f, "mmap-%s %s off=%zu len=%zu size=%zu", write ? "write" : "read", rel, off, len, size);
    int prot = PROT_READ | (write ? PROT_WRITE : 0);
    uint8_t *ma = mmap(NULL, size, prot, MAP_SHARED, fa, 0);
    if (ma == MAP_FAILED)
        fm_fail(f, "mmap on fadefs: %s", strerror(errno));
    uint8_t *mb = mmap(NULL, size, prot, MAP_SHARED, fb, 0);
    if (mb == MAP_FAILED)
        fm_fail(f, "mmap on model: %s", strerror(errno));
    if (write) {
        fm_gen(f, f->wbuf, len);
        memcpy(ma + off, f->wbuf, len);
        memcpy(mb + off, f->wbuf, len);
        if (msync(ma, size, MS_SYNC) != 0)
            fm_fail(f, "msync on fadefs: %s", strerror(errno));
        msync(mb, size, MS_SYNC);
    } else if (memcmp(ma + off, mb + off, len) != 0) {
        fm_fail(f, "mmap read differs");
    }
    munmap(ma, size);
    munmap(mb, size);
    close(fa);
    close(fb);
    if (write)
        fm_compare(f, rel, 0);
}

static void fm_op_rename(struct fm *f, const char *from, const char *to)
{
    char a1[PATH_MAX], a2[PATH_MAX], b1[PATH_MAX], b2[PATH_MAX];
    fm_join(a1, sizeof a1, f->a, from);
    fm_join(a2, sizeof a2, f->a, to);
    fm_join(b1, sizeof b1, f->b, from);
    fm_join(b2, sizeof b2, f->b, to);
    static const unsigned flags_v[] = { 0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE };
    unsigned flags = flags_v[fm_below(f, 4)];
    fm_note(f, "rename %s -> %s flags=%u", from, to, flags);
    BOTH(syscall(SYS_renameat2, AT_FDCWD, a1, AT_FDCWD, a2, flags),
         syscall(SYS_renameat2, AT_FDCWD, b1, AT_FDCWD, b2, flags), "renameat2");
    fm_compare_around(f, from);
    fm_compare_around(f, to);
}

static void fm_slot_op(struct fm *f, const char *rel)
{
    int i = (int)fm_below(f, FM_SLOTS);
    struct fm_slot *s = &f->slot[i];
    if (s->fa < 0) {
        char pa[PATH_MAX], pb[PATH_MAX];
        fm_join(pa, sizeof pa, f->a, rel);
        fm_join(pb, sizeof pb, f->b, rel);
        fm_note(f, "slot %d open %s", i, rel);
        errno = 0;
        int fa = open(pa, O_RDWR | O_CREAT, 0600), ea = errno;
        errno = 0;
        int fb = open(pb, O_RDWR | O_CREAT, 0600), eb = errno;
        fm_same_result(f, "open", fa < 0 ? -1 : 0, ea, fb < 0 ? -1 : 0, eb);
        if (fa >= 0) {
            s->fa = fa;
            s->fb = fb;
            snprintf(s->path, sizeof s->path, "%s", rel);
        }
        return;
    }
    /* Ops on an open descriptor: its file may since have been renamed or
     * unlinked, which is exactly what this is for. */
    switch (fm_below(f, 5)) {
    case 0:
        fm_note(f, "slot %d close (%s)", i, s->path);
        BOTH(close(s->fa), close(s->fb), "close");
        s->fa = s->fb = -1;
        break;
    case 1: {
        uint64_t off = fm_offset(f);
        size_t len = fm_length(f);
        if (off + len > FM_MAXSIZE)
            off = FM_MAXSIZE - len;
        fm_gen(f, f->wbuf, len);
        fm_note(f, "slot %d pwrite off=%" PRIu64 " len=%zu (%s)", i, off, len, s->path);
        BOTH(pwrite(s->fa, f->wbuf, len, (off_t)off), pwrite(s->fb, f->wbuf, len, (off_t)off), "pwrite");
        break;
    }
    case 2: {
        uint64_t off = fm_offset(f);
        size_t len = fm_length(f);
        fm_note(f, "slot %d pread off=%" PRIu64 " len=%zu (%s)", i, off, len, s->path);
        errno = 0;
        ssize_t ra = pread(s->fa, f->ba, len, (off_t)off);
        int ea = errno;
        errno = 0;
        ssize_t rb = pread(s->fb, f->bb, len, (off_t)off);
        fm_same_result(f, "pread", ra, ea, rb, errno);
        if (ra > 0 && memcmp(f->ba, f->bb, (size_t)ra) != 0)
            fm_fail(f, "pread on open descriptor returned different bytes");
        break;
    }
    case 3: {
        off_t len = (off_t)fm_offset(f);
        fm_note(f, "slot %d ftruncate %lld (%s)", i, (long long)len, s->path);
        BOTH(ftruncate(s->fa, len), ftruncate(s->fb, len), "ftruncate");
        break;
    }
    default: {
        fm_note(f, "slot %d fsync+fstat (%s)", i, s->path);
        BOTH(fsync(s->fa), fsync(s->fb), "fsync");
        struct stat sa, sb;
        BOTH(fstat(s->fa, &sa), fstat(s->fb, &sb), "fstat");
        if (sa.st_size != sb.st_size)
            fm_fail(f, "fstat size %lld vs model %lld", (long long)sa.st_size, (long long)sb.st_size);
        if (sa.st_nlink != sb.st_nlink)
            fm_fail(f, "fstat nlink %lu vs model %lu", (unsigned long)sa.st_nlink,
                    (unsigned long)sb.st_nlink);
        break;
    }
    }
}

static void fm_step(struct fm *f)
{
    char p1[128], p2[128], a1[PATH_MAX], b1[PATH_MAX], a2[PATH_MAX], b2[PATH_MAX];
    fm_pick(f, p1, sizeof p1);
    fm_pick(f, p2, sizeof p2);
    fm_join(a1, sizeof a1, f->a, p1);
    fm_join(b1, sizeof b1, f->b, p1);
    fm_join(a2, sizeof a2, f->a, p2);
    fm_join(b2, sizeof b2, f->b, p2);
    uint64_t k = fm_below(f, 100);
    if (k < 22) {
        fm_op_write(f, p1, 0);
    } else if (k < 26) {
        fm_op_write(f, p1, 1);
    } else if (k < 34) {
        fm_op_truncate(f, p1);
    } else if (k < 44) {
        fm_op_read(f, p1);
    } else if (k < 48) {
        fm_op_mmap(f, p1, 0);
    } else if (k < 52) {
        fm_op_mmap(f, p1, 1);
    } else if (k < 58) {
        fm_op_rename(f, p1, p2);
    } else if (k < 63) {
        fm_note(f, "unlink %s", p1);
        BOTH(unlink(a1), unlink(b1), "unlink");
        fm_compare_around(f, p1);
    } else if (k < 67) {
        fm_note(f, "rmdir %s", p1);
        BOTH(rmdir(a1), rmdir(b1), "rmdir");
        fm_compare_around(f, p1);
    } else if (k < 73) {
        fm_note(f, "mkdir %s", p1);
        BOTH(mkdir(a1, 0755), mkdir(b1, 0755), "mkdir");
        fm_compare_around(f, p1);
    } else if (k < 78) {
        mode_t mode = (mode_t)(0600 | fm_below(f, 0100));
        fm_note(f, "create-excl %s mode %o", p1, mode);
        errno = 0;
        int fa = open(a1, O_WRONLY | O_CREAT | O_EXCL, mode), ea = errno;
        errno = 0;
        int fb = open(b1, O_WRONLY | O_CREAT | O_EXCL, mode), eb = errno;
        fm_same_result(f, "open O_EXCL", fa < 0 ? -1 : 0, ea, fb < 0 ? -1 : 0, eb);
        if (fa >= 0) {
            close(fa);
            close(fb);
        }
        fm_compare_around(f, p1);
    } else if (k < 80) {
        fm_note(f, "open O_TRUNC %s", p1);
        errno = 0;
        int fa = open(a1, O_WRONLY | O_TRUNC), ea = errno;
        errno = 0;
        int fb = open(b1, O_WRONLY | O_TRUNC), eb = errno;
        fm_same_result(f, "open O_TRUNC", fa < 0 ? -1 : 0, ea, fb < 0 ? -1 : 0, eb);
        if (fa >= 0) {
            close(fa);
            close(fb);
        }
        fm_compare_around(f, p1);
    } else if (k < 83) {
        fm_note(f, "link %s -> %s", p1, p2);
        BOTH(link(a1, a2), link(b1, b2), "link");
        fm_compare_around(f, p1);
        fm_compare_around(f, p2);
    } else if (k < 85) {
        fm_note(f, "fsync %s", p1);
        int fa = open(a1, O_RDONLY), fb = open(b1, O_RDONLY);
        if ((fa < 0) != (fb < 0))
            fm_fail(f, "open for fsync: fadefs %d, model %d", fa, fb);
        if (fa >= 0) {
            BOTH(fsync(fa), fsync(fb), "fsync");
            close(fa);
            close(fb);
        }
    } else if (k < 87) {
        mode_t mode = (mode_t)(fm_below(f, 01000) | 0400);
        fm_note(f, "chmod %s %o", p1, mode);
        BOTH(chmod(a1, mode), chmod(b1, mode), "chmod");
        fm_compare(f, p1, 0);
    } else {
        fm_slot_op(f, p1);
    }
}

static void fm_usage(void)
{
    fprintf(stderr,
            "usage: fsmodel [-n OPS] [-s SEED] [-r REMOUNT_EVERY] [-f FULL_EVERY]\n"
            "               [-b FADEFS] [-d WORKDIR] [-o MOUNT_OPTS] [-S MAX_STORE_MB] [-v]\n"
            "       fsmodel -A DIR_A -B DIR_B [-n OPS] [-s SEED]   (two ordinary directories)\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static struct fm fm;
    struct fm *f = &fm;
    f->nops = 10000;
    f->full_every = 50;
    f->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
    const char *bin = NULL, *work = NULL, *dira = NULL, *dirb = NULL;
    int c;
    while ((c = getopt(argc, argv, "n:s:r:f:b:d:o:S:A:B:v")) != -1) {
        switch (c) {
        case 'n': f->nops = atol(optarg); break;
        case 's': f->seed = strtoull(optarg, NULL, 0); break;
        case 'r': f->remount_every = atol(optarg); break;
        case 'f': f->full_every = atol(optarg); break;
        case 'b': bin = optarg; break;
        case 'd': work = optarg; break;
        case 'o': f->extra[0] = "-o"; f->extra[1] = optarg; break;
        case 'S': f->max_store_mb = atol(optarg); break;
        case 'A': dira = optarg; break;
        case 'B': dirb = optarg; break;
        case 'v': f->verbose = 1; break;
        default: fm_usage();
        }
    }
    if ((dira == NULL) != (dirb == NULL))
        fm_usage();
    for (int i = 0; i < FM_SLOTS; i++)
        f->slot[i].fa = f->slot[i].fb = -1;
    f->rng = f->seed * 0x9E3779B97F4A7C15ull + 1;
    f->ba = malloc(FM_MAXSIZE + 1);
    f->bb = malloc(FM_MAXSIZE + 1);
    f->wbuf = malloc(FM_MAXSIZE + 1);
    if (!f->ba || !f->bb || !f->wbuf)
        return 2;
    printf("fsmodel: seed %" PRIu64 ", %ld ops, remount every %ld%s%s\n", f->seed, f->nops,
           f->remount_every, f->extra[1] ? ", -o " : "", f->extra[1] ? f->extra[1] : "");
    fflush(stdout);

    char modeldir[PATH_MAX] = "";
    if (dira) {
        if (snprintf(f->a, sizeof f->a, "%s", dira) >= (int)sizeof f->a ||
            snprintf(f->b, sizeof f->b, "%s", dirb) >= (int)sizeof f->b)
            fm_usage();
    } else {
        if (work && setenv("TMPDIR", work, 1) != 0)
            return 2;
        if (bin && setenv("FADEFS_BIN", bin, 1) != 0)
            return 2;
        int rc = fst_mount_init(&f->m, "fsmodel");
        if (rc) {
            fprintf(stderr, "fsmodel: %s\n", strerror(-rc));
            return 2;
        }
        f->mounted = 1;
        /* A long run must not trip over a rebuild of the binary. */
        if (access(f->m.bin, X_OK) == 0 && fst_mount_pin_binary(&f->m) != 0)
            fprintf(stderr, "fsmodel: could not copy %s; using it in place\n", f->m.bin);
        rc = fst_mount_start(&f->m, f->extra);
        if (rc) {
            fprintf(stderr, "fsmodel: cannot mount: %s\n", f->m.why);
            fst_mount_dump_log(&f->m, "fsmodel");
            fm_cleanup(f);
            return 2;
        }
        if (snprintf(f->a, sizeof f->a, "%s", f->m.mnt) >= (int)sizeof f->a ||
            snprintf(modeldir, sizeof modeldir, "%s/model", f->m.dir) >= (int)sizeof modeldir ||
            mkdir(modeldir, 0755) != 0) {
            fm_cleanup(f);
            return 2;
        }
        memcpy(f->b, modeldir, sizeof f->b);
    }
    /* The model must apply the same modes as the mount. */
    umask(022);
    for (f->op = 0; f->op < f->nops; f->op++) {
        snprintf(f->hist[f->op % FM_HIST], sizeof f->hist[0], "%ld: (nothing to do)", f->op);
        if (f->remount_every > 0 && f->op > 0 && f->op % f->remount_every == 0)
            fm_remount(f);
        else
            fm_step(f);
        if (f->full_every > 0 && f->op % f->full_every == 0)
            fm_compare(f, "", 1);
        if (f->op > 0 && f->op % 100000 == 0) {
            printf("fsmodel: %ld ops ok\n", f->op);
            fflush(stdout);
        }
    }
    fm_note(f, "final check");
    fm_close_slots(f);
    fm_compare(f, "", 1);
    if (f->mounted) {
        fm_remount(f);
        int rc = fst_mount_stop(&f->m);
        if (rc)
            fm_fail(f, "final unmount: %s", f->m.why);
        fst_mount_fini(&f->m);
    }
    printf("fsmodel: %ld ops, seed %" PRIu64 ": all matched\n", f->nops, f->seed);
    free(f->ba);
    free(f->bb);
    free(f->wbuf);
    return 0;
}
