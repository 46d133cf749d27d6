#include "handlers/host/plugin.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <set>
#include <string_view>

#include "common/fd.h"

namespace lunkit::plugins {
namespace {

// Why someone other than root (or us) could change what `st` is, or "" when no one can. A
// directory writable by others is fine with the sticky bit (/tmp): others cannot rename or
// remove what is ours in it.
std::string unsafe_reason(const std::string& path, const struct stat& st) {
  if (st.st_uid != 0 && st.st_uid != geteuid())
    return path + " is owned by uid " + std::to_string(st.st_uid) + ", not by root";
  bool sticky_dir = S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX);
  if ((st.st_mode & S_IWOTH) && !sticky_dir) return path + " is writable by every user";
  if ((st.st_mode & S_IWGRP) && !sticky_dir) return path + " is writable by its group";
  return "";
}

// Opens the plugin file without following a symbolic link. With `checked`, the file and every
// directory above it are opened one component at a time from "/" (O_NOFOLLOW, so what is checked
// is what is opened) and refused when anyone but root or us could replace them.
Result<UniqueFd> open_plugin(const std::string& path, bool checked) {
  auto opened = [&](int fd) -> Result<UniqueFd> {
    if (fd >= 0) return UniqueFd(fd);
    if (errno == ELOOP) return Error{path + " is a symbolic link; not loading it"};
    return Error{path + ": " + std::strerror(errno)};
  };
  if (!checked) return opened(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
  std::string file = slash == std::string::npos ? path : path.substr(slash + 1);
  // The directory's name may contain symbolic links (/lib -> usr/lib); the walk below checks
  // the real directories it leads to.
  char real[PATH_MAX];
  if (!realpath(dir.c_str(), real)) return Error{dir + ": " + std::strerror(errno)};
  UniqueFd at(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  std::string walked = "/";
  for (std::string_view rest = real + 1;;) {
    struct stat st;
    if (fstat(at.get(), &st) != 0) return Error{walked + ": " + std::strerror(errno)};
    if (std::string why = unsafe_reason(walked, st); !why.empty())
      return Error{why + "; not loading " + path};
    if (rest.empty()) break;
    size_t n = rest.find('/');
    std::string part(rest.substr(0, n));
    rest = n == std::string_view::npos ? std::string_view() : rest.substr(n + 1);
    int fd = ::openat(at.get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    walked += (walked.size() > 1 ? "/" : "") + part;
    if (fd < 0) return Error{walked + ": " + std::strerror(errno) + "; not loading " + path};
    at = UniqueFd(fd);
  }
  auto fd = opened(::openat(at.get(), file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return fd;
  struct stat st;
  if (fstat(fd->get(), &st) != 0) return Error{path + ": " + std::strerror(errno)};
  if (!S_ISREG(st.st_mode)) return Error{path + " is not a regular file; not loading it"};
  if (std::string why = unsafe_reason(path, st); !why.empty())
    return Error{why + "; not loading it"};
  return fd;
}

// A name for dlopen() that reaches `fd` and was never used for a load before. dlopen() looks a
// name up among the objects already loaded before it opens anything, and matches every name an
// object was ever opened under: a plugin dlclose() cannot unload (one with STB_GNU_UNIQUE
// symbols, e.g. from libstdc++, never is) keeps the name "/proc/self/fd/N" after that fd was
// closed, and a later plugin opened at the same fd number would get the old one. Each load
// spells the path differently, with no-op components ("/" and "./") that encode a counter, so
// only the file's identity (device and inode), which dlopen() checks next, can match.
std::string unique_fd_path(int fd) {
  static std::atomic<uint32_t> loads{0};
  std::string path = "/proc/self/fd/";
  for (uint32_t n = loads.fetch_add(1, std::memory_order_relaxed); n; n >>= 1)
    path += (n & 1) ? "./" : "/";
  return path + "./" + std::to_string(fd);
}

}  // namespace

bool valid_subtype(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Plugin::~Plugin() {
  if (dl_ && !keep_mapped_) dlclose(dl_);
}

Result<std::unique_ptr<Plugin>> Plugin::load(const std::string& path, bool require_root_owned) {
  auto fd = open_plugin(path, require_root_owned);
  if (!fd) return Error{fd.error()};
  std::unique_ptr<Plugin> plugin(new Plugin);
  plugin->path_ = path;
  // The very file that was checked: no name is looked up again between the check and the load.
  std::string by_fd = unique_fd_path(fd->get());
  plugin->dl_ = dlopen(by_fd.c_str(), RTLD_NOW | RTLD_LOCAL);
  plugin->fd_ = std::move(*fd);
  if (!plugin->dl_) {
    std::string why = dlerror();
    if (size_t at = why.find(by_fd); at != std::string::npos) why.replace(at, by_fd.size(), path);
    return Error{why};
  }
  using Entry = const lunkit_handler* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(plugin->dl_, "lunkit_handler_entry"));
  if (!entry) return Error{path + ": no lunkit_handler_entry symbol (not a lunkit handler?)"};
  const lunkit_handler* h = entry();
  if (!h) return Error{path + ": lunkit_handler_entry() returned nothing"};
  if (std::string why = check(h, path); !why.empty()) return Error{why};
  plugin->handler_ = h;
  plugin->subtype_ = h->subtype;
  return plugin;
}

std::string Plugin::check(const lunkit_handler* h, const std::string& path) {
  // Every version from 1 on: the ABI only grows (handler.h's ABI rules), so an older plugin gets
  // the defaults of what it does not know, and a newer one is read up to what this host knows.
  if (h->abi_version < 1)
    return path + ": handler ABI version " + std::to_string(h->abi_version) +
           ", lunkitd supports versions 1 and later";
  constexpr size_t kMinimum = offsetof(lunkit_handler, block_status) + sizeof(h->block_status);
  if (h->struct_size < kMinimum)
    return path + ": handler struct of " + std::to_string(h->struct_size) +
           " bytes is too small for ABI version 1";
  if (!h->subtype || !valid_subtype(h->subtype))
    return path + ": subtype must be letters, digits and '_'";
  uint32_t known_model = h->abi_version >= 2 ? LUNKIT_THREAD_SERIALIZED : LUNKIT_THREAD_BLOCKING;
  if (h->thread_model > known_model)
    return path + ": unknown thread model " + std::to_string(h->thread_model);
  if (h->io_private_size > LUNKIT_IO_PRIVATE_MAX)
    return path + ": io_private_size " + std::to_string(h->io_private_size) + " exceeds " +
           std::to_string(LUNKIT_IO_PRIVATE_MAX);
  const char* missing = !h->open    ? "open"
                        : !h->close ? "close"
                        : !h->read  ? "read"
                        : !h->write ? "write"
                                    : nullptr;
  if (missing) return path + ": required callback " + missing + " is missing";
  return "";
}

Result<std::unique_ptr<Plugin>> Plugin::from_handler(const lunkit_handler* h,
                                                     const std::string& what) {
  if (!h) return Error{what + ": no handler"};
  if (std::string why = check(h, what); !why.empty()) return Error{why};
  std::unique_ptr<Plugin> plugin(new Plugin);
  plugin->path_ = what;
  plugin->handler_ = h;
  plugin->subtype_ = h->subtype;
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
