// Loading handler plugins: every *.so in a directory, each checked before it is trusted.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/fd.h"
#include "lunkit/handler.h"
#include "lunkit/result.h"

namespace lunkit::plugins {

class Plugin {
 public:
  ~Plugin();
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  // Loads one plugin file: dlopen(RTLD_NOW | RTLD_LOCAL), lunkit_handler_entry(), ABI version (1
  // or later) and struct size, a valid subtype and the required callbacks. With
  // `require_root_owned`, a file or directory that a non-root user can write is refused (lunkitd
  // runs as root).
  static Result<std::unique_ptr<Plugin>> load(const std::string& path, bool require_root_owned);
  // A handler linked into the program itself (lunkit_tcmu_add_handler()): the same checks as a
  // loaded plugin's, and nothing to unload. `what` names it in errors.
  static Result<std::unique_ptr<Plugin>> from_handler(const lunkit_handler* handler,
                                                      const std::string& what);

  const lunkit_handler& handler() const { return *handler_; }
  const std::string& subtype() const { return subtype_; }
  const std::string& path() const { return path_; }
  // A field of the plugin's struct, given its declared struct size: fields past it are absent
  // and read as `absent` (a callback the plugin does not provide reads as null).
  template <typename F>
  F field(F lunkit_handler::*member, F absent = F{}) const {
    size_t offset = static_cast<size_t>(reinterpret_cast<const char*>(&(handler_->*member)) -
                                        reinterpret_cast<const char*>(handler_));
    return offset + sizeof(F) <= handler_->struct_size ? handler_->*member : absent;
  }
  template <typename F>
  F callback(F lunkit_handler::*member) const {
    return field(member);
  }
  // The ABI version the plugin was built for (1 .. any: see handler.h's ABI rules).
  uint32_t abi_version() const { return handler_->abi_version; }
  // Whether the I/O callbacks run on the worker pool (BLOCKING or SERIALIZED).
  bool uses_pool() const {
    return handler_->thread_model == LUNKIT_THREAD_BLOCKING ||
           handler_->thread_model == LUNKIT_THREAD_SERIALIZED;
  }
  bool serialized() const { return handler_->thread_model == LUNKIT_THREAD_SERIALIZED; }
  // Whether one device may be served from several event loops at once (see handler.h). A
  // SERIALIZED handler is, like a BLOCKING one, called from the pool (and one at a time).
  bool multi_queue() const {
    return uses_pool() || (field(&lunkit_handler::flags) & LUNKIT_HANDLER_MULTI_QUEUE);
  }

  // check_config() with the plugin's default when it has none.
  Result<bool> check_config(const std::string& cfgstring) const;

  // Never dlclose() this plugin: for a process that exits after using it. A handler's libraries
  // (librbd, librados) keep threads and exit-time destructors; unmapping them before exit made
  // lunkitd jump into unmapped code as it ended.
  void keep_mapped() { keep_mapped_ = true; }

 private:
  Plugin() = default;
  // Why `h` is not a valid handler ("" when it is); `path` names it in the message.
  static std::string check(const lunkit_handler* h, const std::string& path);
  // The checked file, loaded as /proc/self/fd/N: held open while loaded, so that the next
  // plugin's fd (and name) differs and the dynamic loader does not take it for this one.
  UniqueFd fd_;
  void* dl_ = nullptr;
  const lunkit_handler* handler_ = nullptr;
  std::string subtype_;
  std::string path_;
  bool keep_mapped_ = false;
};

struct LoadReport {
  std::vector<std::unique_ptr<Plugin>> plugins;
  std::vector<std::string> errors;  // one line per plugin that was refused
};

// Loads every *.so in `dir` (sorted by name). A bad plugin is reported and skipped; the first
// plugin to claim a subtype keeps it.
LoadReport load_plugins(const std::string& dir, bool require_root_owned);

// A subtype is an object-path element for D-Bus: [A-Za-z0-9_]+.
// A device's cfgstring followed by lunkit.conf's defaults for its handler ("direct=1"): the
// device's own options come first, and every handler takes the first occurrence of an option.
inline std::string with_defaults(const std::string& cfgstring, const std::string& defaults) {
  return defaults.empty() ? cfgstring : cfgstring + ";" + defaults;
}
bool valid_subtype(const std::string& subtype);

}  // namespace lunkit::plugins
