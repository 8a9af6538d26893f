/* idx.h — the fadefs store: one SQLite index plus append-only segment files
 * of block payloads, in one backing directory.
 *
 * Contract with fs/ (the only user):
 *   - Every function returns 0 (or a documented non-negative value) on
 *     success and a negative errno on failure.  SQLite errors are mapped:
 *     SQLITE_FULL -> -ENOSPC, SQLITE_BUSY/LOCKED -> -EBUSY,
 *     SQLITE_CORRUPT/NOTADB -> -EUCLEAN, a UNIQUE or PRIMARY KEY
 *     constraint -> -EEXIST (the name or key is taken), any other
 *     constraint (NOT NULL, CHECK, trigger, foreign key) -> -EIO (a bug
 *     or a damaged store), I/O errors -> -EIO, else -EIO.
 *   - Mutating calls (idx_w_*) run on the single writer connection inside
 *     struct idx and must be called by one thread at a time, between
 *     idx_w_begin() and idx_w_commit()/idx_w_rollback().  fs/ serialises
 *     them in its writer thread (group commit).
 *   - Read calls (idx_r_*) take a struct idx_rd, a private read connection;
 *     use one per thread.  A reader sees the last committed state.
 *     idx_rd_open/idx_rd_close may run on any thread, concurrently with the
 *     writer and with other readers.
 *   - Names are byte strings with explicit length (not NUL-terminated,
 *     1..255 bytes, no '/' and no NUL: fs/ checks that before calling).
 *   - No pointer passed in is kept after a call returns; out-buffers are
 *     owned by the caller.
 *
 * Durability order (DESIGN.md): a payload is appended with
 * idx_w_payload_append(), made durable with idx_w_payload_sync(), and only
 * then may the block-map row that points at it be committed.  A payload
 * whose row never committed is garbage that compaction reclaims.
 * idx_w_commit(idx, 1) makes the transaction (and every earlier one) durable
 * before it returns.  On-disk formats: docs/FORMAT-store.md.
 */
#ifndef FADEFS_IDX_H
#define FADEFS_IDX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IDX_ROOT_INO 1u

struct idx;
struct idx_rd;

struct idx_opts {
    int      create;          /* create a store if dir is empty */
    int      read_only;       /* open without writing (fsck, stats) */
    uint32_t block_size;      /* used only when creating; stored in the db;
                                 0 = 65536 */
    uint64_t segment_max;     /* roll to a new segment past this size (bytes); 0 = default */
};

/* Opens (or with opts->create, creates) the store in `dir`.  Takes an
 * exclusive lock so that a second mount of the same store fails with
 * -EBUSY.  On failure writes a one-line reason into msg (if msg_cap > 0):
 *   -ENOTDIR/-ENOENT  dir missing;  -EINVAL  not a fadefs store (non-empty
 *   dir without our db, or a db that is not ours);  -EPROTO  store of a newer
 *   format;  -EBUSY  already mounted;  -EUCLEAN  damaged database. */
int  idx_open(struct idx **out, const char *dir, const struct idx_opts *opts,
              char *msg, size_t msg_cap);
/* Closes the writer connection and segments and drops the lock.  All
 * readers must be closed first.  Accepts NULL. */
void idx_close(struct idx *x);

/* Store-wide settings fixed at creation. */
uint32_t idx_block_size(const struct idx *x);
/* 1 if the store was opened read-only (opts->read_only, or a store whose
 * write version is newer than this build: idx_open then succeeds and puts
 * a note in msg).  Every idx_w_* call then fails with -EROFS. */
int idx_read_only(const struct idx *x);
/* 1 if this idx_open made a new store (its root is the caller's), else 0. */
int idx_created(const struct idx *x);

int  idx_rd_open(struct idx *x, struct idx_rd **out);
void idx_rd_close(struct idx_rd *r);     /* accepts NULL */

/* ---- inodes ---- */
struct idx_attr {
    uint64_t ino;
    uint32_t mode;            /* S_IFMT | permission bits */
    uint32_t uid, gid;
    uint32_t nlink;
    uint64_t size;            /* bytes (regular files, symlinks) */
    uint64_t rdev;
    int64_t  atime_sec, mtime_sec, ctime_sec;
    uint32_t atime_nsec, mtime_nsec, ctime_nsec;
};
/* -ENOENT if absent. */
int idx_r_inode_get(struct idx_rd *r, uint64_t ino, struct idx_attr *out);
int idx_w_inode_get(struct idx *x, uint64_t ino, struct idx_attr *out);
/* Inserts a new inode; assigns and returns a->ino (never reused). */
int idx_w_inode_create(struct idx *x, struct idx_attr *a);
/* Replaces every attribute of an existing inode (-ENOENT if absent). */
int idx_w_inode_put(struct idx *x, const struct idx_attr *a);
/* Deletes the inode with its block map rows, queue entries, xattrs and
 * symlink target; the payloads become dead space.  Directory entries that
 * name it must already be gone. */
int idx_w_inode_delete(struct idx *x, uint64_t ino);
/* Calls fn for every inode with nlink == 0 (orphans left by a crash while
 * an unlinked file was open), so the caller can delete them at mount.
 * fn may call idx_w_inode_delete (the list is read before the first call);
 * a negative return from fn stops the walk and is returned. */
int idx_w_orphans(struct idx *x, int (*fn)(void *arg, uint64_t ino), void *arg);

/* ---- directory entries ---- */
/* -ENOENT if no entry. */
int idx_r_lookup(struct idx_rd *r, uint64_t dir, const char *name, size_t len,
                 uint64_t *ino);
int idx_w_lookup(struct idx *x, uint64_t dir, const char *name, size_t len,
                 uint64_t *ino);
/* -EEXIST if the name is taken. */
int idx_w_link(struct idx *x, uint64_t dir, const char *name, size_t len,
               uint64_t ino);
/* -ENOENT if no entry. */
int idx_w_unlink(struct idx *x, uint64_t dir, const char *name, size_t len);
/* 1 if dir has no entries, 0 if it has, or a negative errno. */
int idx_w_dir_empty(struct idx *x, uint64_t dir);
/* Entries of `dir` with cookie > after, in cookie order.  Cookies are
 * stable and strictly increasing in insertion order, so a listing that
 * resumes from a cookie neither repeats nor skips entries that stayed put.
 * fn returns 0 to go on, 1 to stop (buffer full), or a negative errno. */
/* fn must not call into the same idx_rd (its statement is still running);
 * name is valid only during the call. */
typedef int (*idx_dirent_fn)(void *arg, const char *name, size_t len,
                             uint64_t ino, uint32_t mode, uint64_t cookie);
int idx_r_readdir(struct idx_rd *r, uint64_t dir, uint64_t after,
                  idx_dirent_fn fn, void *arg);

/* ---- symlinks ---- */
int idx_w_symlink_set(struct idx *x, uint64_t ino, const char *target, size_t len);
/* Copies at most cap bytes; *len gets the full length. */
int idx_r_symlink_get(struct idx_rd *r, uint64_t ino, char *buf, size_t cap,
                      size_t *len);

/* ---- extended attributes ---- */
/* flags: 0, XATTR_CREATE (-EEXIST) or XATTR_REPLACE (-ENODATA). */
int idx_w_xattr_set(struct idx *x, uint64_t ino, const char *name,
                    const void *val, size_t len, int flags);
/* -ENODATA if absent; with cap == 0 only *len is set; -ERANGE if cap too small. */
int idx_r_xattr_get(struct idx_rd *r, uint64_t ino, const char *name,
                    void *buf, size_t cap, size_t *len);
/* NUL-separated names, as listxattr(2); same cap/len rules. */
int idx_r_xattr_list(struct idx_rd *r, uint64_t ino, char *buf, size_t cap,
                     size_t *len);
int idx_w_xattr_remove(struct idx *x, uint64_t ino, const char *name);

/* ---- block map ---- */
struct idx_bloc {             /* where one block's payload lives */
    uint64_t seg;             /* segment number */
    uint64_t off;             /* byte offset of the record in the segment */
    uint32_t len;             /* payload bytes (the codec block) */
    uint32_t raw_len;         /* file bytes the block holds */
    uint32_t codec;           /* enum fade_codec of the payload */
    uint32_t crc32c;          /* of the payload bytes */
    uint64_t gen;             /* bumped each time the row is rewritten */
    uint64_t ino, blkno;      /* identity the record header must carry; set by
                                 idx_w_payload_append and idx_r_block_get.  0:
                                 payload_read skips this check */
};
/* -ENOENT for a hole. */
int idx_r_block_get(struct idx_rd *r, uint64_t ino, uint64_t blkno,
                    struct idx_bloc *out);
/* Inserts or replaces the row; the old payload (if any) becomes dead.
 * Sets loc->gen to the row's new generation.  Generations are unique in
 * the store's lifetime (never reused, not even for another block), so
 * comparing gen tells whether a block was rewritten.  -EINVAL if loc->ino
 * is set and differs from ino (a payload appended for another block). */
int idx_w_block_put(struct idx *x, uint64_t ino, uint64_t blkno,
                    struct idx_bloc *loc);
/* Deletes rows with blkno >= first (truncate). */
int idx_w_block_truncate(struct idx *x, uint64_t ino, uint64_t first);
/* Deletes the row of one block (it becomes a hole) and its queue entry;
 * its payload becomes dead space.  Deleting a hole is not an error. */
int idx_w_block_delete(struct idx *x, uint64_t ino, uint64_t blkno);
/* Number of rows of ino and the sum of their payload lengths (what the
 * file occupies in segments, record headers not counted); 0 and 0 for a
 * file without rows or an unknown inode.  Either out-pointer may be NULL. */
int idx_r_block_usage(struct idx_rd *r, uint64_t ino, uint64_t *n_blocks,
                      uint64_t *payload_bytes);
/* For SEEK_DATA / SEEK_HOLE (a hole is a block without a row), searching
 * block numbers from..end-1 of ino: *blkno gets the first that has a row
 * (idx_r_block_next_data) or the first that has none (next_hole); end if
 * there is no such block before end. */
int idx_r_block_next_data(struct idx_rd *r, uint64_t ino, uint64_t from,
                          uint64_t end, uint64_t *blkno);
int idx_r_block_next_hole(struct idx_rd *r, uint64_t ino, uint64_t from,
                          uint64_t end, uint64_t *blkno);

/* ---- payloads in segment files ---- */
/* Appends a record (header naming ino/blkno/codec/lengths/CRC, then the
 * payload) to the active segment and fills loc (gen left 0).  Not durable
 * until idx_w_payload_sync().  -ENOSPC when the disk is full (the record
 * is then not referenced by anything and the segment tail is trimmed). */
int idx_w_payload_append(struct idx *x, uint64_t ino, uint64_t blkno,
                         uint32_t codec, uint32_t raw_len,
                         const void *payload, size_t len, struct idx_bloc *loc);
/* The same for a payload given as n_iov pieces (a codec block header and
 * the data), written without copying them together.  piece_crc: NULL, or
 * the CRC32C (fade_crc32c(0, ...)) of each piece, which the caller already
 * knows: the record's payload CRC is then derived from them instead of
 * read again (a wrong one makes the record fail its checks when read). */
struct iovec;
int idx_w_payload_appendv(struct idx *x, uint64_t ino, uint64_t blkno,
                          uint32_t codec, uint32_t raw_len,
                          const struct iovec *iov, int n_iov,
                          const uint32_t *piece_crc, struct idx_bloc *loc);
int idx_w_payload_sync(struct idx *x);
/* Syncing on another thread (fs/ pipelines its writes: the writer thread
 * appends one batch's payloads while the last batch's are synced).
 * idx_w_payload_mark sets *fd to a new descriptor whose fdatasync, on any
 * thread, makes every payload appended so far durable (-1: nothing to
 * sync) and *gen to a token.  The caller closes fd and reports fdatasync's
 * result (0 or -errno) with idx_w_payload_marked.  A failed payload sync,
 * on any path, may have dropped every unsynced payload: a caller that
 * holds some compares idx_w_payload_failures before and after, and
 * appends them again if it moved.  Writer thread only, except the
 * fdatasync itself. */
int idx_w_payload_mark(struct idx *x, int *fd, uint64_t *gen);
int idx_payload_sync_fd(struct idx *x, int fd);     /* any thread */
void idx_w_payload_marked(struct idx *x, uint64_t gen, int result);
uint64_t idx_w_payload_failures(struct idx *x);
/* Reads the payload at loc into buf (cap >= loc->len), after checking the
 * record header matches loc and the CRC32C matches: -EIO otherwise.
 * A loc from idx_r_block_get stays readable after compaction moves the
 * block (the read follows the row while its gen is unchanged); -ESTALE
 * only when the block was also rewritten or deleted since loc was read. */
int idx_r_payload_read(struct idx_rd *r, const struct idx_bloc *loc,
                       void *buf, size_t cap);

/* ---- compression queue (persistent) ---- */
int idx_w_queue_push(struct idx *x, uint64_t ino, uint64_t blkno);
/* Pushing a block that is already queued moves it to the back (its
 * enqueue time becomes now): a rewritten block is hot again. */
/* Up to n oldest entries; returns the count. */
int idx_r_queue_peek(struct idx_rd *r, uint64_t *ino, uint64_t *blkno, int n);
/* Up to n oldest entries enqueued at or before `before_ns` (CLOCK_REALTIME
 * nanoseconds), i.e. blocks cold for at least now - before_ns. */
int idx_r_queue_peek_before(struct idx_rd *r, int64_t before_ns, uint64_t *ino,
                            uint64_t *blkno, int n);
/* Removing an entry that is not queued is not an error.  Truncate and
 * inode delete drop the queue entries of the blocks they remove. */
int idx_w_queue_remove(struct idx *x, uint64_t ino, uint64_t blkno);

/* ---- background compression (store format 2) ----
 * A queued block is coded off the writer thread from a payload read
 * through a reader; its result lands with one of the calls below, each a
 * compare-and-swap on the generation the coder read (idx_bloc.gen): it
 * changes the row and drops the block's queue entry only if the block was
 * not rewritten meanwhile, and returns -ESTALE otherwise (the newer
 * version is queued by its own write).  On a store opened read-only from
 * format 1 (not upgraded) these fail with -EIO. */
/* The block's payload becomes loc (appended with idx_w_payload_append,
 * coded by `model`); raw_len must be unchanged.  Sets loc->gen. */
int idx_w_block_swap(struct idx *x, uint64_t ino, uint64_t blkno, uint64_t gen,
                     struct idx_bloc *loc, uint64_t model);
/* The block stays as it is and is not queued again until another model is
 * in use (idx_w_requeue_kept): `why` is the model that found it not worth
 * coding, or IDX_KEPT_FAILED for a block that could not be read or coded. */
#define IDX_KEPT_FAILED 1u
int idx_w_block_keep(struct idx *x, uint64_t ino, uint64_t blkno, uint64_t gen,
                     uint64_t why);
/* The block turned out to be all zeros: its row goes (it becomes a hole). */
int idx_w_block_drop(struct idx *x, uint64_t ino, uint64_t blkno, uint64_t gen);
/* Drops a queue entry that names no block (a damaged store: deletes take
 * their queue entries with them); an entry whose block exists stays. */
int idx_w_queue_drop_orphan(struct idx *x, uint64_t ino, uint64_t blkno);
/* Queues again every block kept raw by a model other than `model` (and
 * every failed one), forgetting why it was kept; *n gets how many. */
int idx_w_requeue_kept(struct idx *x, uint64_t model, uint64_t *n);
/* Names a model id in the store's models table (kept if already there). */
int idx_w_model_note(struct idx *x, uint64_t model, const char *preset);
/* Copies the preset name of a noted model (NUL-terminated, cut to cap);
 * -ENOENT if the store does not know it. */
int idx_r_model_name(struct idx_rd *r, uint64_t model, char *buf, size_t cap);
/* What the block map holds, grouped by (codec, model, kept): for the
 * statistics of the whole store (ino 0) or of one file.  Up to cap rows
 * in that order; returns the number of groups (which may exceed cap). */
struct idx_census_row {
    uint32_t codec;           /* enum fade_codec */
    uint64_t model;           /* 0 for raw blocks */
    uint64_t kept;            /* 0, IDX_KEPT_FAILED or the deciding model */
    uint64_t n_blocks, raw_bytes, payload_bytes;
};
int idx_r_census(struct idx_rd *r, uint64_t ino, struct idx_census_row *rows,
                 int cap);
/* Queue entries of the store (ino 0) or of one file; with before_ns > 0
 * only those enqueued at or before it (cold ones). */
int idx_r_queue_count(struct idx_rd *r, uint64_t ino, int64_t before_ns,
                      uint64_t *n);

/* ---- transactions on the writer connection ---- */
int idx_w_begin(struct idx *x);
/* Commits.  Payloads appended since the last idx_w_payload_sync() are
 * synced first, so a committed row never points at a payload that a power
 * loss could take away.  durable: return only after the commit is on
 * stable storage (otherwise it survives a crash of the process but maybe
 * not of the machine).  With no transaction open, durable=1 just makes
 * every earlier commit durable.  On failure the transaction is rolled
 * back.  After a failed payload sync, payload syncs and commits keep
 * failing until idx_w_rollback() (or a failed commit, which rolls back):
 * a retried fdatasync that succeeds would not prove the data is on disk.
 * -EINVAL from idx_w_begin when a transaction is already open. */
int idx_w_commit(struct idx *x, int durable);
/* idx_w_commit without the payload sync, for a transaction whose rows
 * point only at payloads made durable through idx_w_payload_mark (and
 * payloads appended since, which no row of it points at, stay unsynced). */
int idx_w_commit_synced(struct idx *x, int durable);
void idx_w_rollback(struct idx *x);

/* ---- space ---- */
struct idx_stats {
    uint64_t n_inodes;
    uint64_t n_blocks;
    uint64_t raw_bytes;       /* sum of raw_len over the block map */
    uint64_t payload_bytes;   /* sum of live payload lengths */
    uint64_t segment_bytes;   /* size of all segment files */
};
int idx_r_stats(struct idx_rd *r, struct idx_stats *out);
/* Rewrites segments whose live share is below `live_min` (0..1) into the
 * active segment, moving rows in a transaction, then deletes them.  The
 * active segment qualifies too: it is then sealed first (a new segment
 * becomes active).  Runs its own transactions: call outside begin/commit,
 * from the writer thread, and only when every payload appended so far has
 * its row committed or is garbage (rows put after a compaction must not
 * point at payloads appended before it).  Segments handled before an
 * error stay compacted. */
int idx_w_compact(struct idx *x, double live_min);

/* ---- offline checking (fadefsck) ----
 * For a store opened with opts.read_only (the shared lock keeps a mount
 * out while it runs).  index/ checks what it can see: the database and how
 * its tables agree with each other and with the segment files; the payload
 * checks, which need the codec, walk the block map with idx_r_block_walk. */
enum idx_check_kind {
    IDX_CHK_DATABASE = 1,     /* PRAGMA integrity_check, or a check that the
                                 damage stopped; the root inode */
    IDX_CHK_BLOCK_INODE,      /* block row of a missing or non-regular inode */
    IDX_CHK_BLOCK_RANGE,      /* block row past the file's size, or raw_len
                                 not in 1..block size */
    IDX_CHK_BLOCK_CODEC,      /* codec neither raw nor fade */
    IDX_CHK_QUEUE,            /* queue entry of a block that has no row */
    IDX_CHK_DENTRY,           /* entry naming a missing inode, or in
                                 something that is not a directory */
    IDX_CHK_NLINK,            /* nlink against the entries naming the inode */
    IDX_CHK_TOTALS,           /* the totals row against the tables */
    IDX_CHK_SEG_LIVE,         /* segments.live against its blocks */
    IDX_CHK_SEG_FILE,         /* segment file missing or too short */
};
#define IDX_CHK_NO_BLOCK UINT64_MAX
struct idx_problem {
    enum idx_check_kind kind;
    uint64_t ino;             /* the file concerned (for an entry: its
                                 directory); 0 when store-wide */
    uint64_t blkno;           /* IDX_CHK_NO_BLOCK when not about one block */
    uint32_t raw_len;         /* bytes of that block's row, 0 if none */
    const char *text;         /* what is wrong, one line; valid during the call */
};
/* fn may call other idx_r_* functions on the same reader (idx_r_entry_of
 * to name the file); it returns 0 to go on or a negative errno to stop. */
typedef int (*idx_problem_fn)(void *arg, const struct idx_problem *p);
/* Runs every check, reporting each problem to fn.  Returns the number of
 * problems (>= 0), or a negative errno when a check could not run (fn's
 * own negative return included).  Damage that stops a check midway is
 * reported as a problem, and the other checks still run. */
int idx_r_check_index(struct idx_rd *r, idx_problem_fn fn, void *arg);

/* What the tables hold, counted (not read from the totals row). */
struct idx_check_counts {
    uint64_t n_inodes, n_files, n_dirs;
    uint64_t n_orphans;       /* nlink 0: the next mount deletes them */
    uint64_t n_blocks, raw_bytes, payload_bytes;
};
int idx_r_check_counts(struct idx_rd *r, struct idx_check_counts *out);

/* Calls fn for every block row in segment order (segment, then offset:
 * reading the payloads in this order reads each file front to back).
 * loc has every field set, ino and blkno included, as for
 * idx_r_payload_read.  fn may use the same reader; it returns 0 to go on
 * or a negative errno, which stops the walk and is returned. */
typedef int (*idx_block_fn)(void *arg, const struct idx_bloc *loc);
int idx_r_block_walk(struct idx_rd *r, idx_block_fn fn, void *arg);

/* One directory entry naming ino (the oldest): *dir, and the name copied
 * to name (at most cap bytes, not NUL-terminated; *len gets the full
 * length).  -ENOENT if none (the root, an orphan).  A scan of all
 * entries: for naming the files that problems are found in. */
int idx_r_entry_of(struct idx_rd *r, uint64_t ino, uint64_t *dir, char *name,
                   size_t cap, size_t *len);

#endif /* FADEFS_IDX_H */
