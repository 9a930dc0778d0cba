// CRC32C (Castagnoli). Hardware path: the SSE4.2 `crc32` instruction, selected at run time.
// Portable path: slicing-by-8 tables built once on first use.
#include <stdatomic.h>
#include "nedb_support.h"
#include <string.h>
#include <pthread.h>

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_tables(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = table[0][n];
        for (int k = 1; k < 8; k++) {
            c = table[0][c & 0xFF] ^ (c >> 8);
            table[k][n] = c;
        }
    }
}

uint32_t nedb_crc32c_portable(uint32_t crc, const void *data, size_t length) {
    pthread_once(&table_once, build_tables);
    const unsigned char *p = (const unsigned char *)data;
    uint32_t c = ~crc;
    while (length && ((uintptr_t)p & 7)) {
        c = table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
        length--;
    }
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        word ^= c;
        c = table[7][word & 0xFF] ^ table[6][(word >> 8) & 0xFF] ^
            table[5][(word >> 16) & 0xFF] ^ table[4][(word >> 24) & 0xFF] ^
            table[3][(word >> 32) & 0xFF] ^ table[2][(word >> 40) & 0xFF] ^
            table[1][(word >> 48) & 0xFF] ^ table[0][(word >> 56) & 0xFF];
        p += 8;
        length -= 8;
    }
    while (length--) c = table[0][(c ^ *p++) & 0xFF] ^ (c >> 8);
    return ~c;
}

#if defined(__x86_64__)
#include <nmmintrin.h>

/* Shifting a raw CRC register past SHIFT_BYTES zero bytes is linear, so it is four table
   lookups. The hardware path runs three independent streams of SHIFT_BYTES and joins them. */
#define SHIFT_BYTES 64
static uint32_t shift_table[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

/* One byte of the raw (uninverted) register update over a zero input byte. */
static uint32_t raw_zero_byte(uint32_t c) {
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
    return c;
}

static void build_shift_table(void) {
    for (int k = 0; k < 4; k++) {
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t c = b << (8 * k);
            for (int i = 0; i < SHIFT_BYTES; i++) c = raw_zero_byte(c);
            shift_table[k][b] = c;
        }
    }
}

static inline uint32_t shift_register(uint32_t c) {
    return shift_table[0][c & 0xFF] ^ shift_table[1][(c >> 8) & 0xFF] ^
           shift_table[2][(c >> 16) & 0xFF] ^ shift_table[3][c >> 24];
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *data, size_t length) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t c = (uint32_t)~crc;
    while (length && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        length--;
    }
    if (length >= 3 * SHIFT_BYTES) pthread_once(&shift_once, build_shift_table);
    while (length >= 3 * SHIFT_BYTES) {
        uint64_t c1 = 0, c2 = 0;
        for (int i = 0; i < SHIFT_BYTES; i += 8) {
            uint64_t w0, w1, w2;
            memcpy(&w0, p + i, 8);
            memcpy(&w1, p + SHIFT_BYTES + i, 8);
            memcpy(&w2, p + 2 * SHIFT_BYTES + i, 8);
            c = _mm_crc32_u64(c, w0);
            c1 = _mm_crc32_u64(c1, w1);
            c2 = _mm_crc32_u64(c2, w2);
        }
        c = shift_register(shift_register((uint32_t)c) ^ (uint32_t)c1) ^ (uint32_t)c2;
        p += 3 * SHIFT_BYTES;
        length -= 3 * SHIFT_BYTES;
    }
    while (length >= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = _mm_crc32_u64(c, word);
        p += 8;
        length -= 8;
    }
    while (length--) c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

/* The CPU check runs once per process; the cache is an atomic so that threads racing to fill
   it (the same value) are well defined. */
static int has_sse42(void) {
    static _Atomic int cached = -1;
    int value = atomic_load_explicit(&cached, memory_order_relaxed);
    if (value < 0) {
        __builtin_cpu_init();
        value = __builtin_cpu_supports("sse4.2") ? 1 : 0;
        atomic_store_explicit(&cached, value, memory_order_relaxed);
    }
    return value;
}

uint32_t nedb_crc32c(uint32_t crc, const void *data, size_t length) {
    if (has_sse42()) return crc32c_sse42(crc, data, length);
    return nedb_crc32c_portable(crc, data, length);
}

int nedb_crc32c_is_hardware(void) { return has_sse42(); }

#else

uint32_t nedb_crc32c(uint32_t crc, const void *data, size_t length) {
    return nedb_crc32c_portable(crc, data, length);
}

int nedb_crc32c_is_hardware(void) { return 0; }

#endif
