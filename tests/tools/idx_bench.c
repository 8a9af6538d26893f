/* idx_bench.c — measures the store: block-map insert rate, database bytes
 * per block, open time (with its quick_check), and commit latency with and
 * without durability.  Usage: idx_bench DIR [N_BLOCKS] (DIR must be empty). */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "index/idx.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long long file_size(const char *dir, const char *name)
{
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &st) == 0 ? (long long)st.st_size : 0;
}

static int die(const char *what, int rc)
{
    fprintf(stderr, "idx_bench: %s: %d\n", what, rc);
    exit(1);
}

static struct idx *open_store(const char *dir, int create)
{
    struct idx_opts o = { .create = create, .block_size = 65536 };
    struct idx *x;
    char msg[256];
    int rc = idx_open(&x, dir, &o, msg, sizeof msg);
    if (rc)
        fprintf(stderr, "idx_bench: open: %s\n", msg), exit(1);
    return x;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: idx_bench DIR [N_BLOCKS]\n");
        return 2;
    }
    const char *dir = argv[1];
    long n = argc > 2 ? atol(argv[2]) : 200000;
    struct idx *x = open_store(dir, 1);
    unsigned char payload[64];
    memset(payload, 0xab, sizeof payload);

    /* Block map: one row per block, 1000 per transaction (as fs/ batches).
     * Payloads are tiny here: this measures the index, not the disk. */
    double t0 = now_s();
    int rc;
    for (long i = 0; i < n; i += 1000) {
        if ((rc = idx_w_begin(x)))
            die("begin", rc);
        for (long j = i; j < i + 1000 && j < n; j++) {
            struct idx_bloc l;
            uint64_t ino = 2 + (uint64_t)j / 256, blk = (uint64_t)j % 256;
            if ((rc = idx_w_payload_append(x, ino, blk, 0, 65536, payload, sizeof payload, &l)) ||
                (rc = idx_w_block_put(x, ino, blk, &l)))
                die("put", rc);
        }
        if ((rc = idx_w_commit(x, 0)))
            die("commit", rc);
    }
    double t_put = now_s() - t0;
    idx_close(x);
    long long db = file_size(dir, "fadefs.db");
    printf("blocks            %ld\n", n);
    printf("put rate          %.0f blocks/s (1000 per commit)\n", (double)n / t_put);
    printf("database          %.1f MiB, %.1f bytes/block\n", (double)db / 1048576.0,
           (double)db / (double)n);

    t0 = now_s();
    x = open_store(dir, 0);
    double t_open = now_s() - t0;
    printf("open              %.3f s (includes quick_check)\n", t_open);

    sqlite3 *h;
    char path[4096];
    snprintf(path, sizeof path, "%s/fadefs.db", dir);
    if (sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        t0 = now_s();
        sqlite3_exec(h, "PRAGMA quick_check(1)", NULL, NULL, NULL);
        printf("quick_check alone %.3f s\n", now_s() - t0);
        sqlite3_close(h);
    }

    /* Commit latency: one block per transaction. */
    for (int durable = 0; durable <= 1; durable++) {
        int k = 200;
        t0 = now_s();
        for (int i = 0; i < k; i++) {
            struct idx_bloc l;
            if ((rc = idx_w_begin(x)) ||
                (rc = idx_w_payload_append(x, 1000000, (uint64_t)i, 0, 64, payload, sizeof payload, &l)) ||
                (rc = idx_w_block_put(x, 1000000, (uint64_t)i, &l)) ||
                (rc = idx_w_commit(x, durable)))
                die("commit", rc);
        }
        printf("commit%s %.3f ms each (1 block, payload sync included)\n",
               durable ? " durable" : "        ", (now_s() - t0) * 1000.0 / k);
    }
    /* Metadata-only commits (no payload to sync). */
    for (int durable = 0; durable <= 1; durable++) {
        int k = 200;
        t0 = now_s();
        for (int i = 0; i < k; i++) {
            struct idx_attr a = { .mode = 0100644, .nlink = 1 };
            if ((rc = idx_w_begin(x)) || (rc = idx_w_inode_create(x, &a)) ||
                (rc = idx_w_commit(x, durable)))
                die("meta commit", rc);
        }
        printf("meta commit%s %.3f ms each\n", durable ? " durable" : "        ",
               (now_s() - t0) * 1000.0 / k);
    }
    struct idx_rd *r;
    if ((rc = idx_rd_open(x, &r)))
        die("rd_open", rc);
    t0 = now_s();
    long hits = 0;
    for (long i = 0; i < n && i < 200000; i++) {
        struct idx_bloc l;
        hits += idx_r_block_get(r, 2 + (uint64_t)i / 256, (uint64_t)i % 256, &l) == 0;
    }
    long m = n < 200000 ? n : 200000;
    printf("block_get         %.2f us each (%ld hits)\n", (now_s() - t0) * 1e6 / (double)m, hits);
    idx_rd_close(r);
    idx_close(x);
    return 0;
}
