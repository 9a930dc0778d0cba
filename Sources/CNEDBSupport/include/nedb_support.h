#ifndef NEDB_SUPPORT_H
#define NEDB_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Extends a CRC32C (Castagnoli, reflected polynomial 0x82F63B78) over `length` bytes.
/// Start with `crc = 0`; the pre- and post-inversion are handled inside, so
/// `nedb_crc32c(nedb_crc32c(0, a, n), b, m) == nedb_crc32c(0, a||b, n+m)`.
uint32_t nedb_crc32c(uint32_t crc, const void *data, size_t length);

/// The same function, forced onto the portable table-driven path (for tests and benchmarks).
uint32_t nedb_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// 1 when the SSE4.2 CRC32 instruction is used by `nedb_crc32c`, else 0.
int nedb_crc32c_is_hardware(void);

/// A message given as two consecutive parts (either may be empty), hashed as if joined.
typedef struct {
    const uint8_t *part1;
    size_t length1;
    const uint8_t *part2;
    size_t length2;
} nedb_message;

/// BLAKE2b-256 (RFC 7693, unkeyed, 32-byte digest) of each message, written to
/// `out + 32 * i`, hashing four messages per AVX2 instruction. Returns 0, or -1 without
/// writing anything when the CPU lacks AVX2 (the caller then hashes one by one).
int nedb_blake2b256_many(const nedb_message *messages, size_t count, uint8_t *out);

/// 1 when `nedb_blake2b256_many` can run on this CPU, else 0.
int nedb_blake2b256_lanes_available(void);

#ifdef __cplusplus
}
#endif

#endif
