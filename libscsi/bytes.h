// Big-endian field access for CDBs, parameter lists and response data.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lunkit::scsi {

inline uint64_t get_be(const uint8_t* p, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) v = (v << 8) | p[i];
  return v;
}
inline uint16_t get_be16(const uint8_t* p) {
  return static_cast<uint16_t>(get_be(p, 2));
}
inline uint32_t get_be32(const uint8_t* p) {
  return static_cast<uint32_t>(get_be(p, 4));
}
inline uint64_t get_be64(const uint8_t* p) {
  return get_be(p, 8);
}

inline void put_be(uint8_t* p, size_t width, uint64_t v) {
  for (size_t i = width; i-- > 0;) {
    p[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}
inline void put_be16(uint8_t* p, uint16_t v) {
  put_be(p, 2, v);
}
inline void put_be32(uint8_t* p, uint32_t v) {
  put_be(p, 4, v);
}
inline void put_be64(uint8_t* p, uint64_t v) {
  put_be(p, 8, v);
}

}  // namespace lunkit::scsi
