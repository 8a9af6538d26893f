/* seg.c — segment files: create, append, sync, verified read, retire. */
#include "index/seg.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/crc32c.h"

static int sys_openat(int dirfd, const char *name, int flags, mode_t mode)
{
    return openat(dirfd, name, flags, mode);
}

static int sys_sync_file_range(int fd, off_t off, off_t n, unsigned flags)
{
    return sync_file_range(fd, off, n, flags);
}

static int sys_fadvise(int fd, off_t off, off_t n, int advice)
{
    return posix_fadvise(fd, off, n, advice);
}

const struct seg_sys seg_sys_default = {
    .version   = 3,
    .openat    = sys_openat,
    .pwrite    = pwrite,
    .preadv    = preadv,
    .fdatasync = fdatasync,
    .fsync     = fsync,
    .ftruncate = ftruncate,
    .unlinkat  = unlinkat,
    .sync_file_range = sys_sync_file_range,
    .fadvise   = sys_fadvise,
};

/* Appended bytes after which writeback of the tail is started, so that the
 * disk writes while the writer goes on (the fdatasync before a commit then
 * waits only for the rest). */
#define SEG_KICK_BYTES (1u << 20)

/* The cache keeps at most this many read descriptors open; a store of many
 * segments must not eat the process's descriptor limit, which fs/ shares. */
#define SEG_FD_CACHE 64

void seg_store_init(struct seg_store *st, int dirfd, uint64_t segment_max,
                    const struct seg_sys *sys)
{
    memset(st, 0, sizeof *st);
    st->sys = sys ? sys : &seg_sys_default;
    st->dirfd = dirfd;
    st->segment_max = segment_max ? segment_max : SEG_MAX_DEFAULT;
    st->wfd = -1;
    st->cap_fds = SEG_FD_CACHE;
    pthread_mutex_init(&st->mu, NULL);
}

void seg_store_fini(struct seg_store *st)
{
    if (st->wfd >= 0)
        close(st->wfd);
    st->wfd = -1;
    for (int i = 0; i < st->n_fds; i++)
        close(st->fds[i].fd);
    free(st->fds);
    st->fds = NULL;
    st->n_fds = 0;
    if (st->dirfd >= 0) {
        close(st->dirfd);
        pthread_mutex_destroy(&st->mu);
    }
    st->dirfd = -1;
}

void seg_name(char out[SEG_NAME_LEN], uint64_t id)
{
    snprintf(out, SEG_NAME_LEN, "%016" PRIx64 ".seg", id);
}

uint64_t seg_parse_name(const char *name)
{
    uint64_t id = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return 0;
        id = id << 4 | d;
    }
    return strcmp(name + 16, ".seg") == 0 ? id : 0;
}

/* Writes all n bytes at off; a short write is retried, an error returned. */
static int write_full(const struct seg_sys *sys, int fd, const void *buf,
                      size_t n, uint64_t off)
{
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t w = sys->pwrite(fd, p, n, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Every inconsistency found in a segment goes through here: one place for
 * a breakpoint, and the line says which check failed. */
__attribute__((noinline, cold)) static int seg_corrupt(int line)
{
    (void)line;
    return -EIO;
}
#define SEG_CORRUPT() seg_corrupt(__LINE__)

/* Disk-full conditions all read as ENOSPC to the caller: for the store,
 * a per-file size limit is as final as a full disk. */
static int space_err(int rc)
{
    return (rc == -EDQUOT || rc == -EFBIG) ? -ENOSPC : rc;
}

void seg_rec_encode(unsigned char *h, const struct seg_rec *rec)
{
    seg_put32(h + 0, SEG_REC_MAGIC);
    seg_put32(h + 4, rec->codec);
    seg_put64(h + 8, rec->ino);
    seg_put64(h + 16, rec->blkno);
    seg_put32(h + 24, rec->raw_len);
    seg_put32(h + 28, rec->len);
    seg_put32(h + 32, rec->crc32c);
    seg_put32(h + 36, fade_crc32c(0, h, 36));
}

int seg_rec_decode(const unsigned char *h, struct seg_rec *rec)
{
    if (seg_get32(h) != SEG_REC_MAGIC)
        return SEG_CORRUPT();
    if (seg_get32(h + 36) != fade_crc32c(0, h, 36))
        return SEG_CORRUPT();
    rec->codec   = seg_get32(h + 4);
    rec->ino     = seg_get64(h + 8);
    rec->blkno   = seg_get64(h + 16);
    rec->raw_len = seg_get32(h + 24);
    rec->len     = seg_get32(h + 28);
    rec->crc32c  = seg_get32(h + 32);
    return 0;
}

static void publish_active(struct seg_store *st)
{
    pthread_mutex_lock(&st->mu);
    st->active_pub = st->active;
    pthread_mutex_unlock(&st->mu);
}

int seg_create(struct seg_store *st, uint64_t id)
{
    const struct seg_sys *sys = st->sys;
    char name[SEG_NAME_LEN];
    unsigned char h[SEG_FILE_HDR_LEN];
    int rc;

    if (id == 0)
        return -EINVAL;
    /* The old segment must be complete on disk before records may land in
     * a newer one: a checker reads segments in number order. */
    if (st->wfd >= 0 && st->dirty && !st->sync_err) {
        if (sys->fdatasync(st->wfd) != 0) {
            st->sync_failures++;
            return -errno;
        }
        st->dirty = 0;
    }
    seg_name(name, id);
    /* Owner-only whatever the umask: segments hold file data. */
    int fd = sys->openat(st->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    rc = fchmod(fd, 0600) == 0 ? 0 : -errno;
    memset(h, 0, sizeof h);
    memcpy(h, SEG_FILE_MAGIC, 8);
    h[8] = SEG_READ_VERSION;
    h[9] = SEG_WRITE_VERSION;
    seg_put32(h + 12, SEG_FILE_HDR_LEN);
    seg_put64(h + 16, id);
    seg_put32(h + 28, fade_crc32c(0, h, 28));
    if (rc == 0)
        rc = write_full(sys, fd, h, sizeof h, 0);
    if (rc == 0 && sys->fdatasync(fd) != 0)
        rc = -errno;
    /* The new name must be durable before any row can point into it. */
    if (rc == 0 && sys->fsync(st->dirfd) != 0)
        rc = -errno;
    if (rc != 0) {
        close(fd);
        sys->unlinkat(st->dirfd, name, 0);
        return space_err(rc);
    }
    if (st->wfd >= 0)
        close(st->wfd);
    st->wfd = fd;
    st->active = id;
    st->tail = SEG_FILE_HDR_LEN;
    st->kicked = SEG_FILE_HDR_LEN;
    st->dirty = 0;
    st->broken = 0;
    publish_active(st);
    return 0;
}

/* Starts the next segment after the active one (the first one of this
 * open: next_id), skipping numbers whose file exists. */
static int seg_roll(struct seg_store *st)
{
    uint64_t id = st->active ? st->active + 1 : st->next_id;
    for (int tries = 0; tries < 1024; tries++, id++) {
        int rc = seg_create(st, id);
        if (rc != -EEXIST)
            return rc;
    }
    return -EEXIST;
}

/* CRC32C arithmetic in GF(2)[x] modulo the Castagnoli polynomial, in the
 * reflected bit order of the CRC (bit 31 is x^0).  Multiplying a CRC
 * register by x^(8n) is what feeding it n zero bytes does, which is all a
 * combination needs (CRC(A B) = CRC(A) * x^(8|B|) + CRC(B); the pre- and
 * post-inversions cancel out, as for zlib's crc32_combine). */
#define SEG_CRC32C_POLY 0x82F63B78u

static uint32_t gf2_mulmod(uint32_t a, uint32_t b)
{
    uint32_t m = 1u << 31, p = 0;
    for (;;) {
        if (a & m) {
            p ^= b;
            if ((a & (m - 1)) == 0)
                break;
        }
        m >>= 1;
        b = b & 1 ? (b >> 1) ^ SEG_CRC32C_POLY : b >> 1;
    }
    return p;
}

uint32_t seg_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b)
{
    uint32_t r = 1u << 31;            /* x^0 */
    uint32_t sq = 1u << 30;           /* x^1, squared as we go */
    for (uint64_t e = len_b * 8; e; e >>= 1) {
        if (e & 1)
            r = gf2_mulmod(r, sq);
        sq = gf2_mulmod(sq, sq);
    }
    return gf2_mulmod(r, crc_a) ^ crc_b;
}

int seg_seal(struct seg_store *st)
{
    if (!st->next_id)
        return -EROFS;
    if (st->wfd < 0 || st->tail <= SEG_FILE_HDR_LEN)
        return -EINVAL;
    return seg_roll(st);
}

int seg_append(struct seg_store *st, uint64_t ino, uint64_t blkno,
               uint32_t codec, uint32_t raw_len, const void *payload,
               size_t len, uint64_t *seg, uint64_t *off, uint32_t *crc,
               int *rolled)
{
    struct iovec iov = { .iov_base = (void *)payload, .iov_len = len };
    return seg_appendv(st, ino, blkno, codec, raw_len, &iov, 1, NULL, seg,
                       off, crc, rolled);
}

/* Small leading pieces (a codec block header) ride along with the record
 * header in one write. */
#define SEG_HEAD_BUF 256u

int seg_appendv(struct seg_store *st, uint64_t ino, uint64_t blkno,
                uint32_t codec, uint32_t raw_len, const struct iovec *iov,
                int n_iov, const uint32_t *piece_crc, uint64_t *seg,
                uint64_t *off, uint32_t *crc, int *rolled)
{
    const struct seg_sys *sys = st->sys;
    unsigned char h[SEG_HEAD_BUF];
    struct seg_rec rec;
    int rc;

    *rolled = 0;
    if (!st->next_id)
        return -EROFS;
    if (n_iov < 0 || (n_iov > 0 && !iov))
        return -EINVAL;
    uint64_t len = 0;
    for (int i = 0; i < n_iov; i++) {
        if (!iov[i].iov_base && iov[i].iov_len)
            return -EINVAL;
        len += iov[i].iov_len;
    }
    if (len > SEG_PAYLOAD_MAX)
        return -EINVAL;
    uint64_t reclen = SEG_REC_HDR_LEN + len;
    if (st->wfd < 0 || st->broken ||
        (st->tail > SEG_FILE_HDR_LEN && st->tail + reclen > st->segment_max)) {
        rc = seg_roll(st);
        if (rc != 0)
            return rc;
        *rolled = 1;
    }
    uint32_t c = 0;
    for (int i = 0; i < n_iov; i++) {
        uint32_t pc = piece_crc ? piece_crc[i]
                      : iov[i].iov_len ? fade_crc32c(0, iov[i].iov_base, iov[i].iov_len)
                      : 0;
        c = i == 0 ? pc : seg_crc32c_combine(c, pc, iov[i].iov_len);
    }
    rec.codec = codec;
    rec.ino = ino;
    rec.blkno = blkno;
    rec.raw_len = raw_len;
    rec.len = (uint32_t)len;
    rec.crc32c = c;
    seg_rec_encode(h, &rec);
    size_t head = SEG_REC_HDR_LEN;
    int first = 0;
    while (first < n_iov && iov[first].iov_len <= SEG_HEAD_BUF - head) {
        if (iov[first].iov_len)
            memcpy(h + head, iov[first].iov_base, iov[first].iov_len);
        head += iov[first].iov_len;
        first++;
    }

    uint64_t at = st->tail;
    st->dirty = 1;   /* even a failed write may have left bytes to sync away */
    st->append_gen++;
    rc = write_full(sys, st->wfd, h, head, at);
    uint64_t pos = at + head;
    for (int i = first; rc == 0 && i < n_iov; i++) {
        rc = write_full(sys, st->wfd, iov[i].iov_base, iov[i].iov_len, pos);
        pos += iov[i].iov_len;
    }
    if (rc != 0) {
        /* Nothing may follow a torn record: cut it off, or, if even that
         * fails, never append to this segment again. */
        if (sys->ftruncate(st->wfd, (off_t)at) != 0)
            st->broken = 1;
        return space_err(rc);
    }
    st->tail = at + reclen;
    if (st->tail - st->kicked >= SEG_KICK_BYTES && sys->version >= 2 &&
        sys->sync_file_range) {
        sys->sync_file_range(st->wfd, (off_t)st->kicked,
                             (off_t)(st->tail - st->kicked),
                             SYNC_FILE_RANGE_WRITE);
        st->kicked = st->tail;
    }
    *seg = st->active;
    *off = at;
    *crc = rec.crc32c;
    return 0;
}

/* After a successful sync: the segment's pages are clean, drop them
 * (seg.h, seg_sync).  Pages of records appended meanwhile are dirty and
 * stay (the advice only starts their writeback). */
static void drop_pages(const struct seg_sys *sys, int fd)
{
    if (sys->version >= 3 && sys->fadvise)
        sys->fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}

int seg_sync(struct seg_store *st)
{
    if (st->sync_err)
        return st->sync_err;
    if (st->wfd < 0 || !st->dirty)
        return 0;
    if (st->sys->fdatasync(st->wfd) != 0) {
        st->sync_err = -errno;
        st->broken = 1;
        st->sync_failures++;
        return st->sync_err;
    }
    drop_pages(st->sys, st->wfd);
    st->dirty = 0;
    return 0;
}

int seg_mark(struct seg_store *st, int *fd, uint64_t *gen)
{
    *fd = -1;
    *gen = st->append_gen;
    if (st->sync_err)
        return st->sync_err;
    if (st->wfd < 0 || !st->dirty)
        return 0;
    int d = fcntl(st->wfd, F_DUPFD_CLOEXEC, 0);
    if (d < 0)
        return -errno;
    *fd = d;
    return 0;
}

int seg_sync_fd(const struct seg_store *st, int fd)
{
    if (st->sys->fdatasync(fd) != 0)
        return -errno;
    drop_pages(st->sys, fd);
    return 0;
}

void seg_marked(struct seg_store *st, uint64_t gen, int result)
{
    if (result) {
        /* The pages may be gone: nothing may follow them, and whoever
         * holds unsynced records learns of it (seg_sync_failures). */
        st->broken = 1;
        st->sync_failures++;
    } else if (gen == st->append_gen) {
        st->dirty = 0;
    }
}

uint64_t seg_sync_failures(const struct seg_store *st)
{
    return st->sync_failures;
}

void seg_clear_sync_err(struct seg_store *st)
{
    st->sync_err = 0;
}

/* Closes idle retired descriptors; called with mu held. */
static void reap_locked(struct seg_store *st)
{
    for (int i = 0; i < st->n_fds;) {
        if (st->fds[i].retired && st->fds[i].refs == 0) {
            close(st->fds[i].fd);
            st->fds[i] = st->fds[--st->n_fds];
        } else {
            i++;
        }
    }
}

/* A segment file must say it is one, of a version we read, with the number
 * its name gives.  Checked once per opened descriptor. */
static int check_file_header(struct seg_store *st, int fd, uint64_t id)
{
    unsigned char h[SEG_FILE_HDR_LEN];
    struct iovec iov = { .iov_base = h, .iov_len = sizeof h };
    ssize_t got = st->sys->preadv(fd, &iov, 1, 0);
    if (got < 0)
        return -errno;
    if ((size_t)got != sizeof h || memcmp(h, SEG_FILE_MAGIC, 8) != 0 ||
        seg_get32(h + 28) != fade_crc32c(0, h, 28) ||
        h[8] > SEG_READ_VERSION || h[10] || h[11] || seg_get32(h + 24) ||
        seg_get32(h + 12) != SEG_FILE_HDR_LEN || seg_get64(h + 16) != id)
        return SEG_CORRUPT();
    return 0;
}

/* Pins the cached descriptor of segment id (opening it if needed) and
 * returns it, or -errno.  A pinned descriptor is never closed. */
static int pin(struct seg_store *st, uint64_t id)
{
    pthread_mutex_lock(&st->mu);
    for (int i = 0; i < st->n_fds; i++) {
        if (st->fds[i].id == id) {
            st->fds[i].refs++;
            st->fds[i].used = ++st->clock;
            int fd = st->fds[i].fd;
            pthread_mutex_unlock(&st->mu);
            return fd;
        }
    }
    pthread_mutex_unlock(&st->mu);

    /* Open outside the lock; another reader may race us, then we keep theirs. */
    char name[SEG_NAME_LEN];
    seg_name(name, id);
    int fd = st->sys->openat(st->dirfd, name, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return errno == ENOENT ? -ESTALE : -errno;
    int rc = check_file_header(st, fd, id);
    if (rc != 0) {
        close(fd);
        return rc;
    }

    pthread_mutex_lock(&st->mu);
    for (int i = 0; i < st->n_fds; i++) {
        if (st->fds[i].id == id) {
            st->fds[i].refs++;
            st->fds[i].used = ++st->clock;
            int cached = st->fds[i].fd;
            pthread_mutex_unlock(&st->mu);
            close(fd);
            return cached;
        }
    }
    if (st->n_fds >= st->cap_fds) {
        int victim = -1;
        for (int i = 0; i < st->n_fds; i++)
            if (st->fds[i].refs == 0 && !st->fds[i].retired &&
                (victim < 0 || st->fds[i].used < st->fds[victim].used))
                victim = i;
        if (victim >= 0) {
            close(st->fds[victim].fd);
            st->fds[victim] = st->fds[--st->n_fds];
        }
    }
    /* Entries move when others are removed, so unpin finds its entry by id. */
    if (st->n_fds % 16 == 0) {
        struct seg_fd *n = realloc(st->fds, (size_t)(st->n_fds + 16) * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&st->mu);
            close(fd);
            return -ENOMEM;
        }
        st->fds = n;
    }
    st->fds[st->n_fds++] = (struct seg_fd){ .id = id, .fd = fd, .refs = 1,
                                            .used = ++st->clock };
    pthread_mutex_unlock(&st->mu);
    return fd;
}

static void unpin(struct seg_store *st, uint64_t id)
{
    pthread_mutex_lock(&st->mu);
    for (int i = 0; i < st->n_fds; i++) {
        if (st->fds[i].id == id) {
            st->fds[i].refs--;
            break;
        }
    }
    pthread_mutex_unlock(&st->mu);
}

int seg_read(struct seg_store *st, uint64_t seg, uint64_t off,
             uint32_t expect_len, struct seg_rec *rec, void *buf, size_t cap)
{
    unsigned char h[SEG_REC_HDR_LEN];

    if (cap < expect_len)
        return -EINVAL;
    if (off < SEG_FILE_HDR_LEN)
        return SEG_CORRUPT();
    int fd = pin(st, seg);
    if (fd < 0)
        return fd;
    struct iovec iov[2] = {
        { .iov_base = h, .iov_len = sizeof h },
        { .iov_base = buf, .iov_len = expect_len },
    };
    size_t want = sizeof h + expect_len;
    ssize_t got;
    do
        got = st->sys->preadv(fd, iov, 2, (off_t)off);
    while (got < 0 && errno == EINTR);
    int err = got < 0 ? -errno : 0;
    unpin(st, seg);
    if (err)
        return err;
    /* A short read means the file ends inside the record: it was never
     * fully written (or was cut), which is corruption from our view. */
    if ((size_t)got != want)
        return SEG_CORRUPT();
    if (seg_rec_decode(h, rec) != 0)
        return -EIO;
    if (rec->len != expect_len)
        return SEG_CORRUPT();
    if (fade_crc32c(0, buf, expect_len) != rec->crc32c)
        return SEG_CORRUPT();
    return 0;
}

int seg_retire(struct seg_store *st, uint64_t id)
{
    char name[SEG_NAME_LEN];
    int rc = 0;

    if (id == st->active)
        return -EBUSY;
    seg_name(name, id);
    if (st->sys->unlinkat(st->dirfd, name, 0) != 0 && errno != ENOENT)
        return -errno;
    if (st->sys->fsync(st->dirfd) != 0)
        rc = -errno;
    pthread_mutex_lock(&st->mu);
    /* Descriptors retired by earlier calls are closed now: a reader that
     * looked a location up before then has long finished with it. */
    reap_locked(st);
    for (int i = 0; i < st->n_fds; i++)
        if (st->fds[i].id == id)
            st->fds[i].retired = 1;
    pthread_mutex_unlock(&st->mu);
    return rc;
}

uint64_t seg_file_size(struct seg_store *st, uint64_t id)
{
    char name[SEG_NAME_LEN];
    struct stat s;
    seg_name(name, id);
    if (fstatat(st->dirfd, name, &s, 0) != 0)
        return 0;
    return (uint64_t)s.st_size;
}

int seg_list(struct seg_store *st, int (*fn)(void *arg, uint64_t id), void *arg)
{
    int fd = openat(st->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        uint64_t id = seg_parse_name(de->d_name);
        if (id != 0)
            rc = fn(arg, id);
        errno = 0;
    }
    if (rc == 0 && errno != 0)
        rc = -errno;
    closedir(d);
    return rc;
}
