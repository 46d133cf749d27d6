// Copying and comparing between flat buffers and scatter/gather lists.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "lunkit/scsi/command.h"

namespace lunkit::scsi {

using detail::IovWindow;

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
// Makes the entries of `iov` that cover bytes [offset, offset + len) describe exactly that range
// (adjusting at most the first and the last of them in place, remembered in `window`) and returns
// them. `len` > 0 and the range must lie within what `iov` describes. Until close_window() the
// rest of `iov` must not be used.
std::span<const iovec> open_window(IovWindow& window, std::span<iovec> iov, size_t offset,
                                   size_t len);
// Restores the entries open_window() adjusted; does nothing when no window is open.
void close_window(IovWindow& window);

}  // namespace lunkit::scsi
