#include "daemon/config.h"

#include <libconfig.h++>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

namespace lunkit::daemon {
namespace {

std::string at(const std::string& file, int line) {
  return file + ":" + std::to_string(line) + ": ";
}

// The integer literal written for top-level setting `key`, which starts on line `line` of `text`.
// libconfig 1.5 stores an integer without the L suffix in 32 bits and silently wraps a larger one
// (1099511627776 reads as 0, 4294971392 as 4096); the text still has what was meant. Nothing when
// the literal cannot be found; LLONG_MAX when it does not fit in 64 bits either.
std::optional<long long> literal_of(const std::string& text, int line, const std::string& key) {
  size_t pos = 0;
  for (int l = 1; l < line && pos != std::string::npos; ++l) {
    pos = text.find('\n', pos);
    if (pos != std::string::npos) ++pos;
  }
  if (pos == std::string::npos) return std::nullopt;
  auto word = [&](size_t i) {
    return i < text.size() && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_');
  };
  for (pos = text.find(key, pos); pos != std::string::npos; pos = text.find(key, pos + 1))
    if ((pos == 0 || !word(pos - 1)) && !word(pos + key.size())) break;
  if (pos == std::string::npos) return std::nullopt;
  pos += key.size();
  auto skip_space = [&] {
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
  };
  skip_space();
  if (pos >= text.size() || (text[pos] != '=' && text[pos] != ':')) return std::nullopt;
  ++pos;
  skip_space();
  const char* start = text.c_str() + pos;
  size_t digits = pos + (text[pos] == '-' || text[pos] == '+');
  bool hex = text.compare(digits, 2, "0x") == 0 || text.compare(digits, 2, "0X") == 0;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(start, &end, hex ? 16 : 10);
  if (end == start) return std::nullopt;
  if (errno == ERANGE) return LLONG_MAX;
  return v;
}

}  // namespace

bool valid_log_level(const std::string& l) {
  for (const char* ok : {"trace", "debug", "info", "warning", "error", "critical", "off"})
    if (l == ok) return true;
  return false;
}

Result<Config> parse_config(const std::string& text, const std::string& name) {
  libconfig::Config cfg;
  try {
    cfg.readString(text);
  } catch (const libconfig::ParseException& e) {
    return Error{at(name, e.getLine()) + e.getError()};
  }
  Config c;
  const libconfig::Setting& root = cfg.getRoot();
  try {
    for (int i = 0; i < root.getLength(); ++i) {
      const libconfig::Setting& s = root[i];
      std::string key = s.getName() ? s.getName() : "";
      int line = static_cast<int>(s.getSourceLine());
      auto string_of = [&](std::string* out) -> std::optional<Error> {
        if (s.getType() != libconfig::Setting::TypeString)
          return Error{at(name, line) + key + " must be a string"};
        *out = static_cast<const char*>(s);
        return std::nullopt;
      };
      auto number_of = [&](uint64_t* out, uint64_t min, uint64_t max) -> std::optional<Error> {
        long long v;
        if (s.getType() == libconfig::Setting::TypeInt)
          v = literal_of(text, line, key).value_or(static_cast<int>(s));
        else if (s.getType() == libconfig::Setting::TypeInt64)
          v = static_cast<long long>(s);
        else
          return Error{at(name, line) + key + " must be a number"};
        if (v < static_cast<long long>(min) || static_cast<unsigned long long>(v) > max)
          return Error{at(name, line) + key + " must be between " + std::to_string(min) + " and " +
                       std::to_string(max)};
        *out = static_cast<uint64_t>(v);
        return std::nullopt;
      };
      std::optional<Error> err;
      uint64_t n = 0;
      if (key == "log_level") {
        if (!(err = string_of(&c.log_level)) && !valid_log_level(c.log_level))
          err = Error{at(name, line) + "log_level '" + c.log_level +
                      "' is not one of trace, debug, info, warning, error, critical, off"};
      } else if (key == "log_target") {
        if (!(err = string_of(&c.log_target)) && c.log_target != "stderr" &&
            c.log_target != "syslog" && c.log_target != "file")
          err = Error{at(name, line) + "log_target '" + c.log_target +
                      "' is not one of stderr, syslog, file"};
      } else if (key == "log_file") {
        err = string_of(&c.log_file);
      } else if (key == "log_file_max_size") {
        if (!(err = number_of(&n, 4096, 1ull << 40))) c.log_file_max_size = n;
      } else if (key == "log_file_max_files") {
        if (!(err = number_of(&n, 1, 1000))) c.log_file_max_files = static_cast<uint32_t>(n);
      } else if (key == "handler_dir") {
        err = string_of(&c.handler_dir);
      } else if (key == "lock_file") {
        err = string_of(&c.lock_file);
      } else if (key == "tcmu_runner_lock_file") {
        err = string_of(&c.tcmu_runner_lock_file);
      } else if (key == "worker_threads") {
        if (!(err = number_of(&n, 1, 256))) c.worker_threads = static_cast<uint32_t>(n);
      } else if (key == "handlers") {
        if (!s.isGroup()) {
          err = Error{at(name, line) + "handlers must be a group: handlers = { file = { ... }; };"};
        } else {
          for (int h = 0; h < s.getLength() && !err; ++h) {
            const libconfig::Setting& hs = s[h];
            std::string subtype = hs.getName();
            int hline = static_cast<int>(hs.getSourceLine());
            if (!hs.isGroup()) {
              err = Error{at(name, hline) + "handlers." + subtype + " must be a group"};
              break;
            }
            for (int k = 0; k < hs.getLength(); ++k) {
              const libconfig::Setting& opt = hs[k];
              int oline = static_cast<int>(opt.getSourceLine());
              if (std::string(opt.getName()) != "options") {
                err = Error{at(name, oline) + "unknown setting 'handlers." + subtype + "." +
                            opt.getName() + "' (known: options)"};
                break;
              }
              if (opt.getType() != libconfig::Setting::TypeString) {
                err = Error{at(name, oline) + "handlers." + subtype + ".options must be a string"};
                break;
              }
              c.handler_options[subtype] = static_cast<const char*>(opt);
            }
          }
        }
      } else if (key == "copy_groups") {
        err = parse_copy_groups(s, name, &c.copy_groups);
      } else {
        err = Error{at(name, line) + "unknown setting '" + key + "'"};
      }
      if (err) return *err;
    }
  } catch (const libconfig::SettingException& e) {
    return Error{name + ": " + e.what() + " at " + e.getPath()};
  }
  return c;
}

Result<Config> load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{path + ": cannot read the configuration file"};
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

}  // namespace lunkit::daemon
