#include "tcmu/uio.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/fd.h"

namespace lunkit::tcmu {
namespace {

constexpr std::string_view kPrefix = "tcm-user/";

template <typename T>
bool parse_number(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

Result<UioName> parse_uio_name(std::string_view name) {
  if (!name.starts_with(kPrefix)) return Error{"not a TCMU device (no tcm-user/ prefix)"};
  name.remove_prefix(kPrefix.size());
  size_t slash = name.find('/');
  if (slash == std::string_view::npos) return Error{"TCMU UIO name has no device name"};
  UioName out;
  if (!parse_number(name.substr(0, slash), &out.hba))
    return Error{"TCMU UIO name has a bad HBA number '" + std::string(name.substr(0, slash)) + "'"};
  name.remove_prefix(slash + 1);
  slash = name.find('/');
  out.device = std::string(name.substr(0, slash));
  if (out.device.empty()) return Error{"TCMU UIO name has an empty device name"};
  if (slash == std::string_view::npos) return out;
  std::string_view config = name.substr(slash + 1);
  if (config.size() > kMaxDevConfig)
    return Error{"TCMU dev_config is " + std::to_string(config.size()) + " bytes (at most " +
                 std::to_string(kMaxDevConfig) + ")"};
  out.has_config = true;
  size_t sub = config.find('/');
  out.subtype = std::string(config.substr(0, sub));
  if (sub != std::string_view::npos) out.cfgstring = std::string(config.substr(sub + 1));
  return out;
}

Result<std::string> read_text_file(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error{path + ": " + std::strerror(errno)};
  char buf[4096];
  ssize_t n = read(fd.get(), buf, sizeof buf);
  if (n < 0) return Error{path + ": " + std::strerror(errno)};
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == '\0')) s.pop_back();
  return s;
}

Result<bool> write_text_file(const std::string& path, std::string_view value) {
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return Error{path + ": " + std::strerror(errno)};
  ssize_t n = write(fd.get(), value.data(), value.size());
  if (n < 0) return Error{path + ": " + std::strerror(errno)};
  if (static_cast<size_t>(n) != value.size()) return Error{path + ": short write"};
  return true;
}

Result<UioDevice> read_uio_device(const std::string& sysfs_root, uint32_t minor) {
  std::string dir = sysfs_root + "/class/uio/uio" + std::to_string(minor);
  auto name = read_text_file(dir + "/name");
  if (!name) return Error{name.error()};
  auto parsed = parse_uio_name(*name);
  if (!parsed) return Error{"uio" + std::to_string(minor) + ": " + parsed.error()};
  auto size_text = read_text_file(dir + "/maps/map0/size");
  if (!size_text) return Error{size_text.error()};
  UioDevice dev;
  dev.minor = minor;
  dev.name = std::move(*parsed);
  std::string_view s = *size_text;
  bool ok =
      s.starts_with("0x")
          ? std::from_chars(s.data() + 2, s.data() + s.size(), dev.map_size, 16).ec == std::errc()
          : parse_number(s, &dev.map_size);
  if (!ok || dev.map_size == 0)
    return Error{dir + "/maps/map0/size: cannot read a size from '" + *size_text + "'"};
  return dev;
}

std::vector<UioDevice> scan_uio_devices(const std::string& sysfs_root,
                                        std::vector<std::string>* errors) {
  std::vector<UioDevice> out;
  std::string dir = sysfs_root + "/class/uio";
  DIR* d = opendir(dir.c_str());
  if (!d) return out;  // no UIO devices at all (module not loaded)
  while (dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    uint32_t minor;
    if (!n.starts_with("uio") || !parse_number(n.substr(3), &minor)) continue;
    auto name = read_text_file(dir + "/" + std::string(n) + "/name");
    if (!name || !name->starts_with(kPrefix)) continue;  // some other UIO driver
    auto dev = read_uio_device(sysfs_root, minor);
    if (dev)
      out.push_back(std::move(*dev));
    else if (errors)
      errors->push_back(dev.error());
  }
  closedir(d);
  std::sort(out.begin(), out.end(),
            [](const UioDevice& a, const UioDevice& b) { return a.minor < b.minor; });
  return out;
}

}  // namespace lunkit::tcmu
