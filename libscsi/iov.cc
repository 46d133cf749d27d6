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

std::span<const iovec> open_window(IovWindow& window, std::span<iovec> iov, size_t offset,
                                   size_t len) {
  size_t i = 0;
  while (offset >= iov[i].iov_len) offset -= iov[i++].iov_len;
  size_t j = i;
  size_t reach = iov[i].iov_len - offset;  // bytes of the range the entries i..j hold
  while (reach < len) reach += iov[++j].iov_len;
  window.first = &iov[i];
  window.first_saved = iov[i];
  window.last = &iov[j];
  window.last_saved_len = iov[j].iov_len;
  // Trim the end first: when i == j the length is then cut from the start as well.
  iov[j].iov_len -= reach - len;
  iov[i].iov_base = static_cast<uint8_t*>(iov[i].iov_base) + offset;
  iov[i].iov_len -= offset;
  return iov.subspan(i, j - i + 1);
}

void close_window(IovWindow& window) {
  if (!window.first) return;
  window.last->iov_len = window.last_saved_len;
  *window.first = window.first_saved;
  window = {};
}

}  // namespace lunkit::scsi
