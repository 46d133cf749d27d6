#include "ublk/record.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace lunkit::ublk {
namespace {

Result<uint64_t> parse_number(const std::string& key, const std::string& value) {
  if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos)
    return Error{key + " must be a number (got '" + value + "')"};
  errno = 0;
  unsigned long long v = std::strtoull(value.c_str(), nullptr, 10);
  if (errno) return Error{key + " is out of range (got '" + value + "')"};
  return static_cast<uint64_t>(v);
}

}  // namespace

std::string format_record(const DeviceRecord& r) {
  std::ostringstream out;
  out << "handler=" << r.handler << "\ncfg=" << r.cfg << "\nsize=" << r.size
      << "\nblock_size=" << r.block_size << "\nread_only=" << (r.read_only ? 1 : 0)
      << "\nretry_timeout_ms=" << r.retry_timeout_ms << "\npid=" << r.pid << "\n";
  // Only where it is used: a record without it can still be read by an older lunkit.
  if (r.threads) out << "threads=" << r.threads << "\n";
  return out.str();
}

Result<DeviceRecord> parse_record(const std::string& text) {
  DeviceRecord r;
  bool have_handler = false;
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) return Error{"line " + std::to_string(n) + ": no '='"};
    std::string key = line.substr(0, eq), value = line.substr(eq + 1);
    auto number = [&]() { return parse_number(key, value); };
    if (key == "handler") {
      r.handler = value;
      have_handler = !value.empty();
    } else if (key == "cfg") {
      r.cfg = value;
    } else if (key == "size" || key == "block_size" || key == "read_only" || key == "pid" ||
               key == "retry_timeout_ms" || key == "threads") {
      auto v = number();
      if (!v) return Error{"line " + std::to_string(n) + ": " + v.error()};
      if (key == "size") r.size = *v;
      if (key == "block_size") r.block_size = static_cast<uint32_t>(*v);
      if (key == "read_only") r.read_only = *v != 0;
      if (key == "retry_timeout_ms") {
        if (*v > kMaxRetryTimeoutMs)
          return Error{"line " + std::to_string(n) + ": retry_timeout_ms is at most " +
                       std::to_string(kMaxRetryTimeoutMs)};
        r.retry_timeout_ms = static_cast<uint32_t>(*v);
      }
      if (key == "pid") r.pid = static_cast<int64_t>(*v);
      if (key == "threads") {
        if (*v > 32) return Error{"line " + std::to_string(n) + ": threads is at most 32"};
        r.threads = static_cast<uint16_t>(*v);
      }
    } else {
      return Error{"line " + std::to_string(n) + ": unknown key '" + key + "'"};
    }
  }
  if (!have_handler) return Error{"no handler= line"};
  return r;
}

std::string state_dir() {
  const char* d = std::getenv("LUNKIT_UBLK_STATE_DIR");
  return d && *d ? d : "/run/lunkit/ublk";
}

std::string record_path(uint32_t dev_id) {
  return state_dir() + "/ublk" + std::to_string(dev_id);
}

Result<bool> make_state_dir() {
  std::string dir = state_dir();
  // mkdir -p, one level at a time.
  for (size_t at = 1; at != std::string::npos;) {
    at = dir.find('/', at + 1);
    std::string part = dir.substr(0, at);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST)
      return Error{part + ": " + std::strerror(errno)};
  }
  return true;
}

Result<bool> save_record(uint32_t dev_id, const DeviceRecord& record) {
  if (auto ok = make_state_dir(); !ok) return ok;
  std::string path = record_path(dev_id), tmp = path + ".new";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << format_record(record);
    if (!out.flush()) return Error{tmp + ": cannot write"};
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) return Error{path + ": " + std::strerror(errno)};
  return true;
}

Result<DeviceRecord> load_record(uint32_t dev_id) {
  std::string path = record_path(dev_id);
  std::ifstream in(path);
  if (!in)
    return Error{path + ": " + std::strerror(errno) +
                 " (was the device added by lunkit ublk add?)"};
  std::stringstream text;
  text << in.rdbuf();
  auto r = parse_record(text.str());
  if (!r) return Error{path + ": " + r.error()};
  return r;
}

void remove_record(uint32_t dev_id) {
  unlink(record_path(dev_id).c_str());
}

Result<uint64_t> parse_size(const std::string& text) {
  if (text.empty()) return Error{"empty size"};
  size_t digits = text.find_first_not_of("0123456789");
  if (digits == 0) return Error{"size '" + text + "' does not start with a number"};
  std::string suffix = digits == std::string::npos ? "" : text.substr(digits);
  unsigned shift = 0;
  if (suffix.empty() || suffix == "B")
    shift = 0;
  else if (suffix == "K" || suffix == "k" || suffix == "KiB")
    shift = 10;
  else if (suffix == "M" || suffix == "MiB")
    shift = 20;
  else if (suffix == "G" || suffix == "GiB")
    shift = 30;
  else if (suffix == "T" || suffix == "TiB")
    shift = 40;
  else
    return Error{"size '" + text + "': unknown suffix '" + suffix + "' (use K, M, G or T)"};
  auto n = parse_number("size", text.substr(0, digits));
  if (!n) return n;
  if (*n > (UINT64_MAX >> shift)) return Error{"size '" + text + "' is too large"};
  return *n << shift;
}

}  // namespace lunkit::ublk
