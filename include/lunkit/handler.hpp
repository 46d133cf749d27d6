// A C++ layer over the handler C ABI: derive from lunkit::HandlerDevice, give the class two static
// functions, register it with LUNKIT_REGISTER_CXX_HANDLER. Exceptions never cross into lunkitd:
// the thunks turn them into a failed open() or an -EIO completion (a CHECK CONDITION, HARDWARE
// ERROR for handle_cmd). A method that completed its I/O and then throws is not completed twice:
// lunkit ignores a second completion of the I/O (or command) it is calling the handler for, on
// the thread that calls it. (A method that hands the I/O to another thread must not throw after.)
//
// Only the optional methods the class overrides become callbacks: for the others lunkit applies
// its own documented default (handler.h), exactly as for a C handler that leaves the callback
// NULL. So a class with LUNKIT_CAP_THIN but no unmap() does not advertise UNMAP, and one without
// block_status() lets lunkit report everything mapped. (Overriding is detected at compile time
// from the type of &T::method.)
//
//   class MyDevice : public lunkit::HandlerDevice {
//    public:
//     static bool check_config(const std::string& cfgstring, std::string* reason);
//     static std::unique_ptr<MyDevice> open(lunkit_device* dev, const std::string& cfgstring,
//                                           lunkit_device_info* info, std::string* reason);
//     void read(lunkit_io* io, std::span<const iovec> iov, uint64_t offset,
//               uint64_t length) override;
//     void write(lunkit_io* io, std::span<const iovec> iov, uint64_t offset,
//                uint64_t length, uint32_t flags) override;
//   };
//   LUNKIT_REGISTER_CXX_HANDLER(MyDevice, "mine", "<path>", LUNKIT_THREAD_BLOCKING)
#pragma once

#include <cerrno>
#include <cstdio>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <type_traits>

#include "lunkit/handler.h"

namespace lunkit {

class HandlerDevice {
 public:
  virtual ~HandlerDevice() = default;
  virtual void read(lunkit_io* io, std::span<const iovec> iov, uint64_t offset,
                    uint64_t length) = 0;
  virtual void write(lunkit_io* io, std::span<const iovec> iov, uint64_t offset, uint64_t length,
                     uint32_t flags) = 0;
  // Optional operations: override one and it becomes the handler's callback (see handler.h for
  // each). One not overridden is never installed, and lunkit applies its default; the bodies
  // here only run when a derived class calls them explicitly, and then do what that default
  // does (or decline).
  virtual void flush(lunkit_io* io) { lunkit_io_complete(io, 0); }
  virtual void unmap(lunkit_io* io, uint64_t, uint64_t) { lunkit_io_complete(io, -EOPNOTSUPP); }
  virtual void write_zeroes(lunkit_io* io, uint64_t, uint64_t, uint32_t) {
    lunkit_io_complete(io, -EOPNOTSUPP);
  }
  // `iov` holds `length` bytes to compare followed by `length` bytes to write.
  virtual void compare_and_write(lunkit_io* io, std::span<const iovec>, uint64_t, uint64_t) {
    lunkit_io_complete(io, -EOPNOTSUPP);
  }
  virtual void block_status(lunkit_io* io, uint64_t offset, uint64_t length) {
    lunkit_io_add_extent(io, offset, length, 0);
    lunkit_io_complete(io, 0);
  }
  // Raw SCSI commands, before lunkit's emulation: LUNKIT_CMD_DECLINED or LUNKIT_CMD_ACCEPTED.
  virtual int handle_cmd(lunkit_cmd*) { return LUNKIT_CMD_DECLINED; }
  virtual int reconfig(uint64_t new_size, const char* new_cfgstring, int write_cache) {
    (void)write_cache;
    return (new_size || new_cfgstring) ? -EOPNOTSUPP : 0;
  }
};

namespace detail {

// Whether T (or a class between it and HandlerDevice) overrides the method: &T::m then has the
// type of a member of that class, not of HandlerDevice.
#define LUNKIT_CXX_OVERRIDES(T, m) \
  (!std::is_same_v<decltype(&T::m), decltype(&::lunkit::HandlerDevice::m)>)

inline void copy_reason(const std::string& why, char* out, size_t len) {
  if (len) std::snprintf(out, len, "%s", why.c_str());
}

template <typename T>
struct Thunks {
  static T* self(void* h) { return static_cast<T*>(h); }
  static int check_config(const char* cfg, char* reason, size_t len) {
    std::string why;
    try {
      if (T::check_config(cfg, &why)) return 0;
    } catch (const std::exception& e) {
      why = e.what();
    }
    copy_reason(why, reason, len);
    return -1;
  }
  static void* open(lunkit_device* dev, const char* cfg, lunkit_device_info* info, char* reason,
                    size_t len) {
    std::string why;
    try {
      if (auto d = T::open(dev, cfg, info, &why)) return d.release();
    } catch (const std::exception& e) {
      why = e.what();
    }
    copy_reason(why.empty() ? "open failed" : why, reason, len);
    return nullptr;
  }
  static void close(void* h) { delete self(h); }
  static int reconfig(void* h, uint64_t size, const char* cfg, int wc) {
    try {
      return self(h)->reconfig(size, cfg, wc);
    } catch (...) {
      return -EIO;
    }
  }
  template <typename F>
  static void guard(lunkit_io* io, F&& f) {
    try {
      f();
    } catch (...) {
      lunkit_io_complete(io, -EIO);
    }
  }
  static void read(void* h, lunkit_io* io, const iovec* iov, int n, uint64_t off, uint64_t len) {
    guard(io, [&] { self(h)->read(io, {iov, static_cast<size_t>(n)}, off, len); });
  }
  static void write(void* h, lunkit_io* io, const iovec* iov, int n, uint64_t off, uint64_t len,
                    uint32_t flags) {
    guard(io, [&] { self(h)->write(io, {iov, static_cast<size_t>(n)}, off, len, flags); });
  }
  static void flush(void* h, lunkit_io* io) {
    guard(io, [&] { self(h)->flush(io); });
  }
  static void unmap(void* h, lunkit_io* io, uint64_t off, uint64_t len) {
    guard(io, [&] { self(h)->unmap(io, off, len); });
  }
  static void write_zeroes(void* h, lunkit_io* io, uint64_t off, uint64_t len, uint32_t flags) {
    guard(io, [&] { self(h)->write_zeroes(io, off, len, flags); });
  }
  static void compare_and_write(void* h, lunkit_io* io, const iovec* iov, int n, uint64_t off,
                                uint64_t len) {
    guard(io, [&] { self(h)->compare_and_write(io, {iov, static_cast<size_t>(n)}, off, len); });
  }
  static void block_status(void* h, lunkit_io* io, uint64_t off, uint64_t len) {
    guard(io, [&] { self(h)->block_status(io, off, len); });
  }
  static int handle_cmd(void* h, lunkit_cmd* cmd) {
    try {
      return self(h)->handle_cmd(cmd);
    } catch (...) {
      // HARDWARE ERROR, INTERNAL TARGET FAILURE (ignored by lunkit if already answered).
      static const uint8_t sense[18] = {0x70, 0, 0x04, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x44, 0x00};
      lunkit_cmd_complete(cmd, 2, sense, sizeof sense, 0);
      return LUNKIT_CMD_ACCEPTED;
    }
  }
};

}  // namespace detail

template <typename T>
lunkit_handler make_handler(const char* subtype, const char* cfg_desc, lunkit_thread_model model,
                            uint32_t io_private_size = 0, uint32_t flags = 0) {
  using Th = detail::Thunks<T>;
  lunkit_handler h{};
  // Set here too (LUNKIT_REGISTER_HANDLER sets them), so that the result can be handed straight
  // to lunkit_tcmu_add_handler().
  h.abi_version = LUNKIT_HANDLER_ABI_VERSION;
  h.struct_size = sizeof(lunkit_handler);
  h.subtype = subtype;
  h.cfg_desc = cfg_desc;
  h.thread_model = model;
  h.io_private_size = io_private_size;
  h.check_config = Th::check_config;
  h.open = Th::open;
  h.close = Th::close;
  h.read = Th::read;
  h.write = Th::write;
  if constexpr (LUNKIT_CXX_OVERRIDES(T, reconfig)) h.reconfig = Th::reconfig;
  if constexpr (LUNKIT_CXX_OVERRIDES(T, flush)) h.flush = Th::flush;
  if constexpr (LUNKIT_CXX_OVERRIDES(T, unmap)) h.unmap = Th::unmap;
  if constexpr (LUNKIT_CXX_OVERRIDES(T, write_zeroes)) h.write_zeroes = Th::write_zeroes;
  if constexpr (LUNKIT_CXX_OVERRIDES(T, compare_and_write))
    h.compare_and_write = Th::compare_and_write;
  if constexpr (LUNKIT_CXX_OVERRIDES(T, block_status)) h.block_status = Th::block_status;
  if constexpr (LUNKIT_CXX_OVERRIDES(T, handle_cmd)) h.handle_cmd = Th::handle_cmd;
  h.flags = flags;
  return h;
}

}  // namespace lunkit

#define LUNKIT_REGISTER_CXX_HANDLER(T, subtype, cfg_desc, model, ...)               \
  static lunkit_handler lunkit_cxx_handler_ =                                       \
      lunkit::make_handler<T>(subtype, cfg_desc, model __VA_OPT__(, ) __VA_ARGS__); \
  LUNKIT_REGISTER_HANDLER(lunkit_cxx_handler_)
