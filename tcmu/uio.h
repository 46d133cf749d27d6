// Finding TCMU devices: the UIO name the kernel gives them and what sysfs says about them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lunkit/result.h"

namespace lunkit::tcmu {

// "tcm-user/<hba>/<device>[/<subtype>/<cfgstring>]" (kernel: tcmu_update_uio_info()).
struct UioName {
  uint32_t hba = 0;
  std::string device;
  bool has_config = false;
  std::string subtype;    // up to the first '/' of dev_config
  std::string cfgstring;  // the rest; may contain '/', may be empty

  std::string dev_config() const { return has_config ? subtype + "/" + cfgstring : ""; }
};

// dev_config is copied into a 256-byte kernel buffer: at most 255 bytes.
constexpr size_t kMaxDevConfig = 255;

Result<UioName> parse_uio_name(std::string_view name);

struct UioDevice {
  uint32_t minor = 0;  // /dev/uio<minor>
  UioName name;
  uint64_t map_size = 0;  // maps/map0/size
};

// Reads /sys/class/uio/uio<minor> under `sysfs_root` (normally "/sys").
Result<UioDevice> read_uio_device(const std::string& sysfs_root, uint32_t minor);
// Every tcm-user UIO device; devices that cannot be read are reported in `errors`.
std::vector<UioDevice> scan_uio_devices(const std::string& sysfs_root,
                                        std::vector<std::string>* errors);

// Reads a small sysfs/configfs file, without the trailing newline.
Result<std::string> read_text_file(const std::string& path);
// Writes `value` to a sysfs/configfs attribute.
Result<bool> write_text_file(const std::string& path, std::string_view value);

}  // namespace lunkit::tcmu
