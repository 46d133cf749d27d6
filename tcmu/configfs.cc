#include "tcmu/configfs.h"

#include <charconv>

namespace lunkit::tcmu {

std::string Configfs::device_dir(const UioName& name) const {
  return paths_.configfs_core + "/user_" + std::to_string(name.hba) + "/" + name.device;
}

Result<uint64_t> Configfs::attribute(const UioName& name, std::string_view attr) const {
  std::string path = device_dir(name) + "/attrib/" + std::string(attr);
  auto text = read_text_file(path);
  if (!text) return Error{text.error()};
  uint64_t v = 0;
  const std::string& s = *text;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size())
    return Error{path + ": not a number: '" + s + "'"};
  return v;
}

Result<DeviceAttributes> Configfs::attributes(const UioName& name) const {
  DeviceAttributes a;
  auto block = attribute(name, "hw_block_size");
  if (!block) return Error{block.error()};
  auto sectors = attribute(name, "hw_max_sectors");
  if (!sectors) return Error{sectors.error()};
  auto size = attribute(name, "dev_size");
  if (!size) return Error{size.error()};
  auto wc = attribute(name, "emulate_write_cache");
  if (!wc) return Error{wc.error()};
  auto timeout = attribute(name, "cmd_time_out");
  if (!timeout) return Error{timeout.error()};
  if (*block < 512 || *block > 65536 || (*block & (*block - 1)))
    return Error{device_dir(name) + "/attrib/hw_block_size: unusable block size " +
                 std::to_string(*block)};
  a.block_size = static_cast<uint32_t>(*block);
  a.max_sectors = static_cast<uint32_t>(*sectors);
  a.size_bytes = *size;
  a.write_cache = *wc != 0;
  a.cmd_time_out = static_cast<uint32_t>(*timeout);
  // passthrough_parse_cdb answers PR and RESERVE/RELEASE in the kernel unless the device has
  // TRANSPORT_FLAG_PASSTHROUGH_PGR (pgr_support 0: they reach lunkit); with emulate_pr 0 it
  // refuses them instead.
  auto pgr = attribute(name, "pgr_support");
  auto emulate_pr = attribute(name, "emulate_pr");
  a.kernel_reservations = pgr && *pgr != 0 && emulate_pr && *emulate_pr != 0;
  return a;
}

std::string Configfs::unit_serial(const UioName& name) const {
  auto text = read_text_file(device_dir(name) + "/wwn/vpd_unit_serial");
  if (!text) return "";
  constexpr std::string_view kPrefix = "T10 VPD Unit Serial Number: ";
  std::string s = *text;
  if (s.starts_with(kPrefix)) s.erase(0, kPrefix.size());
  return s;
}

Result<bool> Configfs::write(const std::string& path, std::string_view value) {
  if (observer_) observer_(observer_context_, path, value);
  return write_text_file(path, value);
}

Result<std::string> Configfs::attribute_text(const UioName& name, std::string_view attr) const {
  return read_text_file(device_dir(name) + "/attrib/" + std::string(attr));
}

Result<bool> Configfs::set_attribute(const UioName& name, std::string_view attr,
                                     std::string_view value) {
  return write(device_dir(name) + "/attrib/" + std::string(attr), value);
}

Result<bool> Configfs::action(const UioName& name, std::string_view action,
                              std::string_view value) {
  return write(device_dir(name) + "/action/" + std::string(action), value);
}

Result<bool> Configfs::set_module_param(std::string_view param, std::string_view value) {
  return write(paths_.module_params + "/" + std::string(param), value);
}

Result<std::string> Configfs::module_param(std::string_view param) const {
  return read_text_file(paths_.module_params + "/" + std::string(param));
}

}  // namespace lunkit::tcmu
