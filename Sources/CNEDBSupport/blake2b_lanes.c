// BLAKE2b-256 (RFC 7693, unkeyed, 32-byte digest) of many independent messages at once: four
// messages share each AVX2 instruction, one per 64-bit lane ("multi-buffer" hashing).
// Verification needs a hash per record and per Merkle node, all independent of each other, so
// this is how it hashes faster than one message at a time. The result for each message is
// exactly BLAKE2b-256 of that message; tests compare it with libsodium.
#include <stdatomic.h>
#include "nedb_support.h"
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

static const uint64_t blake2b_iv[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
    0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL,
};

static const uint8_t blake2b_sigma[12][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
};

#define LANES 4
#define BLOCK 128

/// One lane's message: which one, and how far it has been consumed.
typedef struct {
    size_t message;     // index into the caller's array, or SIZE_MAX when the lane is idle
    size_t offset;      // bytes already compressed
} lane_t;

/// The block at `offset` of a two-part message: a pointer into the message when the block lies
/// wholly inside one part, else a copy in `scratch`, zero padded. `*length` gets how many
/// message bytes the block holds.
static const uint8_t *load_block(const nedb_message *m, size_t offset, uint8_t *scratch, size_t *length) {
    size_t total = m->length1 + m->length2;
    size_t n = total - offset;
    if (n > BLOCK) n = BLOCK;
    *length = n;
    if (n == BLOCK) {
        if (offset + BLOCK <= m->length1) return m->part1 + offset;
        if (offset >= m->length1) return m->part2 + (offset - m->length1);
    }
    size_t done = 0;
    if (offset < m->length1) {
        done = m->length1 - offset;
        if (done > n) done = n;
        memcpy(scratch, m->part1 + offset, done);
    }
    if (done < n) memcpy(scratch + done, m->part2 + (offset + done - m->length1), n - done);
    if (n < BLOCK) memset(scratch + n, 0, BLOCK - n);
    return scratch;
}

#define ROTR32(x) _mm256_shuffle_epi32((x), _MM_SHUFFLE(2, 3, 0, 1))
#define ROTR24(x) _mm256_shuffle_epi8((x), rot24)
#define ROTR16(x) _mm256_shuffle_epi8((x), rot16)
#define ROTR63(x) _mm256_or_si256(_mm256_srli_epi64((x), 63), _mm256_add_epi64((x), (x)))

#define G(a, b, c, d, x, y)                                   \
    do {                                                      \
        a = _mm256_add_epi64(_mm256_add_epi64(a, b), x);      \
        d = ROTR32(_mm256_xor_si256(d, a));                   \
        c = _mm256_add_epi64(c, d);                           \
        b = ROTR24(_mm256_xor_si256(b, c));                   \
        a = _mm256_add_epi64(_mm256_add_epi64(a, b), y);      \
        d = ROTR16(_mm256_xor_si256(d, a));                   \
        c = _mm256_add_epi64(c, d);                           \
        b = ROTR63(_mm256_xor_si256(b, c));                   \
    } while (0)

/// Compresses one block in each lane. `h` holds the chain values lane-interleaved
/// (h[i*4 + lane]); `blocks[l]` is lane l's 128-byte block.
__attribute__((target("avx2")))
static void compress4(uint64_t *h, const uint8_t *const blocks[LANES], const uint64_t counter[LANES], const uint64_t final[LANES]) {
    const __m256i rot24 = _mm256_setr_epi8(3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10,
                                           3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10);
    const __m256i rot16 = _mm256_setr_epi8(2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9,
                                           2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9);
    // Transpose the message words: m[j] holds word j of each lane's block.
    __m256i m[16];
    for (int j = 0; j < 4; j++) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(blocks[0] + 32 * j));
        __m256i b = _mm256_loadu_si256((const __m256i *)(blocks[1] + 32 * j));
        __m256i c = _mm256_loadu_si256((const __m256i *)(blocks[2] + 32 * j));
        __m256i d = _mm256_loadu_si256((const __m256i *)(blocks[3] + 32 * j));
        __m256i t0 = _mm256_unpacklo_epi64(a, b), t1 = _mm256_unpackhi_epi64(a, b);
        __m256i t2 = _mm256_unpacklo_epi64(c, d), t3 = _mm256_unpackhi_epi64(c, d);
        m[4 * j + 0] = _mm256_permute2x128_si256(t0, t2, 0x20);
        m[4 * j + 1] = _mm256_permute2x128_si256(t1, t3, 0x20);
        m[4 * j + 2] = _mm256_permute2x128_si256(t0, t2, 0x31);
        m[4 * j + 3] = _mm256_permute2x128_si256(t1, t3, 0x31);
    }
    __m256i v0 = _mm256_loadu_si256((const __m256i *)(h + 0)), v1 = _mm256_loadu_si256((const __m256i *)(h + 4));
    __m256i v2 = _mm256_loadu_si256((const __m256i *)(h + 8)), v3 = _mm256_loadu_si256((const __m256i *)(h + 12));
    __m256i v4 = _mm256_loadu_si256((const __m256i *)(h + 16)), v5 = _mm256_loadu_si256((const __m256i *)(h + 20));
    __m256i v6 = _mm256_loadu_si256((const __m256i *)(h + 24)), v7 = _mm256_loadu_si256((const __m256i *)(h + 28));
    __m256i v8 = _mm256_set1_epi64x((long long)blake2b_iv[0]), v9 = _mm256_set1_epi64x((long long)blake2b_iv[1]);
    __m256i v10 = _mm256_set1_epi64x((long long)blake2b_iv[2]), v11 = _mm256_set1_epi64x((long long)blake2b_iv[3]);
    // Messages here are far below 2^64 bytes: the high counter word stays zero.
    __m256i v12 = _mm256_xor_si256(_mm256_set1_epi64x((long long)blake2b_iv[4]),
                                   _mm256_loadu_si256((const __m256i *)counter));
    __m256i v13 = _mm256_set1_epi64x((long long)blake2b_iv[5]);
    __m256i v14 = _mm256_xor_si256(_mm256_set1_epi64x((long long)blake2b_iv[6]),
                                   _mm256_loadu_si256((const __m256i *)final));
    __m256i v15 = _mm256_set1_epi64x((long long)blake2b_iv[7]);
    for (int r = 0; r < 12; r++) {
        const uint8_t *s = blake2b_sigma[r];
        G(v0, v4, v8, v12, m[s[0]], m[s[1]]);
        G(v1, v5, v9, v13, m[s[2]], m[s[3]]);
        G(v2, v6, v10, v14, m[s[4]], m[s[5]]);
        G(v3, v7, v11, v15, m[s[6]], m[s[7]]);
        G(v0, v5, v10, v15, m[s[8]], m[s[9]]);
        G(v1, v6, v11, v12, m[s[10]], m[s[11]]);
        G(v2, v7, v8, v13, m[s[12]], m[s[13]]);
        G(v3, v4, v9, v14, m[s[14]], m[s[15]]);
    }
#define FOLD(i, a, b)                                                              \
    _mm256_storeu_si256((__m256i *)(h + 4 * (i)),                                  \
        _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(h + 4 * (i))), _mm256_xor_si256(a, b)))
    FOLD(0, v0, v8); FOLD(1, v1, v9); FOLD(2, v2, v10); FOLD(3, v3, v11);
    FOLD(4, v4, v12); FOLD(5, v5, v13); FOLD(6, v6, v14); FOLD(7, v7, v15);
#undef FOLD
}

/// Starts `lane` on a new message: h = IV with the parameter block (digest 32, fanout 1, depth 1).
static void start_lane(uint64_t *h, int lane) {
    for (int i = 0; i < 8; i++) h[4 * i + lane] = blake2b_iv[i];
    h[lane] ^= 0x01010000ULL ^ 32ULL;
}

__attribute__((target("avx2")))
static void hash_many_avx2(const nedb_message *messages, size_t count, uint8_t *out) {
    uint64_t h[32] __attribute__((aligned(32)));
    uint8_t scratch[LANES * BLOCK] __attribute__((aligned(32)));
    const uint8_t *blocks[LANES];
    memset(scratch, 0, sizeof scratch);
    uint64_t counter[LANES] __attribute__((aligned(32)));
    uint64_t final[LANES] __attribute__((aligned(32)));
    lane_t lanes[LANES];
    size_t next = 0;
    int active = 0;
    for (int l = 0; l < LANES; l++) {
        if (next < count) {
            lanes[l].message = next++;
            lanes[l].offset = 0;
            start_lane(h, l);
            active++;
        } else {
            lanes[l].message = SIZE_MAX;
            start_lane(h, l);
        }
    }
    while (active > 0) {
        for (int l = 0; l < LANES; l++) {
            if (lanes[l].message == SIZE_MAX) {
                blocks[l] = scratch + l * BLOCK;   // contents irrelevant: the lane's result is dropped
                counter[l] = 0;
                final[l] = 0;
                continue;
            }
            const nedb_message *m = &messages[lanes[l].message];
            size_t n;
            blocks[l] = load_block(m, lanes[l].offset, scratch + l * BLOCK, &n);
            lanes[l].offset += n;
            counter[l] = (uint64_t)lanes[l].offset;
            final[l] = lanes[l].offset == m->length1 + m->length2 ? ~0ULL : 0;
        }
        compress4(h, blocks, counter, final);
        for (int l = 0; l < LANES; l++) {
            if (lanes[l].message == SIZE_MAX || !final[l]) continue;
            uint8_t *digest = out + 32 * lanes[l].message;
            for (int i = 0; i < 4; i++) {
                uint64_t w = h[4 * i + l];      // little-endian words, as the digest bytes are
                memcpy(digest + 8 * i, &w, 8);
            }
            if (next < count) {
                lanes[l].message = next++;
                lanes[l].offset = 0;
                start_lane(h, l);
            } else {
                lanes[l].message = SIZE_MAX;
                active--;
            }
        }
    }
}

/* The CPU check runs once per process; the cache is an atomic so that threads racing to fill
   it (the same value) are well defined. */
static int has_avx2(void) {
    static _Atomic int cached = -1;
    int value = atomic_load_explicit(&cached, memory_order_relaxed);
    if (value < 0) {
        __builtin_cpu_init();
        value = __builtin_cpu_supports("avx2") ? 1 : 0;
        atomic_store_explicit(&cached, value, memory_order_relaxed);
    }
    return value;
}

int nedb_blake2b256_lanes_available(void) { return has_avx2(); }

int nedb_blake2b256_many(const nedb_message *messages, size_t count, uint8_t *out) {
    if (!has_avx2()) return -1;
    hash_many_avx2(messages, count, out);
    return 0;
}

#else

int nedb_blake2b256_lanes_available(void) { return 0; }

int nedb_blake2b256_many(const nedb_message *messages, size_t count, uint8_t *out) {
    (void)messages; (void)count; (void)out;
    return -1;
}

#endif
