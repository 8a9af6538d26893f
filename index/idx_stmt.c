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
    /* New data: whatever the compressor knew of the old version is void. */
    [ST_BLOCK_UPD]  = "UPDATE blocks SET seg = ?3, off = ?4, len = ?5, raw_len = ?6, "
                      "codec = ?7, crc = ?8, gen = ?9, model = 0, kept = 0 "
                      "WHERE ino = ?1 AND blkno = ?2",
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

    /* The compressor's compare-and-swap: the row changes only if nobody
     * rewrote the block since the coder read it (gen ?9 unchanged). */
    [ST_BLOCK_SWAP] = "UPDATE blocks SET seg = ?3, off = ?4, len = ?5, codec = ?6, "
                      "crc = ?7, model = ?8, kept = 0, gen = ?10 "
                      "WHERE ino = ?1 AND blkno = ?2 AND gen = ?9 AND raw_len = ?11",
    [ST_BLOCK_KEEP] = "UPDATE blocks SET kept = ?4 WHERE ino = ?1 AND blkno = ?2 "
                      "AND gen = ?3",
    [ST_BLOCK_DEL_GEN] = "DELETE FROM blocks WHERE ino = ?1 AND blkno = ?2 AND gen = ?3",
    /* Blocks kept raw by another model get another chance with this one.
     * (WHERE true: SQLite's parser needs it before an upsert clause.) */
    [ST_REQUEUE_KEPT] = "INSERT INTO queue(ino, blkno, t) SELECT ino, blkno, ?2 "
                        "FROM blocks WHERE kept != 0 AND kept != ?1 AND true "
                        "ON CONFLICT(ino, blkno) DO NOTHING",
    [ST_UNKEEP]     = "UPDATE blocks SET kept = 0 WHERE kept != 0 AND kept != ?1",
    [ST_CENSUS_ALL] = "SELECT codec, model, kept, count(*), sum(raw_len), sum(len) "
                      "FROM blocks GROUP BY codec, model, kept "
                      "ORDER BY codec, model, kept",
    [ST_CENSUS_INO] = "SELECT codec, model, kept, count(*), sum(raw_len), sum(len) "
                      "FROM blocks WHERE ino = ?1 GROUP BY codec, model, kept "
                      "ORDER BY codec, model, kept",
    [ST_QUEUE_COUNT] = "SELECT count(*) FROM queue",
    [ST_QUEUE_COUNT_INO] = "SELECT count(*) FROM queue WHERE ino = ?1",
    [ST_QUEUE_COUNT_BEFORE] = "SELECT count(*) FROM queue WHERE t <= ?1",
    [ST_MODEL_NOTE] = "INSERT INTO models(id, preset) VALUES(?1, ?2) "
                      "ON CONFLICT(id) DO NOTHING",
    [ST_MODEL_NAME] = "SELECT preset FROM models WHERE id = ?1",
    [ST_QUEUE_DEL_ORPHAN] = "DELETE FROM queue WHERE ino = ?1 AND blkno = ?2 AND "
                            "NOT EXISTS (SELECT 1 FROM blocks WHERE ino = ?1 "
                            "AND blkno = ?2)",

    /* ---- offline checks (idx_check.c); 61440 = S_IFMT, 32768 = S_IFREG,
     * 16384 = S_IFDIR.  They run once per check, so plain scans are fine;
     * each one is still a join on primary keys, not a nested scan. ---- */
    [ST_CHK_INTEGRITY]   = "PRAGMA integrity_check(100)",
    [ST_CHK_BLK_NOINODE] = "SELECT b.ino, b.blkno, b.raw_len FROM blocks AS b "
                           "WHERE NOT EXISTS (SELECT 1 FROM inodes AS i "
                           "WHERE i.ino = b.ino) ORDER BY b.ino, b.blkno",
    [ST_CHK_BLK_NOTREG]  = "SELECT b.ino, b.blkno, b.raw_len, i.mode FROM blocks AS b "
                           "JOIN inodes AS i ON i.ino = b.ino "
                           "WHERE (i.mode & 61440) != 32768 ORDER BY b.ino, b.blkno",
    /* ?1 = block size.  A block must hold 1..block size bytes, all of them
     * before the end of the file (truncate rewrites the block it cuts). */
    [ST_CHK_BLK_RANGE]   = "SELECT b.ino, b.blkno, b.raw_len, i.size FROM blocks AS b "
                           "JOIN inodes AS i ON i.ino = b.ino "
                           "WHERE (i.mode & 61440) = 32768 AND (b.raw_len > ?1 "
                           "OR b.raw_len <= 0 OR b.blkno < 0 "
                           "OR b.blkno * ?1 + b.raw_len > i.size) "
                           "ORDER BY b.ino, b.blkno",
    /* Codecs of the record format: 0 raw, 1 fade. */
    [ST_CHK_BLK_CODEC]   = "SELECT ino, blkno, raw_len, codec FROM blocks "
                           "WHERE codec NOT IN (0, 1) ORDER BY ino, blkno",
    [ST_CHK_QUEUE]       = "SELECT q.ino, q.blkno FROM queue AS q WHERE NOT EXISTS "
                           "(SELECT 1 FROM blocks AS b WHERE b.ino = q.ino "
                           "AND b.blkno = q.blkno) ORDER BY q.ino, q.blkno",
    /* Entries naming a missing inode, or in something that is not a
     * directory: dir, name, ino, whether ino exists, the mode of dir. */
    [ST_CHK_DENTRY]      = "SELECT d.dir, d.name, d.ino, "
                           "(SELECT 1 FROM inodes AS i WHERE i.ino = d.ino), "
                           "(SELECT p.mode FROM inodes AS p WHERE p.ino = d.dir) "
                           "FROM dentries AS d WHERE NOT EXISTS (SELECT 1 FROM inodes "
                           "AS i WHERE i.ino = d.ino) OR NOT EXISTS (SELECT 1 FROM "
                           "inodes AS p WHERE p.ino = d.dir AND (p.mode & 61440) = 16384) "
                           "ORDER BY d.cookie",
    /* nlink against the entries: a directory has 2 + its subdirectories
     * and one name (root none), anything else one link per name.  An
     * orphan (nlink 0, no name: unlinked while open at a crash) is not
     * damage; the next mount deletes it.  ?1 = root inode. */
    [ST_CHK_NLINK]       = "WITH refs(ino, n) AS (SELECT ino, count(*) FROM dentries "
                           "GROUP BY ino), subs(dir, n) AS (SELECT d.dir, count(*) "
                           "FROM dentries AS d JOIN inodes AS c ON c.ino = d.ino "
                           "WHERE (c.mode & 61440) = 16384 GROUP BY d.dir) "
                           "SELECT ino, mode, nlink, nref, nsub FROM (SELECT i.ino AS ino, "
                           "i.mode AS mode, i.nlink AS nlink, coalesce(r.n, 0) AS nref, "
                           "coalesce(s.n, 0) AS nsub FROM inodes AS i "
                           "LEFT JOIN refs AS r ON r.ino = i.ino "
                           "LEFT JOIN subs AS s ON s.dir = i.ino) "
                           "WHERE NOT (nlink = 0 AND nref = 0) AND CASE "
                           "WHEN (mode & 61440) = 16384 THEN nlink != 2 + nsub "
                           "OR nref != (CASE WHEN ino = ?1 THEN 0 ELSE 1 END) "
                           "ELSE nlink != nref END ORDER BY ino",
    [ST_CHK_TOTALS]      = "SELECT t.n_inodes, t.n_blocks, t.raw_bytes, t.payload_bytes, "
                           "(SELECT count(*) FROM inodes), (SELECT count(*) FROM blocks), "
                           "(SELECT coalesce(sum(raw_len), 0) FROM blocks), "
                           "(SELECT coalesce(sum(len), 0) FROM blocks) "
                           "FROM totals AS t WHERE t.id = 0",
    /* ?1 = record header length.  Segments rows with their blocks' share,
     * then segments that blocks point into but that have no row (live NULL). */
    [ST_CHK_SEG_LIVE]    = "SELECT s.id, s.live, (SELECT coalesce(sum(?1 + b.len), 0) "
                           "FROM blocks AS b WHERE b.seg = s.id) FROM segments AS s "
                           "UNION ALL SELECT b.seg, NULL, sum(?1 + b.len) FROM blocks AS b "
                           "WHERE NOT EXISTS (SELECT 1 FROM segments AS s "
                           "WHERE s.id = b.seg) GROUP BY b.seg ORDER BY 1",
    [ST_CHK_SEG_USED]    = "SELECT seg, count(*), max(off + ?1 + len) FROM blocks "
                           "GROUP BY seg ORDER BY seg",
    [ST_CHK_COUNTS]      = "SELECT (SELECT count(*) FROM inodes), "
                           "(SELECT count(*) FROM inodes WHERE (mode & 61440) = 32768), "
                           "(SELECT count(*) FROM inodes WHERE (mode & 61440) = 16384), "
                           "(SELECT count(*) FROM inodes WHERE nlink = 0), "
                           "(SELECT count(*) FROM blocks), "
                           "(SELECT coalesce(sum(raw_len), 0) FROM blocks), "
                           "(SELECT coalesce(sum(len), 0) FROM blocks)",
    /* Segment order: the payload check then reads each file front to back. */
    [ST_CHK_WALK]        = "SELECT ino, blkno, seg, off, len, raw_len, codec, crc, gen "
                           "FROM blocks ORDER BY seg, off",
    /* No index on dentries(ino): a scan, run only to name a damaged file. */
    [ST_ENTRY_OF]        = "SELECT dir, name FROM dentries WHERE ino = ?1 "
                           "ORDER BY cookie LIMIT 1",
};

int idx_sqlerr(int rc)
{
    /* Every connection runs with extended result codes.  Only a clash on a
     * unique key means "already there" (a name, an xattr); any other
     * constraint failing (NOT NULL, CHECK, a trigger, a foreign key) is a
     * bug or a damaged store, and so is a bare SQLITE_CONSTRAINT. */
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_ROWID:
        return -EEXIST;
    }
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
    case SQLITE_CONSTRAINT: return -EIO;
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
