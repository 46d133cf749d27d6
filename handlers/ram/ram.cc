// user:ram — a sparse in-memory disk: 64 KiB chunks allocated on first write, freed by UNMAP.
// For tests and demos; the example of a handler written with the C++ layer.
#include <lunkit/handler.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

namespace {

class RamDevice : public lunkit::HandlerDevice {
 public:
  static constexpr uint64_t kChunk = 64 * 1024;

  static bool check_config(const std::string& cfg, std::string* reason) {
    if (cfg.empty()) return true;
    *reason = "ram takes no configuration (got '" + cfg + "'); the size comes from targetcli";
    return false;
  }

  static std::unique_ptr<RamDevice> open(lunkit_device*, const std::string& cfg,
                                         lunkit_device_info* info, std::string* reason) {
    if (!check_config(cfg, reason)) return nullptr;
    if (info->size == 0) {
      *reason = "ram needs a size";
      return nullptr;
    }
    // Zeroing is a memset or a chunk freed: always fast.
    info->capabilities =
        LUNKIT_CAP_THIN | LUNKIT_CAP_UNMAP_ZEROES | LUNKIT_CAP_FUA | LUNKIT_CAP_FAST_ZERO;
    // Memory comes back a whole chunk at a time.
    if (LUNKIT_INFO_HAS(info, unmap_granularity) && kChunk % info->block_size == 0)
      info->unmap_granularity = kChunk;
    return std::unique_ptr<RamDevice>(new RamDevice(info->size));
  }

  void read(lunkit_io* io, std::span<const iovec> iov, uint64_t offset, uint64_t length) override {
    for_each(iov, offset, length, [&](uint8_t* buf, uint64_t at, uint64_t n) {
      const uint8_t* chunk = chunks_[at / kChunk].get();
      if (chunk)
        std::memcpy(buf, chunk + at % kChunk, n);
      else
        std::memset(buf, 0, n);
    });
    lunkit_io_complete(io, 0);
  }

  void write(lunkit_io* io, std::span<const iovec> iov, uint64_t offset, uint64_t length,
             uint32_t) override {
    for_each(iov, offset, length, [&](uint8_t* buf, uint64_t at, uint64_t n) {
      auto& chunk = chunks_[at / kChunk];
      if (!chunk) chunk = std::make_unique<uint8_t[]>(kChunk);  // value-initialised: zeros
      std::memcpy(chunk.get() + at % kChunk, buf, n);
    });
    lunkit_io_complete(io, 0);
  }

  // Growing adds empty chunks; shrinking gives the memory past the new end back.
  int reconfig(uint64_t new_size, const char* new_cfgstring, int) override {
    if (new_cfgstring) return -EOPNOTSUPP;
    if (new_size) chunks_.resize((new_size + kChunk - 1) / kChunk);
    return 0;
  }

  void unmap(lunkit_io* io, uint64_t offset, uint64_t length) override {
    zero(offset, length);
    lunkit_io_complete(io, 0);
  }
  void write_zeroes(lunkit_io* io, uint64_t offset, uint64_t length, uint32_t) override {
    zero(offset, length);
    lunkit_io_complete(io, 0);
  }

  void block_status(lunkit_io* io, uint64_t offset, uint64_t length) override {
    uint64_t end = offset + length;
    while (offset < end) {
      bool mapped = chunks_[offset / kChunk] != nullptr;
      uint64_t run = offset;
      while (run < end && (chunks_[run / kChunk] != nullptr) == mapped)
        run = std::min(end, (run / kChunk + 1) * kChunk);
      int type = mapped ? 0 : LUNKIT_EXTENT_HOLE | LUNKIT_EXTENT_ZERO;
      if (lunkit_io_add_extent(io, offset, run - offset, type) != 0) break;
      offset = run;
    }
    lunkit_io_complete(io, 0);
  }

 private:
  explicit RamDevice(uint64_t size) : chunks_((size + kChunk - 1) / kChunk) {}

  // Calls fn(buffer, device offset, bytes) for pieces that never cross a chunk boundary.
  template <typename Fn>
  static void for_each(std::span<const iovec> iov, uint64_t offset, uint64_t length, Fn&& fn) {
    for (const iovec& v : iov) {
      auto* buf = static_cast<uint8_t*>(v.iov_base);
      uint64_t left = std::min<uint64_t>(v.iov_len, length);
      while (left) {
        uint64_t n = std::min(left, kChunk - offset % kChunk);
        fn(buf, offset, n);
        buf += n, offset += n, left -= n, length -= n;
      }
    }
  }

  void zero(uint64_t offset, uint64_t length) {
    uint64_t end = offset + length;
    while (offset < end) {
      uint64_t chunk_end = std::min(end, (offset / kChunk + 1) * kChunk);
      auto& chunk = chunks_[offset / kChunk];
      if (offset % kChunk == 0 && chunk_end - offset == kChunk)
        chunk.reset();  // the whole chunk: give the memory back
      else if (chunk)
        std::memset(chunk.get() + offset % kChunk, 0, chunk_end - offset);
      offset = chunk_end;
    }
  }

  std::vector<std::unique_ptr<uint8_t[]>> chunks_;
};

}  // namespace

LUNKIT_REGISTER_CXX_HANDLER(RamDevice, "ram",
                            "No configuration (empty cfgstring): a sparse disk in memory, as "
                            "large as the size given to targetcli.",
                            LUNKIT_THREAD_NONBLOCKING)
