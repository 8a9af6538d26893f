/* idx_stmt.c — every SQL statement of the store, the per-connection
 * prepared-statement cache, and the SQLite-to-errno map. */
#include <errno.h>
#include <time.h>

#include "index/idx_int.h"

/* Texts indexed by enum idx_stmt.  Each is prepared once per connection
 * with SQLITE_PREPARE_PERSISTENT and reused with bound parameters. */
static const char *const stmt_sql[ST__COUNT] = {
    [ST_BEGIN]    = "BEGIN IMMEDIATE",
    [ST_COMMIT]   = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",

    [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [ST_META_PUT] = "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",

    [ST_INODE_GET] = "SELECT mode, uid, gid, nlink, size, rdev, atime_s, atime_ns, "
                     "mtime_s, mtime_ns, ctime_s, ctime_ns FROM inodes WHERE ino = ?1",
    [ST_INODE_INS] = "INSERT INTO inodes(ino, mode, uid, gid, nlink, size, rdev, "
                     "atime_s, atime_ns, mtime_s, mtime_ns, ctime_s, ctime_ns) "
                     "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    [ST_INODE_PUT] = "UPDATE inodes SET mode = ?2, uid = ?3, gid = ?4, nlink = ?5, "
                     "size = ?6, rdev = ?7, atime_s = ?8, atime_ns = ?9, "
                     "mtime_s = ?10, mtime_ns = ?11, ctime_s = ?12, ctime_ns = ?13 "
                     "WHERE ino = ?1",
    [ST_INODE_DEL] = "DELETE FROM inodes WHERE ino = ?1",
    [ST_ORPHANS]   = "SELECT ino FROM inodes WHERE nlink = 0",

    [ST_LOOKUP]    = "SELECT ino FROM dentries WHERE dir = ?1 AND name = ?2",
    [ST_LINK]      = "INSERT INTO dentries(dir, name, ino) VALUES(?1, ?2, ?3)",
    [ST_UNLINK]    = "DELETE FROM dentries WHERE dir = ?1 AND name = ?2",
    [ST_DIR_EMPTY] = "SELECT 1 FROM dentries WHERE dir = ?1 LIMIT 1",
    /* LEFT JOIN: an entry whose inode row is missing (damage) still lists,
     * with mode 0, instead of vanishing silently. */
    [ST_READDIR]   = "SELECT d.name, d.ino, i.mode, d.cookie FROM dentries AS d "
                     "LEFT JOIN inodes AS i ON i.ino = d.ino "
                     "WHERE d.dir = ?1 AND d.cookie > ?2 ORDER BY d.cookie",

    [ST_SYMLINK_SET] = "INSERT INTO symlinks(ino, target) VALUES(?1, ?2) "
                       "ON CONFLICT(ino) DO UPDATE SET target = excluded.target",
    [ST_SYMLINK_GET] = "SELECT target FROM symlinks WHERE ino = ?1",
    [ST_SYMLINK_DEL] = "DELETE FROM symlinks WHERE ino = ?1",

    [ST_XATTR_GET]     = "SELECT value FROM xattrs WHERE ino = ?1 AND name = ?2",
    [ST_XATTR_INS]     = "INSERT INTO xattrs(ino, name, value) VALUES(?1, ?2, ?3)",
    [ST_XATTR_UPD]     = "UPDATE xattrs SET value = ?3 WHERE ino = ?1 AND name = ?2",
    [ST_XATTR_LIST]    = "SELECT name FROM xattrs WHERE ino = ?1 ORDER BY name",
    [ST_XATTR_DEL]     = "DELETE FROM xattrs WHERE ino = ?1 AND name = ?2",
    [ST_XATTR_DEL_INO] = "DELETE FROM xattrs WHERE ino = ?1",

    [ST_BLOCK_GET]  = "SELECT seg, off, len, raw_len, codec, crc, gen FROM blocks "
                      "WHERE ino = ?1 AND blkno = ?2",
    [ST_BLOCK_INS]  = "INSERT INTO blocks(ino, blkno, seg, off, len, raw_len, codec, "
                      "crc, gen) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [ST_BLOCK_UPD]  = "UPDATE blocks SET seg = ?3, off = ?4, len = ?5, raw_len = ?6, "
                      "codec = ?7, crc = ?8, gen = ?9 WHERE ino = ?1 AND blkno = ?2",
    [ST_BLOCK_TRUNC] = "DELETE FROM blocks WHERE ino = ?1 AND blkno >= ?2",
    /* Compaction moves a row only if nothing rewrote it meanwhile. */
    [ST_BLOCK_MOVE] = "UPDATE blocks SET seg = ?5, off = ?6 WHERE ino = ?1 "
                      "AND blkno = ?2 AND seg = ?3 AND off = ?4",
    [ST_BLOCKS_IN_SEG]  = "SELECT ino, blkno, off, len, raw_len, codec, crc FROM blocks "
                          "WHERE seg = ?1 ORDER BY off",
    [ST_BLOCK_SEG_USED] = "SELECT 1 FROM blocks WHERE seg = ?1 LIMIT 1",
    [ST_BLOCK_DEL]      = "DELETE FROM blocks WHERE ino = ?1 AND blkno = ?2",
    /* A range scan of the primary key (ino, blkno): no table walk. */
    [ST_BLOCK_USAGE]    = "SELECT count(*), coalesce(sum(len), 0) FROM blocks "
                          "WHERE ino = ?1",

    [ST_SEG_LIST]  = "SELECT id, live FROM segments ORDER BY id",
    [ST_SEG_GET]   = "SELECT live FROM segments WHERE id = ?1",
    [ST_SEG_DEL]   = "DELETE FROM segments WHERE id = ?1",
    [ST_SEG_MAX]   = "SELECT max(coalesce((SELECT max(id) FROM segments), 0), "
                     "coalesce((SELECT max(seg) FROM blocks), 0))",

    [ST_QUEUE_PUSH] = "INSERT INTO queue(ino, blkno, t) VALUES(?1, ?2, ?3) "
                      "ON CONFLICT(ino, blkno) DO UPDATE SET t = excluded.t",
    [ST_QUEUE_PEEK] = "SELECT ino, blkno FROM queue ORDER BY t, seq LIMIT ?1",
    [ST_QUEUE_PEEK_BEFORE] = "SELECT ino, blkno FROM queue WHERE t <= ?2 "
                             "ORDER BY t, seq LIMIT ?1",
    [ST_QUEUE_DEL]      = "DELETE FROM queue WHERE ino = ?1 AND blkno = ?2",
    [ST_QUEUE_DEL_FROM] = "DELETE FROM queue WHERE ino = ?1 AND blkno >= ?2",

    [ST_TOTALS] = "SELECT n_inodes, n_blocks, raw_bytes, payload_bytes FROM totals "
                  "WHERE id = 0",
    /* SEEK_DATA / SEEK_HOLE: the block numbers of a file from ?2 up, in
     * order (a range scan of the primary key). */
    [ST_BLOCK_FROM] = "SELECT blkno FROM blocks WHERE ino = ?1 AND blkno >= ?2 "
                      "AND blkno < ?3 ORDER BY blkno",
};

int idx_sqlerr(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE:     return 0;
    case SQLITE_FULL:     return -ENOSPC;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:   return -EBUSY;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:   return -EUCLEAN;
    case SQLITE_NOMEM:    return -ENOMEM;
    case SQLITE_READONLY: return -EROFS;
    case SQLITE_TOOBIG:   return -E2BIG;
    case SQLITE_CONSTRAINT: return -EEXIST;
    case SQLITE_CANTOPEN: return -ENOENT;
    case SQLITE_PERM:
    case SQLITE_AUTH:     return -EACCES;
    default:              return -EIO;   /* IOERR and everything unexpected */
    }
}

sqlite3_stmt *idx_stmt(sqlite3 *db, sqlite3_stmt **cache, enum idx_stmt id,
                       int *rc)
{
    if (cache[id])
        return cache[id];
    int r = sqlite3_prepare_v3(db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                               &cache[id], NULL);
    if (r != SQLITE_OK) {
        sqlite3_finalize(cache[id]);
        cache[id] = NULL;
        *rc = idx_sqlerr(r);
        if (*rc == 0)
            *rc = -EIO;
        return NULL;
    }
    return cache[id];
}

int idx_exec_stmt(sqlite3_stmt *s)
{
    int r = sqlite3_step(s);
    int rc = (r == SQLITE_DONE || r == SQLITE_ROW) ? 0 : idx_sqlerr(r);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc;
}

int idx_exec(sqlite3 *db, const char *sql)
{
    int r = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return r == SQLITE_OK ? 0 : idx_sqlerr(r);
}

void idx_finalize_all(sqlite3_stmt **cache)
{
    for (int i = 0; i < ST__COUNT; i++) {
        sqlite3_finalize(cache[i]);
        cache[i] = NULL;
    }
}

int64_t idx_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
