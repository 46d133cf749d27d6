// Plugin directories for tests: a fresh directory holding copies of chosen built plugins.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace lunkit::test {

inline std::string handler_build_dir() {
  const char* d = std::getenv("LUNKIT_HANDLER_BUILD_DIR");
  return d ? d : "handlers/.libs";
}
inline std::string bad_plugin_dir() {
  const char* d = std::getenv("LUNKIT_BAD_PLUGIN_DIR");
  return d ? d : "tests/plugins/.libs";
}

class PluginDir {
 public:
  PluginDir() {
    char tmpl[] = "/tmp/lunkit-plugins-XXXXXX";
    path = mkdtemp(tmpl);
    chmod(path.c_str(), 0755);
  }
  ~PluginDir() { std::filesystem::remove_all(path); }
  // Copies `file` from `from` as `as` (default: the same name), mode 0644.
  std::string add(const std::string& from, const std::string& file, std::string as = "") {
    std::string dst = path + "/" + (as.empty() ? file : as);
    std::filesystem::copy_file(from + "/" + file, dst);
    chmod(dst.c_str(), 0644);
    return dst;
  }
  std::string path;
};

}  // namespace lunkit::test
