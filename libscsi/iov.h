// Copying and comparing between flat buffers and scatter/gather lists.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace lunkit::scsi {

// Copies up to `len` bytes starting `offset` bytes into `iov` to `dst`; returns bytes copied.
size_t copy_from_iov(std::span<const iovec> iov, size_t offset, uint8_t* dst, size_t len);
// Copies `len` bytes of `src` into `iov` starting at `offset`; returns bytes copied.
size_t copy_to_iov(std::span<const iovec> iov, size_t offset, const uint8_t* src, size_t len);
// Compares `len` bytes of `iov` from `offset` with `buf`; returns the offset (relative to
// `offset`) of the first difference, or nothing when equal.
std::optional<size_t> compare_iov(std::span<const iovec> iov, size_t offset, const uint8_t* buf,
                                  size_t len);
// True when `len` bytes from `offset` are all zero.
bool iov_is_zero(std::span<const iovec> iov, size_t offset, size_t len);
// Shortens the scatter/gather list in place so that it describes exactly `len` bytes
// (`len` must not exceed what it describes).
void trim_iov(std::span<iovec>& iov, size_t len);

}  // namespace lunkit::scsi
