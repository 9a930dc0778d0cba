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

#ifdef __cplusplus
}
#endif

#endif
