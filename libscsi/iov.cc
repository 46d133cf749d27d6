#include "libscsi/iov.h"

#include <algorithm>
#include <cstring>

namespace lunkit::scsi {
namespace {

// Calls fn(segment pointer, segment length, position in the walk) over [offset, offset+len).
template <typename Fn>
size_t walk(std::span<const iovec> iov, size_t offset, size_t len, Fn&& fn) {
  size_t done = 0;
  for (const iovec& v : iov) {
    if (done == len) break;
    if (offset >= v.iov_len) {
      offset -= v.iov_len;
      continue;
    }
    size_t n = std::min(v.iov_len - offset, len - done);
    if (!fn(static_cast<uint8_t*>(v.iov_base) + offset, n, done)) return done;
    done += n;
    offset = 0;
  }
  return done;
}

}  // namespace

size_t copy_from_iov(std::span<const iovec> iov, size_t offset, uint8_t* dst, size_t len) {
  return walk(iov, offset, len, [&](uint8_t* p, size_t n, size_t pos) {
    std::memcpy(dst + pos, p, n);
    return true;
  });
}

size_t copy_to_iov(std::span<const iovec> iov, size_t offset, const uint8_t* src, size_t len) {
  return walk(iov, offset, len, [&](uint8_t* p, size_t n, size_t pos) {
    std::memcpy(p, src + pos, n);
    return true;
  });
}

std::optional<size_t> compare_iov(std::span<const iovec> iov, size_t offset, const uint8_t* buf,
                                  size_t len) {
  std::optional<size_t> first;
  walk(iov, offset, len, [&](uint8_t* p, size_t n, size_t pos) {
    if (std::memcmp(p, buf + pos, n) == 0) return true;
    for (size_t i = 0; i < n; ++i) {
      if (p[i] != buf[pos + i]) {
        first = pos + i;
        break;
      }
    }
    return false;
  });
  return first;
}

bool iov_is_zero(std::span<const iovec> iov, size_t offset, size_t len) {
  bool zero = true;
  walk(iov, offset, len, [&](uint8_t* p, size_t n, size_t) {
    zero = std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
    return zero;
  });
  return zero;
}

void trim_iov(std::span<iovec>& iov, size_t len) {
  size_t count = 0;
  for (iovec& v : iov) {
    if (len == 0) break;
    ++count;
    if (v.iov_len >= len) {
      v.iov_len = len;
      len = 0;
      break;
    }
    len -= v.iov_len;
  }
  iov = iov.first(count);
}

}  // namespace lunkit::scsi
