/* fs_cache.c — LRU cache of decoded file blocks, bounded in bytes.
 *
 * One mutex guards everything; entries are copied in and out under it so no
 * caller ever holds a pointer to an entry that eviction could free.  The
 * hash chains and the LRU list are intrusive links in the entry itself, so
 * link/unlink cannot fail while the lock is held.  Each entry is charged its
 * data length plus a fixed overhead so that many tiny blocks cannot grow the
 * table without bound.
 *
 * The cache also keeps a small pool of spare block buffers.  A sequential
 * write needs a block buffer per block, and the blocks it commits become
 * cache entries that eviction frees again: recycling those buffers instead
 * of going through malloc spares zeroing (malloc + a conditional memset
 * compiles to calloc) and touching fresh pages (page faults cost more than
 * the copy into the buffer).  Pooled buffers are plain malloc'd memory, so
 * code that frees one with free() is still correct.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"

#define CENTRY_OVERHEAD 128u
/* Spare buffers kept: enough for a few MiB of writes in flight; beyond it
 * they go back to malloc (which keeps them, see fadefs_main.c). */
#define FS_POOL_MAX 32u

struct fs_centry {
    struct fs_centry *hnext;          /* hash chain */
    struct fs_centry *prev, *next;    /* LRU list, head = most recent */
    uint64_t ino, blkno;
    uint32_t len;                     /* bytes of data; zeros beyond */
    uint32_t charge;                  /* bytes counted against the limit */
    uint32_t cap;                     /* allocated bytes of data */
    uint8_t *data;                    /* owned */
    int coded;                        /* decoded from a coded payload: dear to load */
};

static size_t hash_key(uint64_t ino, uint64_t blkno)
{
    uint64_t h = ino * 0x9E3779B97F4A7C15ull ^ (blkno + 0x632BE59BD9B4E019ull);
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return (size_t)h;
}

int fs_cache_init(struct fs_cache *c, uint64_t limit)
{
    memset(c, 0, sizeof(*c));
    c->limit = limit;
    c->n_buckets = 256;
    c->buckets = calloc(c->n_buckets, sizeof(*c->buckets));
    if (!c->buckets)
        return -ENOMEM;
    int e = pthread_mutex_init(&c->lock, NULL);
    if (e) {
        free(c->buckets);
        return -e;
    }
    if ((e = pthread_cond_init(&c->claim_cv, NULL))) {
        pthread_mutex_destroy(&c->lock);
        free(c->buckets);
        return -e;
    }
    return 0;
}

/* ---- one decode per block ---- */

static int claim_find(const struct fs_cache *c, uint64_t ino, uint64_t blkno)
{
    for (uint32_t i = 0; i < c->n_claims; i++)
        if (c->claims[i].ino == ino && c->claims[i].blkno == blkno)
            return (int)i;
    return -1;
}

int fs_cache_claim(struct fs_cache *c, uint64_t ino, uint64_t blkno)
{
    return fs_cache_claim_try(c, ino, blkno, 0);
}

int fs_cache_claim_try(struct fs_cache *c, uint64_t ino, uint64_t blkno, int nowait)
{
    pthread_mutex_lock(&c->lock);
    if (claim_find(c, ino, blkno) >= 0 && nowait) {
        pthread_mutex_unlock(&c->lock);
        return -1;
    }
    if (claim_find(c, ino, blkno) >= 0) {
        while (claim_find(c, ino, blkno) >= 0)
            pthread_cond_wait(&c->claim_cv, &c->lock);
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    while (c->n_claims == FS_CACHE_CLAIMS)
        pthread_cond_wait(&c->claim_cv, &c->lock);
    c->claims[c->n_claims].ino = ino;
    c->claims[c->n_claims].blkno = blkno;
    c->n_claims++;
    pthread_mutex_unlock(&c->lock);
    return 1;
}

void fs_cache_unclaim(struct fs_cache *c, uint64_t ino, uint64_t blkno)
{
    pthread_mutex_lock(&c->lock);
    int i = claim_find(c, ino, blkno);
    if (i >= 0) {
        c->claims[i] = c->claims[--c->n_claims];
        pthread_cond_broadcast(&c->claim_cv);
    }
    pthread_mutex_unlock(&c->lock);
}

static void lru_unlink(struct fs_cache *c, struct fs_centry *e)
{
    if (e->prev) e->prev->next = e->next; else c->lru_head = e->next;
    if (e->next) e->next->prev = e->prev; else c->lru_tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(struct fs_cache *c, struct fs_centry *e)
{
    e->prev = NULL;
    e->next = c->lru_head;
    if (c->lru_head) c->lru_head->prev = e; else c->lru_tail = e;
    c->lru_head = e;
}

/* Returns the address of the link that points at the entry (or at NULL). */
static struct fs_centry **find_link(struct fs_cache *c, uint64_t ino,
                                    uint64_t blkno)
{
    struct fs_centry **pp = &c->buckets[hash_key(ino, blkno) & (c->n_buckets - 1)];
    while (*pp && !((*pp)->ino == ino && (*pp)->blkno == blkno))
        pp = &(*pp)->hnext;
    return pp;
}

/* Keeps p (cap bytes) as a spare if it has the pool's size and the pool
 * has room, else frees it.  Called with the lock held. */
static void pool_put_locked(struct fs_cache *c, uint8_t *p, uint32_t cap)
{
    if (!p)
        return;
    if (cap && cap == c->buf_size && c->n_pool < FS_POOL_MAX) {
        memcpy(p, &c->pool, sizeof(void *));
        c->pool = p;
        c->n_pool++;
        return;
    }
    free(p);
}

static uint8_t *pool_take_locked(struct fs_cache *c, uint32_t size)
{
    uint8_t *p = NULL;
    if (size == c->buf_size && c->pool) {
        p = c->pool;
        memcpy(&c->pool, p, sizeof(void *));
        c->n_pool--;
    }
    return p;
}

static void remove_at(struct fs_cache *c, struct fs_centry **pp);

uint8_t *fs_cache_buf_get(struct fs_cache *c, uint32_t size)
{
    pthread_mutex_lock(&c->lock);
    if (!c->buf_size)
        c->buf_size = size;
    uint8_t *p = pool_take_locked(c, size);
    /* Past a sixteenth of the limit, a new buffer is the least recently
     * used entry's, which the commit of this buffer would evict later
     * anyway: writes then recycle memory instead of growing the cache with
     * fresh pages (reads still fill it to the limit).  Measured on a
     * 256 MiB write (8/16 MiB writer bounds): daemon CPU 0.37-0.43 s at
     * 1/16, 0.50-0.58 s at 1/4. */
    /* A block decoded from a coded payload took a second or more of CPU:
     * a write stream takes the oldest plain entry near the cold end
     * instead (a few looked at), and only true pressure on the limit
     * evicts decoded blocks. */
    struct fs_centry *t = c->lru_tail;
    for (int i = 0; t && i < 16 && (t->coded || t->cap != size); i++)
        t = t->prev;
    if (!p && t && !t->coded && t->cap == size && c->bytes > c->limit / 16) {
        p = t->data;
        t->data = NULL;
        remove_at(c, find_link(c, t->ino, t->blkno));
    }
    pthread_mutex_unlock(&c->lock);
    return p ? p : malloc(size ? size : 1);
}

void fs_cache_buf_put(struct fs_cache *c, uint8_t *p, uint32_t cap)
{
    if (!p)
        return;
    pthread_mutex_lock(&c->lock);
    pool_put_locked(c, p, cap);
    pthread_mutex_unlock(&c->lock);
}

static void remove_at(struct fs_cache *c, struct fs_centry **pp)
{
    struct fs_centry *e = *pp;
    *pp = e->hnext;
    lru_unlink(c, e);
    c->bytes -= e->charge;
    c->n_entries--;
    pool_put_locked(c, e->data, e->cap);
    free(e);
}

void fs_cache_fini(struct fs_cache *c)
{
    if (!c->buckets)
        return;
    for (size_t i = 0; i < c->n_buckets; i++) {
        struct fs_centry *e = c->buckets[i];
        while (e) {
            struct fs_centry *n = e->hnext;
            free(e->data);
            free(e);
            e = n;
        }
    }
    free(c->buckets);
    c->buckets = NULL;
    while (c->pool) {
        void *p = c->pool;
        memcpy(&c->pool, p, sizeof(void *));
        free(p);
    }
    c->n_pool = 0;
    pthread_cond_destroy(&c->claim_cv);
    pthread_mutex_destroy(&c->lock);
}

/* Doubles the table when chains get long; a failed allocation just keeps
 * the old table (longer chains, still correct). */
static void maybe_grow(struct fs_cache *c)
{
    if (c->n_entries < c->n_buckets * 2)
        return;
    size_t nb = c->n_buckets * 2;
    struct fs_centry **b = calloc(nb, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < c->n_buckets; i++) {
        struct fs_centry *e = c->buckets[i];
        while (e) {
            struct fs_centry *n = e->hnext;
            size_t h = hash_key(e->ino, e->blkno) & (nb - 1);
            e->hnext = b[h];
            b[h] = e;
            e = n;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->n_buckets = nb;
}

int fs_cache_read(struct fs_cache *c, uint64_t ino, uint64_t blkno,
                  uint32_t off, void *dst, uint32_t n)
{
    pthread_mutex_lock(&c->lock);
    struct fs_centry *e = *find_link(c, ino, blkno);
    if (!e) {
        c->misses++;
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    c->hits++;
    uint32_t have = off < e->len ? e->len - off : 0;
    if (have > n)
        have = n;
    if (have)
        memcpy(dst, e->data + off, have);
    if (have < n)
        memset((uint8_t *)dst + have, 0, n - have);
    lru_unlink(c, e);
    lru_push_front(c, e);
    pthread_mutex_unlock(&c->lock);
    return 1;
}

/* Links e in (replacing an older entry of the same block) and evicts from
 * the cold end until the limit holds again. */
static void insert(struct fs_cache *c, struct fs_centry *e)
{
    pthread_mutex_lock(&c->lock);
    struct fs_centry **pp = find_link(c, e->ino, e->blkno);
    if (*pp)
        remove_at(c, pp);
    size_t h = hash_key(e->ino, e->blkno) & (c->n_buckets - 1);
    e->hnext = c->buckets[h];
    c->buckets[h] = e;
    lru_push_front(c, e);
    c->bytes += e->charge;
    c->n_entries++;
    while (c->bytes > c->limit && c->lru_tail && c->lru_tail != e) {
        struct fs_centry *old = c->lru_tail;
        remove_at(c, find_link(c, old->ino, old->blkno));
    }
    maybe_grow(c);
    pthread_mutex_unlock(&c->lock);
}

void fs_cache_mark_coded(struct fs_cache *c, uint64_t ino, uint64_t blkno)
{
    pthread_mutex_lock(&c->lock);
    struct fs_centry *e = *find_link(c, ino, blkno);
    if (e)
        e->coded = 1;
    pthread_mutex_unlock(&c->lock);
}

void fs_cache_put(struct fs_cache *c, uint64_t ino, uint64_t blkno,
                  const void *data, uint32_t len, int coded)
{
    if ((uint64_t)len + CENTRY_OVERHEAD > c->limit)
        return;
    struct fs_centry *e = malloc(sizeof(*e));
    uint8_t *d = NULL;
    if (len) {
        pthread_mutex_lock(&c->lock);
        d = pool_take_locked(c, len);
        pthread_mutex_unlock(&c->lock);
    }
    if (!d)
        d = malloc(len ? len : 1);
    if (!e || !d) {
        free(e);
        free(d);
        return;
    }
    memcpy(d, data, len);
    *e = (struct fs_centry){ .ino = ino, .blkno = blkno, .len = len,
                             .charge = len + CENTRY_OVERHEAD,
                             .cap = len ? len : 1, .data = d, .coded = coded };
    insert(c, e);
}

void fs_cache_adopt(struct fs_cache *c, uint64_t ino, uint64_t blkno,
                    uint8_t *data, uint32_t len, uint32_t cap)
{
    struct fs_centry *e = NULL;
    if ((uint64_t)cap + CENTRY_OVERHEAD > c->limit ||
        !(e = malloc(sizeof(*e)))) {
        fs_cache_buf_put(c, data, cap);
        fs_cache_drop(c, ino, blkno);
        return;
    }
    *e = (struct fs_centry){ .ino = ino, .blkno = blkno, .len = len,
                             .charge = cap + CENTRY_OVERHEAD, .cap = cap,
                             .data = data };
    insert(c, e);
}

void fs_cache_drop(struct fs_cache *c, uint64_t ino, uint64_t blkno)
{
    pthread_mutex_lock(&c->lock);
    struct fs_centry **pp = find_link(c, ino, blkno);
    if (*pp)
        remove_at(c, pp);
    pthread_mutex_unlock(&c->lock);
}

void fs_cache_drop_from(struct fs_cache *c, uint64_t ino, uint64_t first)
{
    /* A whole-table walk: truncate and delete are rare next to reads, and
     * the table is bounded by the byte limit. */
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->n_buckets; i++) {
        struct fs_centry **pp = &c->buckets[i];
        while (*pp) {
            if ((*pp)->ino == ino && (*pp)->blkno >= first)
                remove_at(c, pp);
            else
                pp = &(*pp)->hnext;
        }
    }
    pthread_mutex_unlock(&c->lock);
}
