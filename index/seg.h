/* seg.h — segment files: append-only files of block payload records
 * (private to index/; the format is specified in docs/FORMAT-store.md).
 *
 * A segment store owns the `segments/` directory of a fadefs store.  One
 * segment is *active*: the writer thread appends records at its tail.  Every
 * other segment is only read (and eventually deleted by compaction).  File
 * names come from the segment number alone: "%016" PRIx64 ".seg".
 *
 * Threads: seg_create/seg_append(v)/seg_sync/seg_seal/seg_retire run
 * on the writer thread only.  seg_read may run on any thread at the same
 * time: it preads through a shared table of read-only descriptors guarded
 * by a mutex, and pins the descriptor while it reads so that it cannot be
 * closed (and its number reused) under the reader.
 *
 * All system calls on segment files go through a `struct seg_sys` so that
 * tests can make pwrite or fdatasync fail (the ioerr suite).
 */
#ifndef FADEFS_SEG_H
#define FADEFS_SEG_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* ---- on-disk constants (docs/FORMAT-store.md) ---- */
#define SEG_FILE_MAGIC     "\x89" "FSEG\r\n\x1a"  /* 8 bytes */
#define SEG_FILE_HDR_LEN   32u
#define SEG_READ_VERSION   1u
#define SEG_WRITE_VERSION  1u
#define SEG_REC_MAGIC      0x31434552u            /* "REC1" little-endian */
#define SEG_REC_HDR_LEN    40u
#define SEG_NAME_LEN       21u                    /* 16 hex + ".seg" + NUL */
#define SEG_MAX_DEFAULT    (256ull << 20)
#define SEG_PAYLOAD_MAX    (1u << 30)             /* sanity bound on one record */

/* System calls used on segment files; a table so tests can inject faults.
 * Entries are only ever appended: version 1 has every entry up to
 * unlinkat, version 2 adds sync_file_range, version 3 fadvise. */
struct seg_sys {
    int version;                                              /* 2 */
    int     (*openat)(int dirfd, const char *name, int flags, mode_t mode);
    ssize_t (*pwrite)(int fd, const void *buf, size_t n, off_t off);
    ssize_t (*preadv)(int fd, const struct iovec *iov, int n_iov, off_t off);
    int     (*fdatasync)(int fd);
    int     (*fsync)(int fd);
    int     (*ftruncate)(int fd, off_t len);
    int     (*unlinkat)(int dirfd, const char *name, int flags);
    /* Version 2: starts writeback early (a hint; errors are ignored, the
     * sync that durability needs is still fdatasync). */
    int     (*sync_file_range)(int fd, off_t off, off_t n, unsigned flags);
    /* Version 3: drops the cached pages of synced records (a hint, as
     * sync_file_range; see seg_sync). */
    int     (*fadvise)(int fd, off_t off, off_t n, int advice);
};
extern const struct seg_sys seg_sys_default;

/* One cached read-only descriptor. */
struct seg_fd {
    uint64_t id;
    int      fd;
    int      refs;            /* readers inside pread right now */
    int      retired;         /* file unlinked by compaction; close when idle */
    uint64_t used;            /* LRU clock value of the last use */
};

struct seg_store {
    const struct seg_sys *sys;
    int      dirfd;           /* the segments/ directory */
    uint64_t segment_max;     /* roll over past this many bytes */

    /* writer thread only */
    uint64_t next_id;         /* number of the first segment of this open;
                                 0 = read-only, no appends */
    uint64_t active;          /* id of the active segment, 0 = none yet */
    int      wfd;             /* O_RDWR descriptor of the active segment */
    uint64_t tail;            /* bytes in the active segment (next record offset) */
    int      dirty;           /* appended since the last fdatasync */
    uint64_t kicked;          /* writeback started up to here (sync_file_range) */
    int      broken;          /* tail not trimmed or sync failed: roll before
                                 the next append */
    int      sync_err;        /* sticky -errno of a failed fdatasync, until
                                 seg_clear_sync_err (see seg_sync) */
    uint64_t append_gen;      /* appends so far (seg_mark) */
    uint64_t sync_failures;   /* failed fdatasyncs so far, any path */

    /* read descriptor cache, guarded by mu */
    pthread_mutex_t mu;
    struct seg_fd *fds;
    int      n_fds, cap_fds;  /* cap_fds = most descriptors kept open */
    uint64_t clock;
    uint64_t active_pub;      /* copy of `active` for readers (stats) */
};

/* What a record header says (decoded, host order). */
struct seg_rec {
    uint32_t codec;
    uint64_t ino, blkno;
    uint32_t raw_len;
    uint32_t len;             /* payload bytes after the header */
    uint32_t crc32c;          /* of the payload */
};

/* Sets up a store on the open `segments/` directory (the store takes
 * ownership of dirfd and closes it in seg_store_fini).  Cannot fail. */
void seg_store_init(struct seg_store *st, int dirfd, uint64_t segment_max,
                    const struct seg_sys *sys);
/* Closes every descriptor (does not sync; call seg_sync first).  Idempotent. */
void seg_store_fini(struct seg_store *st);

void seg_name(char out[SEG_NAME_LEN], uint64_t id);
/* Parses a segment file name; 0 if it is not one of ours. */
uint64_t seg_parse_name(const char *name);

/* Creates segment `id` (O_EXCL: -EEXIST if the file exists), writes and
 * syncs its header, syncs the directory, and makes it the active segment
 * (after syncing and closing the previous active one).  On failure the
 * previous active segment stays active and no file is left behind. */
int seg_create(struct seg_store *st, uint64_t id);

/* Appends one record at the tail of the active segment, rolling over to
 * segment active+1 (or the next free number) first when the record would
 * push a non-empty segment past segment_max.  The first append after open
 * creates segment next_id (or the next free number): a new segment per
 * open, so nothing is ever appended after a tail a crash may have torn.  Fills *seg, *off (record
 * offset), *crc (payload CRC32C).  On a write error the tail is trimmed back
 * so that no partial record stays, and -errno comes back (ENOSPC, EFBIG,
 * EIO...).  *rolled is set to 1 when a new segment was started. */
int seg_append(struct seg_store *st, uint64_t ino, uint64_t blkno,
               uint32_t codec, uint32_t raw_len, const void *payload,
               size_t len, uint64_t *seg, uint64_t *off, uint32_t *crc,
               int *rolled);
/* Like seg_append for a payload given as n_iov pieces, written without
 * copying them together.  piece_crc, when not NULL, holds the CRC32C
 * (fade_crc32c(0, ...)) of each piece, which the caller already knows: the
 * payload CRC is then combined from them (seg_crc32c_combine) instead of
 * read again.  A wrong piece CRC makes the record fail its checks when
 * read, never read back as good data. */
int seg_appendv(struct seg_store *st, uint64_t ino, uint64_t blkno,
                uint32_t codec, uint32_t raw_len, const struct iovec *iov,
                int n_iov, const uint32_t *piece_crc, uint64_t *seg,
                uint64_t *off, uint32_t *crc, int *rolled);
/* CRC32C of A followed by B, from crc_a = CRC32C(A), crc_b = CRC32C(B) and
 * the length of B (GF(2) polynomial arithmetic: O(log len_b), no data). */
uint32_t seg_crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t len_b);
/* fdatasync of the active segment if anything was appended since the last
 * sync, after which its cached pages are dropped (they are clean then, and
 * fs/ keeps what it just wrote in its own block cache: without the drop a
 * write would take its size twice in memory, and the next appends would
 * go to fresh pages instead of the ones just freed).  Returns 0 or -errno.
 * A failed fdatasync may have dropped the dirty pages, so a later one
 * that succeeds proves nothing: the error sticks (every seg_sync returns
 * it) until seg_clear_sync_err, which the caller calls once the
 * transaction that referenced those records is rolled back; the segment
 * is never appended to again. */
int seg_sync(struct seg_store *st);
void seg_clear_sync_err(struct seg_store *st);

/* Syncing on another thread (a pipeline: the writer appends the next
 * records while the last ones are synced).  seg_mark hands out, in *fd, a
 * new descriptor of the active segment whose fdatasync (on any thread)
 * makes every record appended so far durable, and the append count *gen;
 * *fd is -1 when nothing is left to sync.  The caller closes *fd and
 * reports the result with seg_marked(st, gen, result): 0 clears the dirty
 * state if nothing was appended since; an error breaks the segment (never
 * appended to again) and counts a failure.  Records that an earlier roll
 * over left in the previous segment were synced by seg_create.  Returns 0
 * or -errno (the sticky error of seg_sync included).  Both on the writer
 * thread. */
int  seg_mark(struct seg_store *st, int *fd, uint64_t *gen);
/* fdatasync of a marked descriptor through the store's system calls, then
 * the same page drop as seg_sync; any thread.  0 or -errno. */
int  seg_sync_fd(const struct seg_store *st, int fd);
void seg_marked(struct seg_store *st, uint64_t gen, int result);
/* The number of fdatasyncs of segments that failed so far (seg_create's,
 * seg_sync's and the ones seg_marked was told of).  A failure may drop
 * the dirty pages of every record not yet synced, so a caller holding
 * appended, unsynced records compares this before and after. */
uint64_t seg_sync_failures(const struct seg_store *st);

/* Reads the record at (seg, off): header into *rec, payload into buf (cap
 * bytes, must be >= expect_len).  Checks the header magic and CRC, that the
 * header's payload length equals expect_len, and the payload CRC32C.
 * Returns 0, -EIO (mismatch, short file), -ESTALE (segment gone: it was
 * compacted away after the caller looked the location up), -EINVAL (cap),
 * or another -errno. */
int seg_read(struct seg_store *st, uint64_t seg, uint64_t off,
             uint32_t expect_len, struct seg_rec *rec, void *buf, size_t cap);

/* Seals the active segment: syncs it and makes a new, empty segment the
 * active one, as a roll-over does, so that the old one can be compacted
 * like any other.  -EINVAL when there is no active segment or it holds no
 * record yet (nothing to seal). */
int seg_seal(struct seg_store *st);

/* Unlinks segment `id` and syncs the directory.  Descriptors that readers
 * hold stay valid; the cached one is closed once no reader uses it. */
int seg_retire(struct seg_store *st, uint64_t id);

/* Size in bytes of segment `id` (0 if absent).  Any thread. */
uint64_t seg_file_size(struct seg_store *st, uint64_t id);

/* Calls fn for every segment file in the directory (sorted order not
 * guaranteed).  fn returns 0 to go on or a negative errno to stop. */
int seg_list(struct seg_store *st, int (*fn)(void *arg, uint64_t id), void *arg);

/* Little-endian helpers (the formats are little-endian throughout). */
static inline void seg_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static inline void seg_put64(unsigned char *p, uint64_t v)
{
    seg_put32(p, (uint32_t)v); seg_put32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t seg_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}
static inline uint64_t seg_get64(const unsigned char *p)
{
    return (uint64_t)seg_get32(p) | (uint64_t)seg_get32(p + 4) << 32;
}

/* Encodes / decodes a record header (SEG_REC_HDR_LEN bytes).  decode
 * returns 0 or -EIO for a bad magic or header CRC. */
void seg_rec_encode(unsigned char *h, const struct seg_rec *rec);
int  seg_rec_decode(const unsigned char *h, struct seg_rec *rec);

#endif /* FADEFS_SEG_H */
