/* idx_open.c — opening, creating, locking and closing a store; reader
 * connections; connection pragmas. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/idx_int.h"

#define BUSY_TIMEOUT_MS 5000
#define IDX_QUICK_CHECK_MAX (256ull << 20)   /* bytes of database */

/* Pragmas of every writer connection.  synchronous=NORMAL: in WAL mode a
 * commit then costs no fsync and survives a crash of the process; commits
 * that must survive power loss are made so by idx_w_commit(x, 1).
 * journal_size_limit keeps a WAL that grew during a large transaction from
 * staying large after the next checkpoint. */
static const char writer_pragmas[] =
    "PRAGMA synchronous = NORMAL;"
    "PRAGMA foreign_keys = OFF;"
    "PRAGMA temp_store = MEMORY;"
    "PRAGMA cache_size = -16384;"
    "PRAGMA journal_size_limit = 67108864;";

static int meta_get(sqlite3 *db, sqlite3_stmt **cache, const char *key,
                    int64_t *out)
{
    int rc = 0;
    sqlite3_stmt *s = idx_stmt(db, cache, ST_META_GET, &rc);
    if (!s)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int r = sqlite3_step(s);
    if (r == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    rc = r == SQLITE_ROW ? 0 : r == SQLITE_DONE ? -ENOENT : idx_sqlerr(r);
    sqlite3_reset(s);
    return rc;
}

static int meta_put(sqlite3 *db, sqlite3_stmt **cache, const char *key,
                    int64_t v)
{
    int rc = 0;
    sqlite3_stmt *s = idx_stmt(db, cache, ST_META_PUT, &rc);
    if (!s)
        return rc;
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, v);
    return idx_exec_stmt(s);
}

/* 1 if the directory open at fd holds nothing but the names that `skip`
 * accepts, 0 if it holds anything else, or -errno.  Takes ownership of fd. */
static int only_names(int fd, int (*skip)(int fd, const char *name))
{
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    int empty = 1;
    struct dirent *de;
    while (empty && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
            !skip(dirfd(d), de->d_name))
            empty = 0;
    closedir(d);
    return empty;
}

static int skip_none(int fd, const char *name)
{
    (void)fd; (void)name;
    return 0;
}

/* What a half-finished creation or a fresh file system leaves behind:
 * lost+found, our lock, our temporary database, an empty segments/. */
static int skip_fresh(int fd, const char *n)
{
    if (!strcmp(n, "lost+found") || !strcmp(n, IDX_LOCK_NAME) ||
        !strncmp(n, IDX_NEW_DB, strlen(IDX_NEW_DB)))
        return 1;
    if (!strcmp(n, IDX_SEG_DIR))
        return only_names(openat(fd, n, O_RDONLY | O_DIRECTORY | O_CLOEXEC),
                          skip_none) == 1;
    return 0;
}

static int dir_is_empty(int dirfd)
{
    return only_names(openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC),
                      skip_fresh);
}

/* The store holds the data of every file written through the mount: only
 * its owner may read it, whatever the umask (docs/FORMAT-store.md). */
#define STORE_DIR_MODE  0700
#define STORE_FILE_MODE 0600

/* mkdirat that gives the folder STORE_DIR_MODE even under a umask that
 * takes owner bits away; -EEXIST if it exists (left as it is). */
static int mkdir_private(int dirfd, const char *name)
{
    if (mkdirat(dirfd, name, STORE_DIR_MODE) != 0)
        return -errno;
    if (fchmodat(dirfd, name, STORE_DIR_MODE, 0) != 0)
        return -errno;
    return 0;
}

/* Creates the empty file `name` (which must not exist) with
 * STORE_FILE_MODE.  SQLite gives a database it creates the mode 0644 minus
 * the umask, and its -wal, -shm and -journal files the database's mode, so
 * the database file is made here first and SQLite opens it empty. */
static int create_private(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                    STORE_FILE_MODE);
    if (fd < 0)
        return -errno;
    int rc = fchmod(fd, STORE_FILE_MODE) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* Sets the mode of `name` in dirfd (a regular file or a folder whose stat
 * is *st, never a symlink's target) to mode if it differs: 0 or -errno. */
static int set_mode_at(int dirfd, const char *name, const struct stat *st,
                       mode_t mode)
{
    if ((st->st_mode & 07777) == mode)
        return 0;
    return fchmodat(dirfd, name, mode, 0) == 0 ? 0 : -errno;
}

/* Gives every regular file in the folder open at dirfd STORE_FILE_MODE;
 * at the top (the store folder) also segments/ STORE_DIR_MODE and its
 * files likewise.  Other entries (lost+found) are left alone. */
static int tighten_dir(struct idx *x, int dirfd, int top, char *msg,
                       size_t msg_cap)
{
    const char *sub = top ? "" : IDX_SEG_DIR "/";
    const char *here = top ? "" : "/" IDX_SEG_DIR;
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        int rc = -errno;
        if (fd >= 0)
            close(fd);
        snprintf(msg, msg_cap, "cannot read %s%s: %s", x->dir, here, strerror(-rc));
        return rc;
    }
    int rc = 0;
    struct dirent *de;
    for (errno = 0; rc == 0 && (de = readdir(d)) != NULL; errno = 0) {
        const char *n = de->d_name;
        struct stat st;
        if (!strcmp(n, ".") || !strcmp(n, ".."))
            continue;
        if (fstatat(dirfd, n, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = errno == ENOENT ? 0 : -errno;
        } else if (S_ISREG(st.st_mode)) {
            rc = set_mode_at(dirfd, n, &st, STORE_FILE_MODE);
        } else if (top && S_ISDIR(st.st_mode) && !strcmp(n, IDX_SEG_DIR)) {
            rc = set_mode_at(dirfd, n, &st, STORE_DIR_MODE);
            int sfd = rc ? -1 : openat(dirfd, n, O_RDONLY | O_DIRECTORY |
                                       O_NOFOLLOW | O_CLOEXEC);
            if (rc == 0 && sfd < 0)
                rc = -errno;
            if (sfd >= 0) {
                rc = tighten_dir(x, sfd, 0, msg, msg_cap);
                close(sfd);
                if (rc)
                    break;     /* the message names the file already */
            }
        }
        if (rc)
            snprintf(msg, msg_cap, "cannot make %s/%s%s private: %s", x->dir, sub,
                     n, strerror(-rc));
    }
    if (rc == 0 && errno != 0) {
        rc = -errno;
        snprintf(msg, msg_cap, "cannot read %s%s: %s", x->dir, here, strerror(-rc));
    }
    closedir(d);
    return rc;
}

/* Every writable open makes the store private again, so that a store made
 * under a loose umask (or by an older fadefs) or loosened since is closed
 * to other users before it takes more data: the store folder itself (when
 * it is ours: it may be someone's mount point), segments/ and every file. */
static int tighten_store(struct idx *x, char *msg, size_t msg_cap)
{
    struct stat st;
    int rc = fstat(x->dirfd, &st) == 0 ? 0 : -errno;
    if (rc == 0 && st.st_uid == geteuid() &&
        (st.st_mode & 07777) != STORE_DIR_MODE && fchmod(x->dirfd, STORE_DIR_MODE) != 0)
        rc = -errno;
    if (rc != 0) {
        snprintf(msg, msg_cap, "cannot make %s private: %s", x->dir, strerror(-rc));
        return rc;
    }
    return tighten_dir(x, x->dirfd, 1, msg, msg_cap);
}

static int fsync_at(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

/* Builds a complete store database under a temporary name and renames it
 * into place, so that a crash during creation never leaves a fadefs.db
 * that is half made: the next create simply starts over. */
static int create_store(struct idx *x, uint32_t block_size, char *msg, size_t msg_cap)
{
    static const char *const leftovers[] = {
        IDX_NEW_DB, IDX_NEW_DB "-wal", IDX_NEW_DB "-shm", IDX_NEW_DB "-journal",
    };
    char path[4096];
    sqlite3 *db = NULL;
    int rc;

    for (size_t i = 0; i < sizeof leftovers / sizeof leftovers[0]; i++)
        if (unlinkat(x->dirfd, leftovers[i], 0) != 0 && errno != ENOENT) {
            rc = -errno;
            snprintf(msg, msg_cap, "cannot remove %s: %s", leftovers[i], strerror(-rc));
            return rc;
        }
    if ((rc = mkdir_private(x->dirfd, IDX_SEG_DIR)) != 0 && rc != -EEXIST) {
        snprintf(msg, msg_cap, "cannot create %s/%s: %s", x->dir, IDX_SEG_DIR,
                 strerror(-rc));
        return rc;
    }
    if ((rc = create_private(x->dirfd, IDX_NEW_DB)) != 0) {
        snprintf(msg, msg_cap, "cannot create %s/%s: %s", x->dir, IDX_NEW_DB,
                 strerror(-rc));
        return rc;
    }
    snprintf(path, sizeof path, "%s/%s", x->dir, IDX_NEW_DB);
    int r = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                            SQLITE_OPEN_NOMUTEX, NULL);
    if (r != SQLITE_OK) {
        snprintf(msg, msg_cap, "cannot create %s: %s", path,
                 db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return idx_sqlerr(r) ? idx_sqlerr(r) : -EIO;
    }
    sqlite3_extended_result_codes(db, 1);   /* idx_sqlerr tells constraints apart */
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL;"
             "PRAGMA application_id = %d; PRAGMA user_version = %d;",
             IDX_APPLICATION_ID, IDX_WRITE_VERSION);
    rc = idx_exec(db, pragmas);
    if (rc == 0)
        rc = idx_exec(db, "BEGIN");
    if (rc == 0) {
        rc = idx_schema_create(db, block_size, msg, msg_cap);
        if (rc == 0)
            rc = idx_exec(db, "COMMIT");
        else
            idx_exec(db, "ROLLBACK");
    }
    if (rc != 0 && !msg[0])
        snprintf(msg, msg_cap, "cannot create the store: %s", sqlite3_errmsg(db));
    /* Closing the last connection checkpoints the WAL into the file. */
    r = sqlite3_close(db);
    if (rc == 0 && r != SQLITE_OK) {
        rc = -EIO;
        snprintf(msg, msg_cap, "cannot close the new database");
    }
    if (rc == 0 && (rc = fsync_at(x->dirfd, IDX_NEW_DB)) != 0)
        snprintf(msg, msg_cap, "cannot sync the new database: %s", strerror(-rc));
    if (rc == 0 && renameat(x->dirfd, IDX_NEW_DB, x->dirfd, IDX_DB_NAME) != 0) {
        rc = -errno;
        snprintf(msg, msg_cap, "cannot rename the new database: %s", strerror(-rc));
    }
    if (rc == 0 && fsync(x->dirfd) != 0) {
        rc = -errno;
        snprintf(msg, msg_cap, "cannot sync %s: %s", x->dir, strerror(-rc));
    }
    return rc;
}

static int take_lock(struct idx *x, char *msg, size_t msg_cap)
{
    x->lockfd = openat(x->dirfd, IDX_LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC,
                       STORE_FILE_MODE);
    if (x->lockfd < 0 && x->read_only)
        x->lockfd = openat(x->dirfd, IDX_LOCK_NAME, O_RDONLY | O_CLOEXEC);
    if (x->lockfd < 0) {
        int rc = -errno;
        snprintf(msg, msg_cap, "cannot open %s/%s: %s", x->dir, IDX_LOCK_NAME,
                 strerror(-rc));
        return rc;
    }
    /* Readers (fsck, stats) may share; a mount excludes everyone. */
    if (flock(x->lockfd, (x->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
        int rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
        snprintf(msg, msg_cap, rc == -EBUSY ? "store %s is in use (already mounted?)"
                                            : "cannot lock store %s", x->dir);
        return rc;
    }
    return 0;
}

struct sweep {
    struct idx *x;
    uint64_t    max_id;
    int         rc;
};

/* A segment file with no segments row and no block pointing into it holds
 * only payloads whose rows never committed: delete it.  Runs at open, under
 * the lock, before the new active segment exists. */
static int sweep_one(void *arg, uint64_t id)
{
    static const enum idx_stmt uses[] = { ST_SEG_GET, ST_BLOCK_SEG_USED };
    struct sweep *sw = arg;
    struct idx *x = sw->x;
    int rc = 0;

    if (id > sw->max_id)
        sw->max_id = id;
    for (size_t i = 0; i < sizeof uses / sizeof uses[0]; i++) {
        sqlite3_stmt *s = idx_stmt(x->db, x->st, uses[i], &rc);
        if (!s)
            return rc;
        sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
        int r = sqlite3_step(s);
        sqlite3_reset(s);
        if (r == SQLITE_ROW)
            return 0;
        if (r != SQLITE_DONE)
            return idx_sqlerr(r);
    }
    char name[SEG_NAME_LEN];
    seg_name(name, id);
    if (unlinkat(x->seg.dirfd, name, 0) != 0 && errno != ENOENT)
        return -errno;
    return 0;
}

static int open_segments(struct idx *x, uint64_t segment_max, char *msg, size_t msg_cap)
{
    int rc = 0;
    int sfd = openat(x->dirfd, IDX_SEG_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sfd < 0 && errno == ENOENT && !x->read_only) {
        rc = mkdir_private(x->dirfd, IDX_SEG_DIR);
        if (rc == 0 && fsync(x->dirfd) != 0)
            rc = -errno;
        if (rc == 0)
            sfd = openat(x->dirfd, IDX_SEG_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rc == 0 && sfd < 0)
            rc = -errno;
    } else if (sfd < 0) {
        rc = -errno;
    }
    if (sfd < 0) {
        snprintf(msg, msg_cap, "cannot open %s/%s: %s", x->dir, IDX_SEG_DIR,
                 strerror(-rc));
        return rc;
    }
    seg_store_init(&x->seg, sfd, segment_max, NULL);
    if (x->read_only)
        return 0;

    struct sweep sw = { .x = x };
    rc = seg_list(&x->seg, sweep_one, &sw);
    if (rc == 0 && (rc = fsync(sfd) == 0 ? 0 : -errno) == 0) {
        sqlite3_stmt *s = idx_stmt(x->db, x->st, ST_SEG_MAX, &rc);
        if (s) {
            int r = sqlite3_step(s);
            uint64_t db_max = r == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
            rc = r == SQLITE_ROW ? 0 : idx_sqlerr(r) ? idx_sqlerr(r) : -EIO;
            sqlite3_reset(s);
            if (db_max > sw.max_id)
                sw.max_id = db_max;
        }
    }
    /* Every open appends to a fresh segment, created on the first append
     * (a mount that writes nothing leaves no file behind), so that whatever
     * torn tail a crash left in the last one is never followed by new
     * records. */
    if (rc == 0)
        x->seg.next_id = sw.max_id + 1;
    if (rc != 0)
        snprintf(msg, msg_cap, "cannot prepare segments in %s/%s: %s", x->dir,
                 IDX_SEG_DIR, strerror(-rc));
    return rc;
}

/* Checks identity, format versions and schema of the opened database. */
static int check_db(struct idx *x, char *msg, size_t msg_cap)
{
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(x->db, "PRAGMA application_id", -1, &s, NULL);
    if (r == SQLITE_OK)
        r = sqlite3_step(s);
    int64_t app = r == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    if (r != SQLITE_ROW) {
        int rc = idx_sqlerr(r);
        if (rc == 0 || rc == -EIO)
            rc = -EUCLEAN;
        snprintf(msg, msg_cap, "%s/%s is damaged or not a database: %s", x->dir,
                 IDX_DB_NAME, sqlite3_errmsg(x->db));
        return rc;
    }
    if (app != IDX_APPLICATION_ID) {
        snprintf(msg, msg_cap, "%s/%s is not a fadefs database (application_id %#llx)",
                 x->dir, IDX_DB_NAME, (unsigned long long)app);
        return -EINVAL;
    }
    int rc = idx_schema_check(x->db, msg, msg_cap);
    if (rc != 0)
        return rc;

    int64_t rv = 0, wv = 0, bs = 0;
    if ((rc = meta_get(x->db, x->st, "read_version", &rv)) != 0 ||
        (rc = meta_get(x->db, x->st, "write_version", &wv)) != 0 ||
        (rc = meta_get(x->db, x->st, "block_size", &bs)) != 0) {
        snprintf(msg, msg_cap, "damaged store: meta table incomplete");
        return rc == -ENOENT ? -EUCLEAN : rc;
    }
    if (rv > IDX_READ_VERSION) {
        snprintf(msg, msg_cap, "store format %lld is newer than this fadefs reads (%d)",
                 (long long)rv, IDX_READ_VERSION);
        return -EPROTO;
    }
    if (wv > IDX_WRITE_VERSION) {
        /* Like SQLite's write version byte: we can read it, not write it. */
        x->read_only = 1;
        snprintf(msg, msg_cap, "store format %lld is newer than this fadefs writes "
                 "(%d): opened read-only", (long long)wv, IDX_WRITE_VERSION);
    }
    if (bs <= 0 || bs > (1 << 30)) {
        snprintf(msg, msg_cap, "damaged store: block size %lld", (long long)bs);
        return -EUCLEAN;
    }
    if (wv < IDX_WRITE_VERSION) {
        /* An older store: a writable open upgrades it in place; a read-only
         * one cannot, and the calls that need the new columns then fail. */
        x->version = wv;
        if (!x->read_only && (rc = idx_schema_upgrade(x->db, wv, msg, msg_cap)) != 0)
            return rc;
        if (!x->read_only)
            x->version = IDX_WRITE_VERSION;
    } else {
        x->version = IDX_WRITE_VERSION;
    }
    x->block_size = (uint32_t)bs;

    /* quick_check reads every page: O(database).  The database holds no
     * payloads, only about 56 bytes per block, and quick_check costs about
     * 0.65 us per block (tests/tools/idx_bench: 0.13 s for 200k blocks),
     * so a store of 64 GiB of 64 KiB blocks checks in under a second.
     * Past IDX_QUICK_CHECK_MAX the check would make every mount slow; then
     * only the schema check above runs (fsck can do the full one). */
    struct stat dbst;
    if (fstatat(x->dirfd, IDX_DB_NAME, &dbst, 0) == 0 &&
        (uint64_t)dbst.st_size > IDX_QUICK_CHECK_MAX)
        return 0;
    r = sqlite3_prepare_v2(x->db, "PRAGMA quick_check(1)", -1, &s, NULL);
    if (r == SQLITE_OK)
        r = sqlite3_step(s);
    int ok = r == SQLITE_ROW &&
             strcmp((const char *)sqlite3_column_text(s, 0), "ok") == 0;
    if (!ok)
        snprintf(msg, msg_cap, "damaged store: quick_check says %s",
                 r == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0)
                                 : sqlite3_errmsg(x->db));
    sqlite3_finalize(s);
    if (!ok)
        return r == SQLITE_ROW || idx_sqlerr(r) == -EIO ? -EUCLEAN
               : idx_sqlerr(r) ? idx_sqlerr(r) : -EUCLEAN;
    return 0;
}

/* Block generations: gen = epoch << 40 | counter.  The epoch is bumped and
 * committed at every writable open, so generations never repeat across
 * mounts even though the counter lives in memory. */
static int start_gen_epoch(struct idx *x)
{
    int64_t epoch = 0;
    int rc = meta_get(x->db, x->st, "gen_epoch", &epoch);
    if (rc == -ENOENT)
        epoch = 0, rc = 0;
    if (rc == 0)
        rc = meta_put(x->db, x->st, "gen_epoch", epoch + 1);
    x->gen_next = ((uint64_t)(epoch + 1) << 40) + 1;
    return rc;
}

static int open_db(struct idx *x, char *msg, size_t msg_cap)
{
    int flags = (x->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
                SQLITE_OPEN_NOMUTEX;
    int r = sqlite3_open_v2(x->db_path, &x->db, flags, NULL);
    if (r != SQLITE_OK) {
        snprintf(msg, msg_cap, "cannot open %s: %s", x->db_path,
                 x->db ? sqlite3_errmsg(x->db) : "out of memory");
        return idx_sqlerr(r) ? idx_sqlerr(r) : -EIO;
    }
    sqlite3_extended_result_codes(x->db, 1);
    sqlite3_busy_timeout(x->db, BUSY_TIMEOUT_MS);
    int rc = check_db(x, msg, msg_cap);
    if (rc != 0)
        return rc;
    if (x->read_only)
        return idx_exec(x->db, "PRAGMA query_only = 1");
    sqlite3_stmt *s = NULL;
    r = sqlite3_prepare_v2(x->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
    if (r == SQLITE_OK)
        r = sqlite3_step(s);
    int wal = r == SQLITE_ROW &&
              strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0;
    sqlite3_finalize(s);
    if (!wal) {
        snprintf(msg, msg_cap, "cannot put %s in WAL mode: %s", x->db_path,
                 sqlite3_errmsg(x->db));
        return r == SQLITE_ROW ? -EIO : idx_sqlerr(r) ? idx_sqlerr(r) : -EIO;
    }
    rc = idx_exec(x->db, writer_pragmas);
    if (rc == 0)
        rc = start_gen_epoch(x);
    if (rc != 0)
        snprintf(msg, msg_cap, "cannot set up %s: %s", x->db_path, sqlite3_errmsg(x->db));
    return rc;
}

int idx_open(struct idx **out, const char *dir, const struct idx_opts *opts,
             char *msg, size_t msg_cap)
{
    char dummy[1];
    static const struct idx_opts defaults = { 0 };
    int rc;

    *out = NULL;
    if (!msg || msg_cap == 0) {
        msg = dummy;
        msg_cap = sizeof dummy;
    }
    msg[0] = 0;
    if (!opts)
        opts = &defaults;
    struct idx *x = calloc(1, sizeof *x);
    if (!x)
        return -ENOMEM;
    x->dirfd = x->lockfd = -1;
    x->seg.dirfd = -1;
    x->seg.wfd = -1;
    x->read_only = opts->read_only;
    x->dir = strdup(dir);
    size_t plen = strlen(dir) + sizeof "/" IDX_DB_NAME;
    x->db_path = malloc(plen);
    if (!x->dir || !x->db_path) {
        rc = -ENOMEM;
        goto fail;
    }
    snprintf(x->db_path, plen, "%s/%s", dir, IDX_DB_NAME);

    x->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (x->dirfd < 0) {
        rc = -errno;
        snprintf(msg, msg_cap, "cannot open %s: %s", dir, strerror(-rc));
        goto fail;
    }
    if (faccessat(x->dirfd, IDX_DB_NAME, F_OK, 0) != 0) {
        if (errno != ENOENT) {
            rc = -errno;
            snprintf(msg, msg_cap, "cannot access %s: %s", x->db_path, strerror(-rc));
            goto fail;
        }
        rc = dir_is_empty(x->dirfd);
        if (rc < 0) {
            snprintf(msg, msg_cap, "cannot read %s: %s", dir, strerror(-rc));
            goto fail;
        }
        if (rc == 0 || !opts->create || opts->read_only) {
            snprintf(msg, msg_cap, rc == 0 ? "%s is not a fadefs store (not empty, no %s)"
                                           : "%s holds no fadefs store (%s missing)",
                     dir, IDX_DB_NAME);
            rc = -EINVAL;
            goto fail;
        }
        uint32_t bs = opts->block_size ? opts->block_size : 65536;
        if ((rc = take_lock(x, msg, msg_cap)) != 0 ||
            (rc = tighten_store(x, msg, msg_cap)) != 0 ||
            (rc = create_store(x, bs, msg, msg_cap)) != 0)
            goto fail;
        x->created = 1;
    } else if ((rc = take_lock(x, msg, msg_cap)) != 0 ||
               (!x->read_only && (rc = tighten_store(x, msg, msg_cap)) != 0)) {
        goto fail;
    }
    if ((rc = open_db(x, msg, msg_cap)) != 0 ||
        (rc = open_segments(x, opts->segment_max, msg, msg_cap)) != 0)
        goto fail;
    /* The -wal and -shm files now exist; make their names durable. */
    if (!x->read_only && fsync(x->dirfd) != 0) {
        rc = -errno;
        snprintf(msg, msg_cap, "cannot sync %s: %s", dir, strerror(-rc));
        goto fail;
    }
    *out = x;
    return 0;
fail:
    if (!msg[0])
        snprintf(msg, msg_cap, "cannot open store %s: %s", dir, strerror(-rc));
    idx_close(x);
    return rc;
}

void idx_close(struct idx *x)
{
    if (!x)
        return;
    if (x->db && !x->read_only) {
        if (!sqlite3_get_autocommit(x->db))
            idx_exec(x->db, "ROLLBACK");
        seg_sync(&x->seg);
    }
    idx_finalize_all(x->st);
    if (x->db)
        sqlite3_close_v2(x->db);
    seg_store_fini(&x->seg);
    if (x->lockfd >= 0)
        close(x->lockfd);   /* drops the flock */
    if (x->dirfd >= 0)
        close(x->dirfd);
    free(x->db_path);
    free(x->dir);
    free(x);
}

uint32_t idx_block_size(const struct idx *x)
{
    return x->block_size;
}

int idx_read_only(const struct idx *x)
{
    return x->read_only;
}

int idx_created(const struct idx *x)
{
    return x->created;
}

int idx_rd_open(struct idx *x, struct idx_rd **out)
{
    *out = NULL;
    struct idx_rd *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->x = x;
    int rv = sqlite3_open_v2(x->db_path, &r->db,
                             SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    int rc = rv == SQLITE_OK ? 0 : idx_sqlerr(rv) ? idx_sqlerr(rv) : -EIO;
    if (rc == 0) {
        sqlite3_extended_result_codes(r->db, 1);
        /* A WAL reader waits only while another connection runs recovery. */
        sqlite3_busy_timeout(r->db, BUSY_TIMEOUT_MS);
        rc = idx_exec(r->db, "PRAGMA cache_size = -4096; PRAGMA temp_store = MEMORY;");
    }
    if (rc != 0) {
        idx_rd_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

void idx_rd_close(struct idx_rd *r)
{
    if (!r)
        return;
    idx_finalize_all(r->st);
    sqlite3_close_v2(r->db);
    free(r);
}

void idx_test_set_sys(struct idx *x, const struct seg_sys *sys)
{
    x->seg.sys = sys ? sys : &seg_sys_default;
}
