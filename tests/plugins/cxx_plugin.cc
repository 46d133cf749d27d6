// A handler written with the C++ layer (lunkit/handler.hpp) that overrides only some of the
// optional methods, and misbehaves on purpose in two places, for the C++ layer's tests:
//   - it reports LUNKIT_CAP_THIN without overriding unmap() (and has no block_status());
//   - a read of LBA 7 completes and then throws; so does the vendor command 0xC2.
#include <lunkit/handler.hpp>

#include <cstring>
#include <stdexcept>
#include <vector>

extern "C" {
// compare_and_write() calls, for the test (exported like the C test plugins' counters).
__attribute__((visibility("default"))) unsigned cxx_compare_and_write_calls;
}

namespace {

class CxxDevice : public lunkit::HandlerDevice {
 public:
  static bool check_config(const std::string&, std::string*) { return true; }
  static std::unique_ptr<CxxDevice> open(lunkit_device*, const std::string&,
                                         lunkit_device_info* info, std::string*) {
    info->capabilities = LUNKIT_CAP_THIN | LUNKIT_CAP_UNMAP_ZEROES;
    return std::unique_ptr<CxxDevice>(new CxxDevice(info->size));
  }

  void read(lunkit_io* io, std::span<const iovec> iov, uint64_t offset, uint64_t) override {
    copy(iov, offset, false);
    lunkit_io_complete(io, 0);
    if (offset == 7 * 512) throw std::runtime_error("after completing");
  }
  void write(lunkit_io* io, std::span<const iovec> iov, uint64_t offset, uint64_t,
             uint32_t) override {
    copy(iov, offset, true);
    lunkit_io_complete(io, 0);
  }
  void compare_and_write(lunkit_io* io, std::span<const iovec> iov, uint64_t offset,
                         uint64_t length) override {
    ++cxx_compare_and_write_calls;
    std::vector<uint8_t> both(2 * length);
    size_t at = 0;
    for (const iovec& v : iov) {
      size_t n = std::min(v.iov_len, both.size() - at);
      std::memcpy(both.data() + at, v.iov_base, n);
      at += n;
    }
    for (uint64_t i = 0; i < length; ++i)
      if (both[i] != mem_[offset + i]) {
        lunkit_io_set_miscompare(io, i);
        return lunkit_io_complete(io, -EILSEQ);
      }
    std::memcpy(mem_.data() + offset, both.data() + length, length);
    lunkit_io_complete(io, 0);
  }
  int handle_cmd(lunkit_cmd* cmd) override {
    size_t len;
    if (lunkit_cmd_cdb(cmd, &len)[0] != 0xC2) return LUNKIT_CMD_DECLINED;
    lunkit_cmd_complete(cmd, 0, nullptr, 0, 0);
    throw std::runtime_error("after answering");
  }

 private:
  explicit CxxDevice(uint64_t size) : mem_(size) {}
  void copy(std::span<const iovec> iov, uint64_t offset, bool to_mem) {
    for (const iovec& v : iov) {
      if (to_mem)
        std::memcpy(mem_.data() + offset, v.iov_base, v.iov_len);
      else
        std::memcpy(v.iov_base, mem_.data() + offset, v.iov_len);
      offset += v.iov_len;
    }
  }
  std::vector<uint8_t> mem_;
};

}  // namespace

LUNKIT_REGISTER_CXX_HANDLER(CxxDevice, "cxx", "no configuration", LUNKIT_THREAD_NONBLOCKING)
