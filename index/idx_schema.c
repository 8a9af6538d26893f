/* idx_schema.c — the store's SQL schema (format version 2), its creation
 * and the check that an opened database has it.  docs/FORMAT-store.md
 * explains every table; change both together and bump the versions. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "index/idx_int.h"

/* The triggers below spell the record header length as 40. */
_Static_assert(SEG_REC_HDR_LEN == 40, "schema triggers assume 40-byte record headers");

/* Integers are SQLite INTEGERs (64-bit signed); u64 values from idx.h are
 * stored as their two's-complement bit pattern.  Names, targets and xattr
 * names are BLOBs so that comparison is by bytes, whatever the locale.
 * Relations are kept by explicit deletes in index/ rather than foreign keys:
 * the writer already knows what to delete, and FK checks would cost a
 * lookup per row on the hot insert path. */
static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;\n"
    "CREATE TABLE inodes(ino INTEGER PRIMARY KEY AUTOINCREMENT,"
    " mode INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL,"
    " nlink INTEGER NOT NULL, size INTEGER NOT NULL, rdev INTEGER NOT NULL,"
    " atime_s INTEGER NOT NULL, atime_ns INTEGER NOT NULL,"
    " mtime_s INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
    " ctime_s INTEGER NOT NULL, ctime_ns INTEGER NOT NULL);\n"
    "CREATE INDEX inodes_orphans ON inodes(ino) WHERE nlink = 0;\n"
    /* cookie: AUTOINCREMENT so that a cookie is never handed out twice,
     * which keeps readdir resumption exact across deletes. */
    "CREATE TABLE dentries(cookie INTEGER PRIMARY KEY AUTOINCREMENT,"
    " dir INTEGER NOT NULL, name BLOB NOT NULL, ino INTEGER NOT NULL);\n"
    "CREATE UNIQUE INDEX dentries_name ON dentries(dir, name);\n"
    "CREATE INDEX dentries_dir ON dentries(dir, cookie);\n"
    "CREATE TABLE symlinks(ino INTEGER PRIMARY KEY, target BLOB NOT NULL);\n"
    "CREATE TABLE xattrs(ino INTEGER NOT NULL, name BLOB NOT NULL,"
    " value BLOB NOT NULL, PRIMARY KEY(ino, name)) WITHOUT ROWID;\n"
    "CREATE TABLE segments(id INTEGER PRIMARY KEY, live INTEGER NOT NULL);\n"
    "CREATE TABLE blocks(ino INTEGER NOT NULL, blkno INTEGER NOT NULL,"
    " seg INTEGER NOT NULL, off INTEGER NOT NULL, len INTEGER NOT NULL,"
    " raw_len INTEGER NOT NULL, codec INTEGER NOT NULL, crc INTEGER NOT NULL,"
    " gen INTEGER NOT NULL, model INTEGER NOT NULL DEFAULT 0,"
    " kept INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(ino, blkno)) WITHOUT ROWID;\n"
    "CREATE INDEX blocks_seg ON blocks(seg, off);\n"
    "CREATE TABLE queue(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " ino INTEGER NOT NULL, blkno INTEGER NOT NULL, t INTEGER NOT NULL);\n"
    "CREATE UNIQUE INDEX queue_blk ON queue(ino, blkno);\n"
    "CREATE INDEX queue_t ON queue(t);\n"
    "CREATE TABLE models(id INTEGER PRIMARY KEY, preset TEXT NOT NULL,"
    " dims BLOB, weights BLOB);\n"
    "CREATE TABLE totals(id INTEGER PRIMARY KEY CHECK (id = 0),"
    " n_inodes INTEGER NOT NULL, n_blocks INTEGER NOT NULL,"
    " raw_bytes INTEGER NOT NULL, payload_bytes INTEGER NOT NULL);\n"
    "INSERT INTO totals VALUES(0, 0, 0, 0, 0);\n"
    /* Space accounting lives in triggers so that every path that touches
     * the block map (put, truncate, delete, compaction) keeps it exact.
     * 40 = the segment record header (SEG_REC_HDR_LEN). */
    "CREATE TRIGGER inodes_ai AFTER INSERT ON inodes BEGIN"
    " UPDATE totals SET n_inodes = n_inodes + 1 WHERE id = 0; END;\n"
    "CREATE TRIGGER inodes_ad AFTER DELETE ON inodes BEGIN"
    " UPDATE totals SET n_inodes = n_inodes - 1 WHERE id = 0; END;\n"
    "CREATE TRIGGER blocks_ai AFTER INSERT ON blocks BEGIN"
    " UPDATE totals SET n_blocks = n_blocks + 1,"
    "  raw_bytes = raw_bytes + new.raw_len,"
    "  payload_bytes = payload_bytes + new.len WHERE id = 0;"
    " INSERT INTO segments(id, live) VALUES(new.seg, 40 + new.len)"
    "  ON CONFLICT(id) DO UPDATE SET live = live + 40 + new.len; END;\n"
    "CREATE TRIGGER blocks_ad AFTER DELETE ON blocks BEGIN"
    " UPDATE totals SET n_blocks = n_blocks - 1,"
    "  raw_bytes = raw_bytes - old.raw_len,"
    "  payload_bytes = payload_bytes - old.len WHERE id = 0;"
    " UPDATE segments SET live = live - 40 - old.len WHERE id = old.seg; END;\n"
    "CREATE TRIGGER blocks_au AFTER UPDATE OF seg, off, len, raw_len ON blocks BEGIN"
    " UPDATE totals SET raw_bytes = raw_bytes - old.raw_len + new.raw_len,"
    "  payload_bytes = payload_bytes - old.len + new.len WHERE id = 0;"
    " UPDATE segments SET live = live - 40 - old.len WHERE id = old.seg;"
    " INSERT INTO segments(id, live) VALUES(new.seg, 40 + new.len)"
    "  ON CONFLICT(id) DO UPDATE SET live = live + 40 + new.len; END;\n";

/* Tables and triggers a version-1 store must have. */
static const char *const required[] = {
    "meta", "inodes", "dentries", "symlinks", "xattrs", "segments", "blocks",
    "queue", "models", "totals", "inodes_ai", "inodes_ad", "blocks_ai",
    "blocks_ad", "blocks_au",
};

int idx_schema_create(sqlite3 *db, uint32_t block_size, char *msg, size_t msg_cap)
{
    char meta[512];
    int64_t now = idx_now_ns();
    int rc = idx_exec(db, schema_sql);
    if (rc != 0) {
        snprintf(msg, msg_cap, "cannot create the schema: %s", sqlite3_errmsg(db));
        return rc;
    }
    snprintf(meta, sizeof meta,
             "INSERT INTO meta VALUES('read_version', %d);"
             "INSERT INTO meta VALUES('write_version', %d);"
             "INSERT INTO meta VALUES('block_size', %u);"
             "INSERT INTO meta VALUES('created_ns', %lld);"
             "INSERT INTO meta VALUES('gen_epoch', 0);"
             "INSERT INTO inodes VALUES(%u, %u, 0, 0, 2, 0, 0, %lld, %lld, %lld, %lld, %lld, %lld);",
             IDX_READ_VERSION, IDX_WRITE_VERSION, block_size, (long long)now,
             IDX_ROOT_INO, 0040755u,
             (long long)(now / 1000000000), (long long)(now % 1000000000),
             (long long)(now / 1000000000), (long long)(now % 1000000000),
             (long long)(now / 1000000000), (long long)(now % 1000000000));
    rc = idx_exec(db, meta);
    if (rc != 0)
        snprintf(msg, msg_cap, "cannot initialise the store: %s", sqlite3_errmsg(db));
    return rc;
}

int idx_schema_check(sqlite3 *db, char *msg, size_t msg_cap)
{
    sqlite3_stmt *s = NULL;
    int r = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE name = ?1",
                               -1, &s, NULL);
    if (r != SQLITE_OK) {
        snprintf(msg, msg_cap, "cannot read the schema: %s", sqlite3_errmsg(db));
        return idx_sqlerr(r) ? idx_sqlerr(r) : -EIO;
    }
    int rc = 0;
    for (size_t i = 0; i < sizeof required / sizeof required[0] && rc == 0; i++) {
        sqlite3_bind_text(s, 1, required[i], -1, SQLITE_STATIC);
        r = sqlite3_step(s);
        if (r == SQLITE_DONE) {
            snprintf(msg, msg_cap, "damaged store: table or trigger '%s' missing",
                     required[i]);
            rc = -EUCLEAN;
        } else if (r != SQLITE_ROW) {
            snprintf(msg, msg_cap, "cannot read the schema: %s", sqlite3_errmsg(db));
            rc = idx_sqlerr(r);
        }
        sqlite3_reset(s);
    }
    sqlite3_finalize(s);
    return rc;
}

/* Version 1 -> 2: the block map learns which model coded a block (`model`,
 * 0 for raw) and whether the compressor decided to keep it raw (`kept`).
 * A version-1 build can still read such a store (it names its columns), so
 * only the write version moves.  ALTER TABLE ... ADD COLUMN with a constant
 * default rewrites no row: the upgrade costs the same for any store size. */
int idx_schema_upgrade(sqlite3 *db, int64_t from, char *msg, size_t msg_cap)
{
    char sql[512];
    if (from != 1) {
        snprintf(msg, msg_cap, "store write version %lld: no upgrade known",
                 (long long)from);
        return -EPROTO;
    }
    snprintf(sql, sizeof sql,
             "BEGIN IMMEDIATE;"
             "ALTER TABLE blocks ADD COLUMN model INTEGER NOT NULL DEFAULT 0;"
             "ALTER TABLE blocks ADD COLUMN kept INTEGER NOT NULL DEFAULT 0;"
             "UPDATE meta SET value = %d WHERE key = 'write_version';"
             "PRAGMA user_version = %d;"
             "COMMIT;", IDX_WRITE_VERSION, IDX_WRITE_VERSION);
    int rc = idx_exec(db, sql);
    if (rc != 0) {
        snprintf(msg, msg_cap, "cannot upgrade the store to format %d: %s",
                 IDX_WRITE_VERSION, sqlite3_errmsg(db));
        idx_exec(db, "ROLLBACK");
    }
    return rc;
}
