/* idx_txn.c — transactions on the writer connection and durable commits. */
#include <errno.h>

#include "index/idx_int.h"

int idx_w_begin(struct idx *x)
{
    IDX_W_CHECK(x);
    if (!sqlite3_get_autocommit(x->db))
        return -EINVAL;
    int rc = 0;
    sqlite3_stmt *s = idx_stmt(x->db, x->st, ST_BEGIN, &rc);
    return s ? idx_exec_stmt(s) : rc;
}

void idx_w_rollback(struct idx *x)
{
    if (x->read_only)
        return;
    /* Rows that pointed at records of a failed sync are gone now. */
    seg_clear_sync_err(&x->seg);
    if (sqlite3_get_autocommit(x->db))
        return;
    int rc = 0;
    sqlite3_stmt *s = idx_stmt(x->db, x->st, ST_ROLLBACK, &rc);
    if (!s || idx_exec_stmt(s) != 0)
        idx_exec(x->db, "ROLLBACK");   /* a last try that needs no statement */
}

/* Makes the WAL durable.
 *
 * PRAGMA synchronous cannot change inside a transaction, and whether a
 * commit must be durable is known only when it ends (fs/ batches many
 * operations into one group commit and learns of an fsync late).  So every
 * commit runs with synchronous=NORMAL, and a durable one is followed by a
 * sync of the WAL file through SQLite's own file handle (the journal
 * pointer file control).  That sync covers the commit record just written
 * and everything before it in the WAL; frames already checkpointed into
 * the database were synced by the checkpoint (NORMAL syncs the database
 * after each checkpoint).  Rejected: a second connection with
 * synchronous=FULL (cannot commit the writer's transaction), and opening
 * the -wal file by name (a different handle could miss a WAL that SQLite
 * replaced). */
static int wal_sync(struct idx *x)
{
    sqlite3_file *f = NULL;
    int r = sqlite3_file_control(x->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f);
    if (r != SQLITE_OK)
        return idx_sqlerr(r) ? idx_sqlerr(r) : -EIO;
    if (!f || !f->pMethods)
        return 0;                       /* no WAL open: nothing unsynced */
    r = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
    return r == SQLITE_OK ? 0 : idx_sqlerr(r) ? idx_sqlerr(r) : -EIO;
}

static int commit(struct idx *x, int durable, int payload_sync)
{
    IDX_W_CHECK(x);
    int in_txn = !sqlite3_get_autocommit(x->db);
    /* Durability order: payloads before the rows that point at them. */
    int rc = payload_sync ? seg_sync(&x->seg) : 0;
    if (rc == 0 && in_txn) {
        sqlite3_stmt *s = idx_stmt(x->db, x->st, ST_COMMIT, &rc);
        if (s)
            rc = idx_exec_stmt(s);
    }
    if (rc != 0) {
        idx_w_rollback(x);
        return rc;
    }
    return durable ? wal_sync(x) : 0;
}

int idx_w_commit(struct idx *x, int durable)
{
    return commit(x, durable, 1);
}

int idx_w_commit_synced(struct idx *x, int durable)
{
    return commit(x, durable, 0);
}
