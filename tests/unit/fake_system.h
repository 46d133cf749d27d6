// A throwaway sysfs + configfs + /dev tree in a temporary directory, laid out as the kernel
// lays out the parts lunkit reads and writes.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tcmu/configfs.h"

namespace lunkit::test {

class FakeSystem {
 public:
  FakeSystem() {
    char tmpl[] = "/tmp/lunkit-fake-XXXXXX";
    root_ = mkdtemp(tmpl);
    paths.sysfs = root_ + "/sys";
    paths.configfs_core = root_ + "/config/target/core";
    paths.module_params = root_ + "/module/target_core_user/parameters";
    paths.dev = root_ + "/dev";
    std::filesystem::create_directories(paths.dev);
    write(paths.module_params + "/block_netlink", "0");
    write(paths.module_params + "/reset_netlink", "");
  }
  ~FakeSystem() { std::filesystem::remove_all(root_); }

  static void write(const std::string& path, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // A UIO device as target_core_user registers it, and its configfs directory.
  void add_uio(uint32_t minor, const std::string& name, uint64_t map_size) {
    std::string dir = paths.sysfs + "/class/uio/uio" + std::to_string(minor);
    write(dir + "/name", name + "\n");
    char size[32];
    snprintf(size, sizeof size, "0x%016llx\n", static_cast<unsigned long long>(map_size));
    write(dir + "/maps/map0/size", size);
  }
  void add_backstore(uint32_t hba, const std::string& device, uint64_t size, uint32_t block = 512,
                     bool write_cache = false) {
    std::string dir = paths.configfs_core + "/user_" + std::to_string(hba) + "/" + device;
    write(dir + "/attrib/hw_block_size", std::to_string(block) + "\n");
    write(dir + "/attrib/hw_max_sectors", "128\n");
    write(dir + "/attrib/dev_size", std::to_string(size) + "\n");
    write(dir + "/attrib/emulate_write_cache", write_cache ? "1\n" : "0\n");
    write(dir + "/attrib/cmd_time_out", "30\n");
    write(dir + "/attrib/pgr_support", "1\n");  // the kernel serves PR (6.12's defaults)
    write(dir + "/attrib/emulate_pr", "1\n");
    write(dir + "/attrib/nl_reply_supported", "0\n");  // enabled before SET_FEATURES
    write(dir + "/action/block_dev", "");
    write(dir + "/action/reset_ring", "");
  }
  void set_serial(uint32_t hba, const std::string& device, const std::string& serial) {
    write(paths.configfs_core + "/user_" + std::to_string(hba) + "/" + device +
              "/wwn/vpd_unit_serial",
          "T10 VPD Unit Serial Number: " + serial + "\n");
  }

  tcmu::SystemPaths paths;

 private:
  std::string root_;
};

}  // namespace lunkit::test
