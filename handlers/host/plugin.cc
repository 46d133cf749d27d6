#include "handlers/host/plugin.h"

#include <dirent.h>
#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

namespace lunkit::plugins {
namespace {

// Whether someone other than root could replace what lunkitd (root) is about to run.
std::string unsafe_reason(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return path + ": " + std::strerror(errno);
  if (st.st_uid != 0) return path + " is not owned by root";
  if (st.st_mode & S_IWOTH) return path + " is writable by every user";
  if ((st.st_mode & S_IWGRP) && st.st_gid != 0) return path + " is writable by a non-root group";
  return "";
}

}  // namespace

bool valid_subtype(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Plugin::~Plugin() {
  if (dl_) dlclose(dl_);
}

Result<std::unique_ptr<Plugin>> Plugin::load(const std::string& path, bool require_root_owned) {
  if (require_root_owned) {
    std::string dir = path.substr(0, path.find_last_of('/') + 1);
    for (const std::string& p : {dir.empty() ? std::string(".") : dir, path})
      if (std::string why = unsafe_reason(p); !why.empty()) return Error{why + "; not loading it"};
  }
  std::unique_ptr<Plugin> plugin(new Plugin);
  plugin->path_ = path;
  plugin->dl_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!plugin->dl_) return Error{std::string(dlerror())};
  using Entry = const lunkit_handler* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(plugin->dl_, "lunkit_handler_entry"));
  if (!entry) return Error{path + ": no lunkit_handler_entry symbol (not a lunkit handler?)"};
  const lunkit_handler* h = entry();
  if (!h) return Error{path + ": lunkit_handler_entry() returned nothing"};
  if (h->abi_version != LUNKIT_HANDLER_ABI_VERSION)
    return Error{path + ": handler ABI version " + std::to_string(h->abi_version) +
                 ", lunkitd supports version " + std::to_string(LUNKIT_HANDLER_ABI_VERSION)};
  constexpr size_t kMinimum = offsetof(lunkit_handler, block_status) + sizeof(h->block_status);
  if (h->struct_size < kMinimum)
    return Error{path + ": handler struct of " + std::to_string(h->struct_size) +
                 " bytes is too small for ABI version 1"};
  plugin->handler_ = h;
  if (!h->subtype || !valid_subtype(h->subtype))
    return Error{path + ": subtype must be letters, digits and '_'"};
  plugin->subtype_ = h->subtype;
  if (h->thread_model > LUNKIT_THREAD_BLOCKING)
    return Error{path + ": unknown thread model " + std::to_string(h->thread_model)};
  if (h->io_private_size > LUNKIT_IO_PRIVATE_MAX)
    return Error{path + ": io_private_size " + std::to_string(h->io_private_size) + " exceeds " +
                 std::to_string(LUNKIT_IO_PRIVATE_MAX)};
  const char* missing = !h->open    ? "open"
                        : !h->close ? "close"
                        : !h->read  ? "read"
                        : !h->write ? "write"
                                    : nullptr;
  if (missing) return Error{path + ": required callback " + missing + " is missing"};
  return plugin;
}

Result<bool> Plugin::check_config(const std::string& cfgstring) const {
  auto fn = callback(&lunkit_handler::check_config);
  if (!fn) return true;
  char reason[512] = {};
  if (fn(cfgstring.c_str(), reason, sizeof reason) == 0) return true;
  reason[sizeof reason - 1] = 0;
  return Error{reason[0] ? reason : "the handler refused the configuration"};
}

LoadReport load_plugins(const std::string& dir, bool require_root_owned) {
  LoadReport report;
  DIR* d = opendir(dir.c_str());
  if (!d) {
    report.errors.push_back(dir + ": " + std::strerror(errno));
    return report;
  }
  std::vector<std::string> files;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 3 && n.ends_with(".so")) files.push_back(dir + "/" + n);
  }
  closedir(d);
  std::sort(files.begin(), files.end());
  std::set<std::string> taken;
  for (const std::string& f : files) {
    auto p = Plugin::load(f, require_root_owned);
    if (!p) {
      report.errors.push_back(p.error());
      continue;
    }
    const std::string& subtype = (*p)->subtype();
    if (taken.count(subtype)) {
      std::string first;
      for (auto& q : report.plugins)
        if (q->subtype() == subtype) first = q->path();
      report.errors.push_back(f + ": subtype '" + subtype + "' is already served by " + first);
      continue;
    }
    taken.insert(subtype);
    report.plugins.push_back(std::move(*p));
  }
  return report;
}

}  // namespace lunkit::plugins
