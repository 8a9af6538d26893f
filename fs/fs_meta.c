/* fs_meta.c — namespace and attribute operations: lookups on a read
 * connection, changes as writer jobs (one committed transaction each, or a
 * share of a group commit).
 *
 * Every job validates first and changes the store after, so a refusal
 * (ENOENT, EEXIST, ENOTEMPTY, ...) leaves nothing behind in the batch it
 * shares (see fs_writer.c).  POSIX link counts are kept: a directory has
 * 2 + its subdirectories, and ctime moves with every change of an inode.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <linux/fs.h>

#include "fs/fs.h"

static void set_time(int64_t *sec, uint32_t *nsec, const struct timespec *ts)
{
    *sec = ts->tv_sec;
    *nsec = (uint32_t)ts->tv_nsec;
}

static void touch_mc(struct idx_attr *a, const struct timespec *now)
{
    set_time(&a->mtime_sec, &a->mtime_nsec, now);
    set_time(&a->ctime_sec, &a->ctime_nsec, now);
}

static void touch_c(struct idx_attr *a, const struct timespec *now)
{
    set_time(&a->ctime_sec, &a->ctime_nsec, now);
}

void fs_attr_to_stat(struct fs_ctx *fs, const struct idx_attr *a,
                     struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = a->ino;
    st->st_mode = a->mode;
    st->st_nlink = a->nlink;
    st->st_uid = a->uid;
    st->st_gid = a->gid;
    st->st_rdev = a->rdev;
    st->st_size = (off_t)a->size;
    st->st_blksize = fs->bs;
    uint64_t used = a->size;
    if (S_ISREG(a->mode) && a->size)
        used = fs_file_alloc(fs, a->ino, a->size);
    st->st_blocks = (blkcnt_t)((used + 511) / 512);
    st->st_atim.tv_sec = a->atime_sec;
    st->st_atim.tv_nsec = a->atime_nsec;
    st->st_mtim.tv_sec = a->mtime_sec;
    st->st_mtim.tv_nsec = a->mtime_nsec;
    st->st_ctim.tv_sec = a->ctime_sec;
    st->st_ctim.tv_nsec = a->ctime_nsec;
}

int fs_getattr(struct fs_ctx *fs, uint64_t ino, struct idx_attr *out)
{
    /* Whether a commit of this inode is still on its way is checked before
     * the store is read: if it lands in between, the store has it. */
    struct fs_inode *in = fs_inode_find(fs, ino);
    int pending = 0, pend_kill = 0;
    if (in) {
        pthread_mutex_lock(&fs->itab.lock);
        uint64_t seq = in->async_seq;
        pend_kill = in->pend_kill;
        pthread_mutex_unlock(&fs->itab.lock);
        pending = !fs_writer_async_done(fs, seq);
    }
    struct fs_rd *r;
    int e = fs_rd_take(fs, &r);
    if (!e) {
        e = idx_r_inode_get(r->rd, ino, out);
        fs_rd_give(fs, r);
    }
    if (e || !in) {
        if (in)
            fs_inode_put(fs, in, 0, 0);
        return e;
    }
    /* An open file's size and times may be ahead of the store. */
    pthread_rwlock_rdlock(&in->rw);
    if (in->is_reg)
        out->size = in->size;
    if (pending && pend_kill) {
        out->mode &= ~(uint32_t)S_ISUID;
        if (out->mode & S_IXGRP)
            out->mode &= ~(uint32_t)S_ISGID;
    }
    if (in->attr_dirty || pending) {
        set_time(&out->mtime_sec, &out->mtime_nsec, &in->mtime);
        /* The stored ctime is the later one after a link or rename. */
        if (in->ctime.tv_sec > out->ctime_sec ||
            (in->ctime.tv_sec == out->ctime_sec && (uint32_t)in->ctime.tv_nsec > out->ctime_nsec))
            set_time(&out->ctime_sec, &out->ctime_nsec, &in->ctime);
    }
    if (in->kill_priv) {
        out->mode &= ~(uint32_t)S_ISUID;
        if (out->mode & S_IXGRP)
            out->mode &= ~(uint32_t)S_ISGID;
    }
    pthread_rwlock_unlock(&in->rw);
    fs_inode_put(fs, in, 0, 0);
    return 0;
}

static int check_name(const char *name, size_t *len)
{
    size_t n = strlen(name);
    if (n == 0)
        return -ENOENT;
    if (n > FS_NAME_MAX)
        return -ENAMETOOLONG;
    *len = n;
    return 0;
}

int fs_lookup(struct fs_ctx *fs, uint64_t dir, const char *name,
              struct idx_attr *out)
{
    size_t len;
    int e = check_name(name, &len);
    if (e)
        return e;
    struct fs_rd *r;
    if ((e = fs_rd_take(fs, &r)))
        return e;
    uint64_t ino;
    e = idx_r_lookup(r->rd, dir, name, len, &ino);
    fs_rd_give(fs, r);
    if (e)
        return e;
    return fs_getattr(fs, ino, out);
}

/* Loads a directory for a change: -ENOENT if gone or being removed. */
static int get_dir(struct fs_ctx *fs, uint64_t dir, struct idx_attr *p)
{
    int e = idx_w_inode_get(fs->idx, dir, p);
    if (e)
        return e;
    if (!S_ISDIR(p->mode))
        return -ENOTDIR;
    if (p->nlink == 0)
        return -ENOENT;
    return 0;
}

/* Drops one name of inode a (already unlinked); deletes the inode now if
 * this was its last link and nobody has it open or looked up, else leaves
 * it as an orphan for the last put (fs_inode.c). */
static int drop_link(struct fs_ctx *fs, struct idx_attr *a,
                     const struct timespec *now, int *deleted)
{
    if (S_ISDIR(a->mode) || a->nlink <= 1)
        a->nlink = 0;
    else
        a->nlink--;
    touch_c(a, now);
    if (a->nlink == 0 && !fs_inode_mark_orphan(fs, a->ino)) {
        *deleted = 1;
        return idx_w_inode_delete(fs->idx, a->ino);
    }
    return idx_w_inode_put(fs->idx, a);
}

/* ---- create: mknod, mkdir, symlink, create ---- */
struct make_job {
    struct fs_job j;
    const struct fs_caller *who;
    uint64_t dir;
    const char *name;
    size_t len;
    uint32_t mode;
    uint64_t rdev;
    const char *target;
    size_t tlen;
    struct idx_attr out;
};

static int make_run(struct fs_ctx *fs, struct fs_job *jj)
{
    struct make_job *j = (struct make_job *)jj;
    struct idx_attr p;
    int e = get_dir(fs, j->dir, &p);
    if (e)
        return e;
    uint64_t ino;
    e = idx_w_lookup(fs->idx, j->dir, j->name, j->len, &ino);
    if (e == 0)
        return -EEXIST;
    if (e != -ENOENT)
        return e;
    if (S_ISDIR(j->mode) && p.nlink >= UINT32_MAX - 1)
        return -EMLINK;
    struct timespec now;
    fs_now(&now);
    struct idx_attr *a = &j->out;
    memset(a, 0, sizeof(*a));
    a->mode = j->mode;
    a->uid = j->who->uid;
    a->gid = j->who->gid;
    if (p.mode & S_ISGID) {
        /* BSD group semantics in a set-group-ID directory. */
        a->gid = p.gid;
        if (S_ISDIR(j->mode))
            a->mode |= S_ISGID;
    }
    if (!S_ISDIR(a->mode) && (a->mode & S_ISGID) && a->gid != j->who->gid &&
        j->who->uid != 0)
        a->mode &= ~(uint32_t)S_ISGID;
    a->nlink = S_ISDIR(j->mode) ? 2 : 1;
    a->size = S_ISLNK(j->mode) ? j->tlen : 0;
    a->rdev = j->rdev;
    set_time(&a->atime_sec, &a->atime_nsec, &now);
    touch_mc(a, &now);
    if ((e = idx_w_inode_create(fs->idx, a)))
        return e;
    if ((e = idx_w_link(fs->idx, j->dir, j->name, j->len, a->ino)))
        return e == -EEXIST ? -EIO : e;   /* checked above: not a refusal */
    if (S_ISLNK(j->mode) &&
        (e = idx_w_symlink_set(fs->idx, a->ino, j->target, j->tlen)))
        return e;
    if (S_ISDIR(j->mode))
        p.nlink++;
    touch_mc(&p, &now);
    return idx_w_inode_put(fs->idx, &p);
}

int fs_make(struct fs_ctx *fs, const struct fs_caller *who, uint64_t dir,
            const char *name, uint32_t mode, uint64_t rdev,
            const char *target, struct idx_attr *out)
{
    /* A new inode in a directory: it may commit before deferred data
     * commits (which only touch regular files that already exist). */
    struct make_job j = {
        .j = { .run = make_run, .reorder_ok = 1 }, .who = who, .dir = dir, .name = name,
        .mode = mode, .rdev = rdev, .target = target,
    };
    int e = check_name(name, &j.len);
    if (e)
        return e == -ENOENT ? -EINVAL : e;
    if (target) {
        j.tlen = strlen(target);
        if (j.tlen == 0)
            return -ENOENT;
        if (j.tlen >= 4096)
            return -ENAMETOOLONG;
    }
    e = fs_writer_submit(fs, &j.j);
    if (!e)
        *out = j.out;
    return e;
}

/* ---- unlink, rmdir ---- */
struct remove_job {
    struct fs_job j;
    uint64_t dir;
    const char *name;
    size_t len;
    int is_dir;
    uint64_t victim, victim_size;
    int deleted;
};

static int remove_run(struct fs_ctx *fs, struct fs_job *jj)
{
    struct remove_job *j = (struct remove_job *)jj;
    j->deleted = 0;
    struct idx_attr p, a;
    int e = get_dir(fs, j->dir, &p);
    if (e)
        return e;
    uint64_t ino;
    if ((e = idx_w_lookup(fs->idx, j->dir, j->name, j->len, &ino)))
        return e;
    if ((e = idx_w_inode_get(fs->idx, ino, &a)))
        return e;
    if (j->is_dir) {
        if (!S_ISDIR(a.mode))
            return -ENOTDIR;
        e = idx_w_dir_empty(fs->idx, ino);
        if (e < 0)
            return e;
        if (e == 0)
            return -ENOTEMPTY;
    } else if (S_ISDIR(a.mode)) {
        return -EISDIR;
    }
    j->victim = ino;
    j->victim_size = a.size;
    struct timespec now;
    fs_now(&now);
    if ((e = idx_w_unlink(fs->idx, j->dir, j->name, j->len)))
        return e == -ENOENT ? -EIO : e;
    if (S_ISDIR(a.mode) && p.nlink > 2)
        p.nlink--;
    touch_mc(&p, &now);
    if ((e = idx_w_inode_put(fs->idx, &p)))
        return e;
    return drop_link(fs, &a, &now, &j->deleted);
}

int fs_remove(struct fs_ctx *fs, uint64_t dir, const char *name, int is_dir)
{
    struct remove_job j = {
        .j = { .run = remove_run }, .dir = dir, .name = name, .is_dir = is_dir,
    };
    int e = check_name(name, &j.len);
    if (e)
        return e;
    e = fs_writer_submit(fs, &j.j);
    if (!e && j.deleted)
        fs_inode_uncache(fs, j.victim, j.victim_size);
    return e;
}

/* ---- rename ---- */
struct rename_job {
    struct fs_job j;
    uint64_t dir, ndir;
    const char *name, *nname;
    size_t len, nlen;
    unsigned flags;
    uint64_t victim, victim_size;
    int deleted;
};

static int rename_run(struct fs_ctx *fs, struct fs_job *jj)
{
    struct rename_job *j = (struct rename_job *)jj;
    j->deleted = 0;
    int e;
    struct idx_attr p, np_own, s, d;
    /* The new parent is the old one when same_dir: one record, one write. */
    struct idx_attr *np = &np_own;
    uint64_t sino, dino = 0;
    int same_dir = j->dir == j->ndir;
    if ((e = get_dir(fs, j->dir, &p)))
        return e;
    if (same_dir)
        np = &p;
    else if ((e = get_dir(fs, j->ndir, np)))
        return e;
    if ((e = idx_w_lookup(fs->idx, j->dir, j->name, j->len, &sino)))
        return e;
    if ((e = idx_w_inode_get(fs->idx, sino, &s)))
        return e;
    e = idx_w_lookup(fs->idx, j->ndir, j->nname, j->nlen, &dino);
    int have_dst = e == 0;
    if (e && e != -ENOENT)
        return e;
    if (have_dst && dino == sino)
        return 0;                 /* same file (or same name): nothing to do */
    if (have_dst && (e = idx_w_inode_get(fs->idx, dino, &d)))
        return e;
    int sdir = S_ISDIR(s.mode), ddir = have_dst && S_ISDIR(d.mode);
    struct timespec now;
    fs_now(&now);

    if (j->flags & RENAME_EXCHANGE) {
        if (!have_dst)
            return -ENOENT;
        if ((e = idx_w_unlink(fs->idx, j->dir, j->name, j->len)) ||
            (e = idx_w_unlink(fs->idx, j->ndir, j->nname, j->nlen)) ||
            (e = idx_w_link(fs->idx, j->dir, j->name, j->len, dino)) ||
            (e = idx_w_link(fs->idx, j->ndir, j->nname, j->nlen, sino)))
            return e == -ENOENT || e == -EEXIST ? -EIO : e;
        if (!same_dir && sdir != ddir) {
            if (sdir) { p.nlink--; np->nlink++; }
            else      { np->nlink--; p.nlink++; }
        }
        touch_c(&s, &now);
        touch_c(&d, &now);
        if ((e = idx_w_inode_put(fs->idx, &s)) ||
            (e = idx_w_inode_put(fs->idx, &d)))
            return e;
    } else {
        if (have_dst) {
            if (j->flags & RENAME_NOREPLACE)
                return -EEXIST;
            if (sdir && !ddir)
                return -ENOTDIR;
            if (!sdir && ddir)
                return -EISDIR;
            if (ddir) {
                e = idx_w_dir_empty(fs->idx, dino);
                if (e < 0)
                    return e;
                if (e == 0)
                    return -ENOTEMPTY;
            }
            if ((e = idx_w_unlink(fs->idx, j->ndir, j->nname, j->nlen)))
                return e == -ENOENT ? -EIO : e;
            if (ddir && np->nlink > 2)
                np->nlink--;
            j->victim = dino;
            j->victim_size = d.size;
        }
        if ((e = idx_w_unlink(fs->idx, j->dir, j->name, j->len)) ||
            (e = idx_w_link(fs->idx, j->ndir, j->nname, j->nlen, sino)))
            return e == -ENOENT || e == -EEXIST ? -EIO : e;
        if (sdir && !same_dir) {
            if (p.nlink > 2)
                p.nlink--;
            np->nlink++;
        }
        touch_c(&s, &now);
        if ((e = idx_w_inode_put(fs->idx, &s)))
            return e;
        if (have_dst && (e = drop_link(fs, &d, &now, &j->deleted)))
            return e;
    }
    touch_mc(&p, &now);
    if ((e = idx_w_inode_put(fs->idx, &p)))
        return e;
    if (!same_dir) {
        touch_mc(np, &now);
        if ((e = idx_w_inode_put(fs->idx, np)))
            return e;
    }
    return 0;
}

int fs_rename(struct fs_ctx *fs, uint64_t dir, const char *name,
              uint64_t ndir, const char *nname, unsigned flags)
{
    if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE))
        return -EINVAL;
    if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE))
        return -EINVAL;
    struct rename_job j = {
        .j = { .run = rename_run }, .dir = dir, .ndir = ndir, .name = name,
        .nname = nname, .flags = flags,
    };
    int e = check_name(name, &j.len);
    if (!e)
        e = check_name(nname, &j.nlen);
    if (e)
        return e;
    e = fs_writer_submit(fs, &j.j);
    if (!e && j.deleted)
        fs_inode_uncache(fs, j.victim, j.victim_size);
    return e;
}

/* ---- link ---- */
struct link_job {
    struct fs_job j;
    uint64_t ino, ndir;
    const char *nname;
    size_t nlen;
    struct idx_attr out;
};

static int link_run(struct fs_ctx *fs, struct fs_job *jj)
{
    struct link_job *j = (struct link_job *)jj;
    struct idx_attr p, *a = &j->out;
    int e = idx_w_inode_get(fs->idx, j->ino, a);
    if (e)
        return e;
    if (S_ISDIR(a->mode))
        return -EPERM;
    if (a->nlink == 0)
        return -ENOENT;
    if (a->nlink >= UINT32_MAX - 1)
        return -EMLINK;
    if ((e = get_dir(fs, j->ndir, &p)))
        return e;
    uint64_t other;
    e = idx_w_lookup(fs->idx, j->ndir, j->nname, j->nlen, &other);
    if (e == 0)
        return -EEXIST;
    if (e != -ENOENT)
        return e;
    struct timespec now;
    fs_now(&now);
    if ((e = idx_w_link(fs->idx, j->ndir, j->nname, j->nlen, j->ino)))
        return e == -EEXIST ? -EIO : e;
    a->nlink++;
    touch_c(a, &now);
    touch_mc(&p, &now);
    if ((e = idx_w_inode_put(fs->idx, a)))
        return e;
    return idx_w_inode_put(fs->idx, &p);
}

int fs_link(struct fs_ctx *fs, uint64_t ino, uint64_t ndir, const char *nname,
            struct idx_attr *out)
{
    struct link_job j = {
        .j = { .run = link_run }, .ino = ino, .ndir = ndir, .nname = nname,
    };
    int e = check_name(nname, &j.nlen);
    if (e)
        return e;
    e = fs_writer_submit(fs, &j.j);
    if (e)
        return e;
    /* The reply's attributes become the kernel's for every name of the
     * file: an open file's size may be ahead of the store (dirty blocks),
     * so they come from fs_getattr, not from the row the job wrote. */
    if (fs_getattr(fs, ino, out) != 0)
        *out = j.out;
    return 0;
}

/* ---- setattr (not size) ---- */
struct setattr_job {
    struct fs_job j;
    uint64_t ino;
    const struct fs_setattr *s;
    struct idx_attr out;
};

static int setattr_run(struct fs_ctx *fs, struct fs_job *jj)
{
    struct setattr_job *j = (struct setattr_job *)jj;
    const struct fs_setattr *s = j->s;
    struct idx_attr *a = &j->out;
    int e = idx_w_inode_get(fs->idx, j->ino, a);
    if (e)
        return e;
    struct timespec now;
    fs_now(&now);
    if (s->valid & FS_SET_MODE)
        a->mode = (a->mode & S_IFMT) | (s->mode & 07777);
    if (s->valid & FS_SET_UID)
        a->uid = s->uid;
    if (s->valid & FS_SET_GID)
        a->gid = s->gid;
    if ((s->valid & (FS_SET_UID | FS_SET_GID)) && !(s->valid & FS_SET_MODE) &&
        !S_ISDIR(a->mode) && s->caller_uid != 0) {
        /* chown(2) by anyone but root clears set-user-ID and, on a
         * group-executable file, set-group-ID (the kernel asks for this
         * too; doing it here keeps it true whatever the kernel does). */
        a->mode &= ~(uint32_t)S_ISUID;
        if (a->mode & S_IXGRP)
            a->mode &= ~(uint32_t)S_ISGID;
    }
    if (s->valid & FS_SET_ATIME_NOW)
        set_time(&a->atime_sec, &a->atime_nsec, &now);
    else if (s->valid & FS_SET_ATIME)
        set_time(&a->atime_sec, &a->atime_nsec, &s->atime);
    if (s->valid & FS_SET_MTIME_NOW)
        set_time(&a->mtime_sec, &a->mtime_nsec, &now);
    else if (s->valid & FS_SET_MTIME)
        set_time(&a->mtime_sec, &a->mtime_nsec, &s->mtime);
    touch_c(a, &now);
    return idx_w_inode_put(fs->idx, a);
}

int fs_setattr(struct fs_ctx *fs, uint64_t ino, const struct fs_setattr *s,
               struct idx_attr *out)
{
    struct setattr_job j = { .j = { .run = setattr_run }, .ino = ino, .s = s };
    int e = fs_writer_submit(fs, &j.j);
    if (!e)
        *out = j.out;
    return e;
}

/* ---- xattrs ---- */
struct xattr_job {
    struct fs_job j;
    uint64_t ino;
    const char *name;
    const void *val;              /* NULL: remove */
    size_t len;
    int flags;
};

static int xattr_run(struct fs_ctx *fs, struct fs_job *jj)
{
    struct xattr_job *j = (struct xattr_job *)jj;
    struct idx_attr a;
    int e = idx_w_inode_get(fs->idx, j->ino, &a);
    if (e)
        return e;
    if (j->val)
        e = idx_w_xattr_set(fs->idx, j->ino, j->name, j->val, j->len, j->flags);
    else
        e = idx_w_xattr_remove(fs->idx, j->ino, j->name);
    if (e)
        return e;
    struct timespec now;
    fs_now(&now);
    touch_c(&a, &now);
    return idx_w_inode_put(fs->idx, &a);
}

int fs_xattr_set(struct fs_ctx *fs, uint64_t ino, const char *name,
                 const void *val, size_t len, int flags)
{
    static const char empty = 0;
    struct xattr_job j = {
        .j = { .run = xattr_run }, .ino = ino, .name = name,
        .val = val ? val : &empty, .len = len, .flags = flags,
    };
    return fs_writer_submit(fs, &j.j);
}

int fs_xattr_remove(struct fs_ctx *fs, uint64_t ino, const char *name)
{
    struct xattr_job j = { .j = { .run = xattr_run }, .ino = ino, .name = name };
    return fs_writer_submit(fs, &j.j);
}
