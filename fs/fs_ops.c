/* fs_ops.c — the fuse_lowlevel_ops table and its entry points.
 *
 * Each fs_op_* sends exactly one reply, as its last act, with no lock held: a
 * reply can let the kernel send a forget that frees the inode, so every
 * lock and ref is dropped first.  The helpers they call (fs_meta.c,
 * fs_file.c) return 0 or -errno and never reply.  Pointer arguments from
 * libfuse (names, buffers) die when the op returns; the jobs they are handed
 * to finish before that (fs_writer_submit waits), so nothing is copied.
 *
 * Inode numbers are the store's, never reused, so generation is always 0.
 * Access checks are the kernel's (default_permissions is always on).
 */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <syslog.h>

#include "fs/fs.h"
#include "fs/fs_stat.h"

_Static_assert(sizeof(fuse_ino_t) >= sizeof(uint64_t),
               "store inode numbers must fit in fuse_ino_t");
_Static_assert(IDX_ROOT_INO == FUSE_ROOT_ID, "the store's root is FUSE's root");

/* Nothing but this mount changes the store while it is mounted (a store
 * refuses a second mount), and the kernel sees every change: it drops or
 * replaces its copy of a name on create, link, unlink and rename; an entry
 * or setattr reply carries the changed inode's new attributes; and it
 * invalidates the attributes of the inodes an op changes behind its back
 * (the parent directories of every namespace change, the other inode of an
 * unlink or rename, the file after a write, fallocate, O_TRUNC or xattr
 * change).  So its caches stay right for as long as it keeps them, and
 * long timeouts spare a lookup per path component and a getattr per stat
 * (measured: stat and unlink of files created more than a second before
 * cost one round trip less each).  One attribute does change with no op
 * to report it: st_blocks counts a dirty block as a whole block and a
 * block whose commit is on its way by its length, and the store's payload
 * once the commit lands.  The attributes of a file with such blocks are
 * therefore kept only for FS_ATTR_TIMEOUT_BUSY.  The long bound limits how
 * long st_blocks may lag a change that nothing reports at all (a block
 * that background compression replaced). */
#define FS_ATTR_TIMEOUT      3600.0
#define FS_ATTR_TIMEOUT_BUSY 1.0
#define FS_ENTRY_TIMEOUT     3600.0
#define FS_MAX_WRITE     (1u << 20)

/* The session's userdata is a pointer to the fs_ctx pointer: the session
 * is created (checking the options) before the store is opened. */
static struct fs_ctx *FS(fuse_req_t req)
{
    return *(struct fs_ctx **)fuse_req_userdata(req);
}

static void caller_of(fuse_req_t req, struct fs_caller *who)
{
    const struct fuse_ctx *c = fuse_req_ctx(req);
    who->uid = c->uid;
    who->gid = c->gid;
}

/* How long the kernel may keep a's attributes: briefly for a file whose
 * dirty or uncommitted blocks will change st_blocks when they land. */
static double attr_timeout(struct fs_ctx *fs, const struct idx_attr *a)
{
    if (!S_ISREG(a->mode))
        return FS_ATTR_TIMEOUT;
    struct fs_inode *in = fs_inode_find(fs, a->ino);
    if (!in)
        return FS_ATTR_TIMEOUT;
    pthread_rwlock_rdlock(&in->rw);
    int busy = in->n_dirty != 0;
    pthread_rwlock_unlock(&in->rw);
    pthread_mutex_lock(&fs->itab.lock);
    uint64_t seq = in->async_seq;
    pthread_mutex_unlock(&fs->itab.lock);
    busy |= !fs_writer_async_done(fs, seq);
    fs_inode_put(fs, in, 0, 0);
    return busy ? FS_ATTR_TIMEOUT_BUSY : FS_ATTR_TIMEOUT;
}

static void fill_entry(struct fs_ctx *fs, const struct idx_attr *a,
                       struct fuse_entry_param *e)
{
    memset(e, 0, sizeof(*e));
    e->ino = a->ino;
    e->generation = 0;
    e->attr_timeout = attr_timeout(fs, a);
    e->entry_timeout = FS_ENTRY_TIMEOUT;
    fs_attr_to_stat(fs, a, &e->attr);
}

/* Counts a new kernel reference for an entry reply. */
static int entry_ref(struct fs_ctx *fs, const struct idx_attr *a, uint32_t opens)
{
    struct fs_inode *in = fs_inode_ref(fs, a, 1, opens);
    if (!in)
        return -ENOMEM;
    fs_inode_put(fs, in, 0, 0);
    return 0;
}

static void reply_entry_or_err(fuse_req_t req, struct fs_ctx *fs, int e,
                               const struct idx_attr *a)
{
    if (!e)
        e = entry_ref(fs, a, 0);
    if (e) {
        fuse_reply_err(req, -e);
        return;
    }
    struct fuse_entry_param ep;
    fill_entry(fs, a, &ep);
    fuse_reply_entry(req, &ep);
}

/* ---------------- session ---------------- */
static void fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
    struct fs_ctx *fs = *(struct fs_ctx **)userdata;
    /* The kernel must tell us to clear set-id bits (as a setattr) rather
     * than expect us to guess at each write. */
    conn->want &= ~(unsigned)FUSE_CAP_HANDLE_KILLPRIV;
    /* Without writeback caching every write reaches us in order and
     * O_APPEND and the file size stay simple. */
    conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    /* Big writes in few requests: each request costs a round trip and a
     * lock of the inode.  libfuse asks the kernel for enough pages per
     * request (max_pages) and clamps this to its own buffer. */
    conn->max_write = FS_MAX_WRITE;
    /* Read ahead whole blocks' worth: a block is decoded at once anyway.
     * The kernel's offer is the upper bound (libfuse clamps to it). */
    conn->max_readahead = FS_MAX_WRITE;
    fs_log(fs, LOG_DEBUG, "init: proto %u.%u, max_write %u, max_readahead %u",
           conn->proto_major, conn->proto_minor, conn->max_write,
           conn->max_readahead);
}

static void fs_op_destroy(void *userdata)
{
    struct fs_ctx *fs = *(struct fs_ctx **)userdata;
    if (fs)
        fs_inode_flush_all(fs);
}

/* ---------------- names ---------------- */
static void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fs_ctx *fs = FS(req);
    struct idx_attr a;
    int e = fs_lookup(fs, parent, name, &a);
    if (e == -ENOENT) {
        /* A negative entry: the kernel may cache the absence. */
        struct fuse_entry_param ep;
        memset(&ep, 0, sizeof(ep));
        ep.entry_timeout = FS_ENTRY_TIMEOUT;
        fuse_reply_entry(req, &ep);
        return;
    }
    reply_entry_or_err(req, fs, e, &a);
}

static void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    struct fs_ctx *fs = FS(req);
    struct fs_inode *in = fs_inode_find(fs, ino);
    if (in)
        fs_inode_put(fs, in, nlookup, 0);
    fuse_reply_none(req);
}

static void fs_op_forget_multi(fuse_req_t req, size_t count,
                            struct fuse_forget_data *forgets)
{
    struct fs_ctx *fs = FS(req);
    for (size_t i = 0; i < count; i++) {
        struct fs_inode *in = fs_inode_find(fs, forgets[i].ino);
        if (in)
            fs_inode_put(fs, in, forgets[i].nlookup, 0);
    }
    fuse_reply_none(req);
}

static void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
                     mode_t mode, dev_t rdev)
{
    struct fs_ctx *fs = FS(req);
    struct fs_caller who;
    caller_of(req, &who);
    struct idx_attr a;
    int e;
    if (!S_ISREG(mode) && !S_ISFIFO(mode) && !S_ISSOCK(mode) &&
        !S_ISCHR(mode) && !S_ISBLK(mode))
        e = -EINVAL;
    else
        e = fs_make(fs, &who, parent, name, mode, rdev, NULL, &a);
    reply_entry_or_err(req, fs, e, &a);
}

static void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
                     mode_t mode)
{
    struct fs_ctx *fs = FS(req);
    struct fs_caller who;
    caller_of(req, &who);
    struct idx_attr a;
    int e = fs_make(fs, &who, parent, name, S_IFDIR | (mode & 07777), 0, NULL, &a);
    reply_entry_or_err(req, fs, e, &a);
}

static void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
                       const char *name)
{
    struct fs_ctx *fs = FS(req);
    struct fs_caller who;
    caller_of(req, &who);
    struct idx_attr a;
    int e = fs_make(fs, &who, parent, name, S_IFLNK | 0777, 0, link, &a);
    reply_entry_or_err(req, fs, e, &a);
}

static void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
                    const char *newname)
{
    struct fs_ctx *fs = FS(req);
    struct idx_attr a;
    int e = fs_link(fs, ino, newparent, newname, &a);
    reply_entry_or_err(req, fs, e, &a);
}

static void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    fuse_reply_err(req, -fs_remove(FS(req), parent, name, 0));
}

static void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    fuse_reply_err(req, -fs_remove(FS(req), parent, name, 1));
}

static void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
                      fuse_ino_t newparent, const char *newname,
                      unsigned int flags)
{
    fuse_reply_err(req, -fs_rename(FS(req), parent, name, newparent, newname,
                                   flags));
}

static void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
    struct fs_ctx *fs = FS(req);
    char buf[4097];
    size_t len = 0;
    struct fs_rd *r;
    int e = fs_rd_take(fs, &r);
    if (!e) {
        e = idx_r_symlink_get(r->rd, ino, buf, sizeof(buf) - 1, &len);
        fs_rd_give(fs, r);
    }
    if (!e && len >= sizeof(buf))
        e = -ENAMETOOLONG;
    if (e) {
        fuse_reply_err(req, e == -ENOENT ? EINVAL : -e);
        return;
    }
    buf[len] = 0;
    fuse_reply_readlink(req, buf);
}

/* ---------------- attributes ---------------- */
/* The one reply of getattr and setattr: the error, or the attributes. */
static void reply_attr_or_err(fuse_req_t req, struct fs_ctx *fs, int e,
                              const struct idx_attr *a)
{
    if (e) {
        fuse_reply_err(req, -e);
        return;
    }
    /* Busy or not is decided before st_blocks is read: a commit that lands
     * in between then only shortens the time the kernel keeps it. */
    double timeout = attr_timeout(fs, a);
    struct stat st;
    fs_attr_to_stat(fs, a, &st);
    fuse_reply_attr(req, &st, timeout);
}

static void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct fs_ctx *fs = FS(req);
    struct idx_attr a;
    int e = fs_getattr(fs, ino, &a);
    reply_attr_or_err(req, fs, e, &a);
}

static void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
                       int to_set, struct fuse_file_info *fi)
{
    struct fs_ctx *fs = FS(req);
    struct fs_inode *in;
    int e = fs_inode_get(fs, ino, &in);
    if (e) {
        fuse_reply_err(req, -e);
        return;
    }
    struct fs_setattr s = { .caller_uid = fuse_req_ctx(req)->uid };
    if (to_set & FUSE_SET_ATTR_MODE)      { s.valid |= FS_SET_MODE; s.mode = attr->st_mode; }
    if (to_set & FUSE_SET_ATTR_UID)       { s.valid |= FS_SET_UID; s.uid = attr->st_uid; }
    if (to_set & FUSE_SET_ATTR_GID)       { s.valid |= FS_SET_GID; s.gid = attr->st_gid; }
    if (to_set & FUSE_SET_ATTR_ATIME)     { s.valid |= FS_SET_ATIME; s.atime = attr->st_atim; }
    if (to_set & FUSE_SET_ATTR_MTIME)     { s.valid |= FS_SET_MTIME; s.mtime = attr->st_mtim; }
    if (to_set & FUSE_SET_ATTR_ATIME_NOW) s.valid |= FS_SET_ATIME_NOW;
    if (to_set & FUSE_SET_ATTR_MTIME_NOW) s.valid |= FS_SET_MTIME_NOW;

    struct idx_attr a;
    pthread_rwlock_wrlock(&in->rw);
    if (to_set & FUSE_SET_ATTR_SIZE) {
        if (!in->is_reg)
            e = -EINVAL;
        else if (attr->st_size < 0)
            e = -EINVAL;
        else
            e = fs_file_truncate(fs, in, (uint64_t)attr->st_size, NULL);
    }
    if (!e && (s.valid || !(to_set & FUSE_SET_ATTR_SIZE))) {
        /* Dirty times would overwrite the ones being set: commit first. */
        e = fs_file_commit(fs, in, FS_COMMIT_ASYNC);
        if (!e)
            e = fs_setattr(fs, ino, &s, &a);
    }
    pthread_rwlock_unlock(&in->rw);
    fs_inode_put(fs, in, 0, 0);
    if (!e)
        e = fs_getattr(fs, ino, &a);
    reply_attr_or_err(req, fs, e, &a);
}

/* ---------------- files ---------------- */
static void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
                      mode_t mode, struct fuse_file_info *fi)
{
    struct fs_ctx *fs = FS(req);
    struct fs_caller who;
    caller_of(req, &who);
    struct idx_attr a;
    int e = fs_make(fs, &who, parent, name, S_IFREG | (mode & 07777), 0, NULL, &a);
    if (!e)
        e = entry_ref(fs, &a, 1);
    if (e) {
        fuse_reply_err(req, -e);
        return;
    }
    struct fuse_entry_param ep;
    fill_entry(fs, &a, &ep);
    fi->fh = (uint64_t)(unsigned)fi->flags;
    fi->keep_cache = 0;
    fi->direct_io = 0;
    if (fuse_reply_create(req, &ep, fi)) {
        /* The kernel never got the entry nor the handle: no forget and
         * no release will come for them. */
        struct fs_inode *in = fs_inode_find(fs, a.ino);
        if (in)
            fs_inode_put(fs, in, 1, 1);
    }
}

static void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct fs_ctx *fs = FS(req);
    struct fs_inode *in;
    int e = fs_inode_get(fs, ino, &in);
    if (e) {
        fuse_reply_err(req, -e);
        return;
    }
    if ((fi->flags & O_TRUNC) && in->is_reg) {
        /* Always, even at size 0: O_TRUNC moves mtime and ctime. */
        pthread_rwlock_wrlock(&in->rw);
        e = fs_file_truncate(fs, in, 0, NULL);
        pthread_rwlock_unlock(&in->rw);
    }
    int keep = 0;
    if (!e) {
        /* The kernel may keep the pages it has only if the data did not
         * change since the previous open (it sees every change, but this
         * also covers failed commits and anything done while no one had
         * the file open). */
        pthread_rwlock_rdlock(&in->rw);
        uint64_t gen = in->data_gen;
        pthread_rwlock_unlock(&in->rw);
        pthread_mutex_lock(&fs->itab.lock);
        keep = in->cache_ok && in->cache_gen == gen;
        in->cache_ok = 1;
        in->cache_gen = gen;
        pthread_mutex_unlock(&fs->itab.lock);
        fs_inode_open(fs, in);
    }
    fs_inode_put(fs, in, 0, 0);
    if (e) {
        fuse_reply_err(req, -e);
        return;
    }
    fi->fh = (uint64_t)(unsigned)fi->flags;
    fi->keep_cache = keep;
    fi->direct_io = 0;
    if (fuse_reply_open(req, fi)) {
        struct fs_inode *again = fs_inode_find(fs, ino);
        if (again)
            fs_inode_put(fs, again, 0, 1);
    }
}

static void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                    struct fuse_file_info *fi)
{
    struct fs_ctx *fs = FS(req);
    fs_sched_foreground(fs);
    struct fs_inode *in;
    int e = fs_inode_get(fs, ino, &in);
    if (e) {
        fuse_reply_err(req, -e);
        return;
    }
    char *buf = malloc(size ? size : 1);
    ssize_t n = -ENOMEM;
    if (buf && off >= 0) {
        pthread_rwlock_rdlock(&in->rw);
        n = fs_file_read(fs, in, buf, size, (uint64_t)off);
        pthread_rwlock_unlock(&in->rw);
    } else if (buf) {
        n = -EINVAL;
    }
    fs_inode_put(fs, in, 0, 0);
    if (n < 0)
        fuse_reply_err(req, (int)-n);
    else
        fuse_reply_buf(req, buf, (size_t)n);
    free(buf);
}

static void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
                     size_t size, off_t off, struct fuse_file_info *fi)
{
    struct fs_ctx *fs = FS(req);
    fs_sched_foreground(fs);
    struct fs_inode *in;
    int e = fs_inode_get(fs, ino, &in);
    if (e) {
        fuse_reply_err(req, -e);
        return;
    }
    /* A write by anyone but root drops set-id bits (the kernel asks for
     * it too; page-cache writebacks carry no caller). */
    int kill = !fi->writepage && fuse_req_ctx(req)->uid != 0;
    ssize_t n;
    pthread_rwlock_wrlock(&in->rw);
    if ((fi->fh & O_APPEND) && !fi->writepage)
        off = (off_t)in->size;
    if (off < 0)
        n = -EINVAL;
    else
        n = fs_file_write(fs, in, buf, size, (uint64_t)off, kill);
    pthread_rwlock_unlock(&in->rw);
    fs_inode_put(fs, in, 0, 0);
    if (n < 0)
        fuse_reply_err(req, (int)-n);
    else
        fuse_reply_write(req, (size_t)n);
}

/* Commits the dirty data of ino, durably if asked. */
/* fs_file_commit under the inode's lock: shared when nothing is dirty
 * (then nothing is handed over, and a flush or close of a file that a
 * reader is decoding need not wait for the decode), else exclusive. */
static int commit_locked(struct fs_ctx *fs, struct fs_inode *in, int how)
{
    pthread_rwlock_rdlock(&in->rw);
    int clean = fs_file_clean(in);
    int e = clean ? fs_file_commit(fs, in, how) : 0;
    pthread_rwlock_unlock(&in->rw);
    if (!clean) {
        pthread_rwlock_wrlock(&in->rw);
        e = fs_file_commit(fs, in, how);
        pthread_rwlock_unlock(&in->rw);
    }
    return e;
}

static int commit_ino(struct fs_ctx *fs, fuse_ino_t ino, int durable)
{
    struct fs_inode *in = fs_inode_find(fs, ino);
    if (!in)
        return durable ? fs_writer_barrier(fs) : 0;
    int e = commit_locked(fs, in, durable);
    fs_inode_put(fs, in, 0, 0);
    return e;
}

static void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    fuse_reply_err(req, -commit_ino(FS(req), ino, FS_COMMIT_ASYNC));
}

static void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
                     struct fuse_file_info *fi)
{
    /* fdatasync too commits the metadata: the size is needed to read the
     * data back, and one durable commit covers both anyway. */
    fuse_reply_err(req, -commit_ino(FS(req), ino, FS_COMMIT_DURABLE));
}

static void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct fs_ctx *fs = FS(req);
    struct fs_inode *in = fs_inode_find(fs, ino);
    int e = 0;
    if (in) {
        e = commit_locked(fs, in, FS_COMMIT_ASYNC);
        if (e)
            fs_log(fs, e == -ENOSPC ? LOG_DEBUG : LOG_ERR,
                   "inode %llu: data not committed at close: %s",
                   (unsigned long long)ino, strerror(-e));
        fs_inode_put(fs, in, 0, 1);
    }
    fuse_reply_err(req, -e);
}

static void fs_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
                         off_t len, struct fuse_file_info *fi)
{
    struct fs_ctx *fs = FS(req);
    if (mode != 0) {
        fuse_reply_err(req, EOPNOTSUPP);
        return;
    }
    if (off < 0 || len <= 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    struct fs_inode *in;
    int e = fs_inode_get(fs, ino, &in);
    if (e) {
        fuse_reply_err(req, -e);
        return;
    }
    pthread_rwlock_wrlock(&in->rw);
    uint64_t end = (uint64_t)off + (uint64_t)len;
    if (end < (uint64_t)off || end > (uint64_t)INT64_MAX)
        e = -EFBIG;
    else if (end > in->size)
        e = fs_file_truncate(fs, in, end, NULL);
    pthread_rwlock_unlock(&in->rw);
    fs_inode_put(fs, in, 0, 0);
    fuse_reply_err(req, -e);
}

/* SEEK_DATA and SEEK_HOLE (the kernel does the other whences itself). */
static void fs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
                        struct fuse_file_info *fi)
{
    struct fs_ctx *fs = FS(req);
    if (whence != SEEK_DATA && whence != SEEK_HOLE) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    if (off < 0) {
        fuse_reply_err(req, ENXIO);
        return;
    }
    struct fs_inode *in;
    int e = fs_inode_get(fs, ino, &in);
    if (e) {
        fuse_reply_err(req, -e);
        return;
    }
    int64_t pos = fs_seek_data(fs, in, (uint64_t)off, whence);
    fs_inode_put(fs, in, 0, 0);
    if (pos < 0)
        fuse_reply_err(req, (int)-pos);
    else
        fuse_reply_lseek(req, (off_t)pos);
}

/* ---------------- directories ---------------- */
static void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    fi->fh = 0;
    fi->cache_readdir = 0;
    fuse_reply_open(req, fi);
}

static void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
                          struct fuse_file_info *fi)
{
    fuse_reply_err(req, 0);
}

static void fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
                        struct fuse_file_info *fi)
{
    fuse_reply_err(req, -fs_writer_barrier(FS(req)));
}

/* Directory offsets: 1 after ".", 2 after "..", cookie + 2 after an entry.
 * Store cookies grow in insertion order and are never reused, so a listing
 * resumed at an offset skips nothing that stayed and repeats nothing. */
struct rd_state {
    fuse_req_t req;
    char *buf;
    size_t cap, len;
};

static int rd_add(struct rd_state *s, const char *name, uint64_t ino,
                  uint32_t mode, off_t next)
{
    struct stat st;
    memset(&st, 0, sizeof(st));
    st.st_ino = ino;
    st.st_mode = mode & S_IFMT;
    size_t need = fuse_add_direntry(s->req, s->buf + s->len, s->cap - s->len,
                                    name, &st, next);
    if (need > s->cap - s->len)
        return 1;
    s->len += need;
    return 0;
}

static int rd_entry(void *arg, const char *name, size_t len, uint64_t ino,
                    uint32_t mode, uint64_t cookie)
{
    char z[FS_NAME_MAX + 1];
    if (len > FS_NAME_MAX)
        return -EIO;
    memcpy(z, name, len);
    z[len] = 0;
    return rd_add(arg, z, ino, mode, (off_t)(cookie + 2));
}

static void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
    struct fs_ctx *fs = FS(req);
    struct rd_state s = { .req = req, .cap = size, .buf = malloc(size ? size : 1) };
    if (!s.buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    int e = 0;
    if (off < 0)
        e = -EINVAL;
    if (!e && off == 0 && rd_add(&s, ".", ino, S_IFDIR, 1))
        goto out;
    if (!e && off <= 1 && rd_add(&s, "..", ino, S_IFDIR, 2))
        goto out;
    if (!e) {
        struct fs_rd *r;
        e = fs_rd_take(fs, &r);
        if (!e) {
            e = idx_r_readdir(r->rd, ino, off >= 2 ? (uint64_t)off - 2 : 0,
                              rd_entry, &s);
            fs_rd_give(fs, r);
        }
        /* Entries already in the buffer are returned: the error shows up
         * again at the next call, which starts after them. */
        if (e > 0 || (e < 0 && s.len > 0))
            e = 0;
    }
out:
    if (e)
        fuse_reply_err(req, -e);
    else
        fuse_reply_buf(req, s.buf, s.len);
    free(s.buf);
}

static void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct fs_ctx *fs = FS(req);
    struct statvfs sv;
    if (statvfs(fs->store, &sv)) {
        fuse_reply_err(req, errno);
        return;
    }
    sv.f_namemax = FS_NAME_MAX;
    fuse_reply_statfs(req, &sv);
}

/* ---------------- extended attributes ---------------- */
/* user.* for everyone the permission bits allow (the kernel checks), and
 * trusted.* / security.* for root; other namespaces are not stored. */
static int xattr_allowed(fuse_req_t req, const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 255)
        return -ERANGE;
    if (!strncmp(name, "user.", 5))
        return n > 5 ? 0 : -EINVAL;
    if (!strncmp(name, "trusted.", 8) || !strncmp(name, "security.", 9))
        return fuse_req_ctx(req)->uid == 0 ? 0 : -EPERM;
    return -EOPNOTSUPP;
}

/* user.fadefs.* are the daemon's own, computed on every read (fs_stat.h). */
static int is_ours(const char *name)
{
    return !strncmp(name, FS_XATTR_PREFIX, sizeof FS_XATTR_PREFIX - 1);
}

static void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
                        const char *value, size_t size, int flags)
{
    int e = xattr_allowed(req, name);
    if (!e && size > 65536)
        e = -E2BIG;
    if (!e && (flags & ~(XATTR_CREATE | XATTR_REPLACE)))
        e = -EINVAL;
    if (!e && is_ours(name))
        e = fs_stat_xattr_set(FS(req), ino == FUSE_ROOT_ID, name, value, size);
    else if (!e)
        e = fs_xattr_set(FS(req), ino, name, value, size, flags);
    fuse_reply_err(req, -e);
}

static void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
                        size_t size)
{
    struct fs_ctx *fs = FS(req);
    char *buf = size ? malloc(size) : NULL;
    size_t len = 0;
    struct fs_rd *r;
    int e = size && !buf ? -ENOMEM : 0;
    if (!e && is_ours(name)) {
        e = fs_stat_xattr(fs, ino, name, buf, size, &len);
    } else if (!e && !(e = fs_rd_take(fs, &r))) {
        e = idx_r_xattr_get(r->rd, ino, name, buf, size, &len);
        fs_rd_give(fs, r);
    }
    if (e)
        fuse_reply_err(req, -e);
    else if (size == 0)
        fuse_reply_xattr(req, len);
    else
        fuse_reply_buf(req, buf, len);
    free(buf);
}

static void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    struct fs_ctx *fs = FS(req);
    char *buf = size ? malloc(size) : NULL;
    size_t len = 0;
    struct fs_rd *r;
    int e = size && !buf ? -ENOMEM : fs_rd_take(fs, &r);
    if (!e) {
        e = idx_r_xattr_list(r->rd, ino, buf, size, &len);
        fs_rd_give(fs, r);
    }
    if (e)
        fuse_reply_err(req, -e);
    else if (size == 0)
        fuse_reply_xattr(req, len);
    else
        fuse_reply_buf(req, buf, len);
    free(buf);
}

static void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    int e = xattr_allowed(req, name);
    if (!e && is_ours(name))
        e = -EPERM;
    else if (!e)
        e = fs_xattr_remove(FS(req), ino, name);
    fuse_reply_err(req, -e);
}

static const struct fuse_lowlevel_ops fs_ops = {
    .init = fs_op_init,
    .destroy = fs_op_destroy,
    .lookup = fs_op_lookup,
    .forget = fs_op_forget,
    .forget_multi = fs_op_forget_multi,
    .getattr = fs_op_getattr,
    .setattr = fs_op_setattr,
    .readlink = fs_op_readlink,
    .mknod = fs_op_mknod,
    .mkdir = fs_op_mkdir,
    .unlink = fs_op_unlink,
    .rmdir = fs_op_rmdir,
    .symlink = fs_op_symlink,
    .rename = fs_op_rename,
    .link = fs_op_link,
    .open = fs_op_open,
    .read = fs_op_read,
    .write = fs_op_write,
    .flush = fs_op_flush,
    .release = fs_op_release,
    .fsync = fs_op_fsync,
    .opendir = fs_op_opendir,
    .readdir = fs_op_readdir,
    .releasedir = fs_op_releasedir,
    .fsyncdir = fs_op_fsyncdir,
    .statfs = fs_op_statfs,
    .setxattr = fs_op_setxattr,
    .getxattr = fs_op_getxattr,
    .listxattr = fs_op_listxattr,
    .removexattr = fs_op_removexattr,
    .create = fs_op_create,
    .fallocate = fs_op_fallocate,
    .lseek = fs_op_lseek,
};

const struct fuse_lowlevel_ops *fs_ops_table(void)
{
    return &fs_ops;
}
