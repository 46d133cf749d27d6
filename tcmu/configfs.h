// What lunkit reads from and writes to configfs and the target_core_user module parameters.
// Every path hangs off configurable roots so tests can use a fake tree.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "lunkit/result.h"
#include "tcmu/uio.h"

namespace lunkit::tcmu {

struct SystemPaths {
  std::string sysfs = "/sys";
  std::string configfs_core = "/sys/kernel/config/target/core";
  std::string module_params = "/sys/module/target_core_user/parameters";
  std::string dev = "/dev";
};

// The device attributes lunkit needs (attrib/ of the user backstore).
struct DeviceAttributes {
  uint32_t block_size = 512;   // hw_block_size
  uint32_t max_sectors = 128;  // hw_max_sectors (in blocks)
  uint64_t size_bytes = 0;     // dev_size
  bool write_cache = false;    // emulate_write_cache
  uint32_t cmd_time_out = 30;  // seconds
  // The kernel serves PERSISTENT RESERVE IN/OUT and RESERVE/RELEASE for the device
  // (pgr_support 1 and emulate_pr 1; false where the attributes are missing).
  bool kernel_reservations = false;
};

class Configfs {
 public:
  explicit Configfs(SystemPaths paths = {}) : paths_(std::move(paths)) {}

  const SystemPaths& paths() const { return paths_; }
  // <core>/user_<hba>/<device>
  std::string device_dir(const UioName& name) const;
  std::string uio_path(uint32_t minor) const { return paths_.dev + "/uio" + std::to_string(minor); }

  Result<uint64_t> attribute(const UioName& name, std::string_view attr) const;
  Result<DeviceAttributes> attributes(const UioName& name) const;
  // wwn/vpd_unit_serial without its "T10 VPD Unit Serial Number: " prefix; empty when unset.
  std::string unit_serial(const UioName& name) const;
  // attrib/<attr> as text (some are signed, e.g. nl_reply_supported), and writing one.
  Result<std::string> attribute_text(const UioName& name, std::string_view attr) const;
  Result<bool> set_attribute(const UioName& name, std::string_view attr, std::string_view value);
  // action/<name> (block_dev, reset_ring).
  Result<bool> action(const UioName& name, std::string_view action, std::string_view value);
  Result<bool> set_module_param(std::string_view param, std::string_view value);
  Result<std::string> module_param(std::string_view param) const;

  // Tests observe the order of writes.
  using WriteObserver = void (*)(void* context, const std::string& path, std::string_view value);
  void observe_writes(WriteObserver fn, void* context) {
    observer_ = fn;
    observer_context_ = context;
  }

 private:
  Result<bool> write(const std::string& path, std::string_view value);

  SystemPaths paths_;
  WriteObserver observer_ = nullptr;
  void* observer_context_ = nullptr;
};

}  // namespace lunkit::tcmu
