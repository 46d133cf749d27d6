// lunkit-tcmu for C++: lunkit::TcmuServer owns a lunkit_tcmu context (lunkit/tcmu.h) and turns
// its negative-errno returns into lunkit::Result. Header-only, on the C API alone: a program
// built with any C++20 compiler links only liblunkit-tcmu's C symbols, so no C++ type crosses
// the library's ABI. The thread rules, flags and errors are those of lunkit-tcmu(3).
//
//   auto server = lunkit::TcmuServer::create();
//   static lunkit_handler h = lunkit::make_handler<MyDevice>("mine", "<path>",
//                                                            LUNKIT_THREAD_BLOCKING);
//   server->add_handler(h);
//   server->start();               // or listen() + attach_all() + poll(fd()) + process()
#pragma once

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lunkit/result.h"
#include "lunkit/tcmu.h"

namespace lunkit {

// One TCMU device as discovery reports it (struct lunkit_tcmu_uio).
struct TcmuUio {
  uint32_t minor = 0;
  uint32_t hba = 0;
  uint64_t map_size = 0;
  std::string device;
  std::string subtype;
  std::string cfgstring;
};

// A device event after the library handled it, with the status it answered the kernel.
using TcmuEventCallback = std::function<void(const lunkit_tcmu_event& event, int status)>;

class TcmuServer {
 public:
  TcmuServer(TcmuServer&&) noexcept = default;
  // The old context goes first (its threads may still call its callback), then its callback.
  TcmuServer& operator=(TcmuServer&& other) noexcept {
    tcmu_ = std::move(other.tcmu_);
    on_event_ = std::move(other.on_event_);
    return *this;
  }

  static Result<TcmuServer> create(const lunkit_tcmu_options* options = nullptr) {
    lunkit_tcmu* raw = nullptr;
    if (int rc = lunkit_tcmu_new(options, &raw); rc < 0) return failure(rc);
    return TcmuServer(raw);
  }

  // Serves handler.subtype's devices; `handler` must outlive the server.
  Result<bool> add_handler(const lunkit_handler& handler) {
    return status(lunkit_tcmu_add_handler(get(), &handler));
  }

  // Every TCMU device of `subtype` (nullptr: of any subtype).
  Result<bool> handler_defaults(const std::string& subtype, const std::string& defaults) {
    return status(lunkit_tcmu_handler_defaults(get(), subtype.c_str(), defaults.c_str()));
  }
  Result<bool> add_copy_group(const std::string& name, const std::vector<std::string>& devices) {
    std::vector<const char*> names;
    names.reserve(devices.size());
    for (const std::string& d : devices) names.push_back(d.c_str());
    return status(lunkit_tcmu_add_copy_group(get(), name.c_str(), names.data(), names.size()));
  }

  Result<std::vector<TcmuUio>> find(const char* subtype = nullptr) const {
    // The set can grow between the two calls: ask again until it fits.
    std::vector<lunkit_tcmu_uio> found;
    for (;;) {
      int n = lunkit_tcmu_find(get(), subtype, found.data(), found.size());
      if (n < 0) return failure(n);
      if (static_cast<size_t>(n) <= found.size()) {
        found.resize(n);
        break;
      }
      found.resize(n);
    }
    std::vector<TcmuUio> out;
    out.reserve(found.size());
    for (const auto& u : found)
      out.push_back({u.minor, u.hba, u.map_size, u.device, u.subtype, u.cfgstring});
    return out;
  }

  Result<bool> attach(uint32_t minor, unsigned flags = 0) {
    return status(lunkit_tcmu_attach(get(), minor, flags));
  }
  Result<bool> detach(uint32_t minor, unsigned flags = 0) {
    return status(lunkit_tcmu_detach(get(), minor, flags));
  }
  // The number of devices attached.
  Result<int> attach_all() { return count_or_failure(lunkit_tcmu_attach_all(get())); }
  bool attached(uint32_t minor) const { return lunkit_tcmu_attached(get(), minor) == 1; }
  int count() const { return lunkit_tcmu_count(get()); }
  // The minors of the attached devices, in increasing order.
  std::vector<uint32_t> devices() const {
    std::vector<uint32_t> minors;
    for (;;) {
      int n = lunkit_tcmu_devices(get(), minors.data(), minors.size());
      if (n < 0) return {};
      bool fits = static_cast<size_t>(n) <= minors.size();
      minors.resize(n);
      if (fits) return minors;
    }
  }

  // The devices' loops in the caller's thread (before anything is attached): then poll
  // device_fd(minor) and call device_process(minor), in the thread that runs everything else.
  Result<bool> caller_loops(bool enabled = true) {
    return status(lunkit_tcmu_caller_loops(get(), enabled ? 1 : 0));
  }
  Result<int> device_fd(uint32_t minor) const {
    return count_or_failure(lunkit_tcmu_device_fd(get(), minor));
  }
  // The number of commands taken.
  Result<int> device_process(uint32_t minor) {
    return count_or_failure(lunkit_tcmu_device_process(get(), minor));
  }

  // One netlink event from a socket of the caller's: the status to answer the kernel with (0 or
  // a negative errno), as lunkit_tcmu_handle_event() returns it.
  int handle_event(const lunkit_tcmu_event& event) {
    return lunkit_tcmu_handle_event(get(), &event);
  }

  // Called after each device event the library handled. Before start() or process().
  Result<bool> on_event(TcmuEventCallback callback) {
    auto fn = std::make_unique<TcmuEventCallback>(std::move(callback));
    int rc = lunkit_tcmu_on_event(get(), &TcmuServer::forward_event, fn.get());
    if (rc < 0) return failure(rc);
    on_event_ = std::move(fn);
    return true;
  }

  // The control loop on the library's thread.
  Result<bool> start(unsigned flags = 0) { return status(lunkit_tcmu_start(get(), flags)); }
  Result<bool> stop(std::chrono::milliseconds grace = std::chrono::seconds(5)) {
    return status(lunkit_tcmu_stop(get(), static_cast<unsigned>(grace.count())));
  }

  // The control loop in the caller's own loop: listen() before attach_all(), then poll fd() for
  // POLLIN with timeout_ms() and call process() when it is readable or the timeout passed.
  // lunkit_tcmu_shutdown(): only destruction or the process's exit may follow.
  void shutdown() { lunkit_tcmu_shutdown(get()); }
  // lunkit_tcmu_release_waits(): true when the pending waits were released too.
  Result<bool> release_waits() {
    int rc = lunkit_tcmu_release_waits(get());
    if (rc < 0) return failure(rc);
    return rc == 1;
  }

  Result<bool> listen() { return status(lunkit_tcmu_listen(get())); }
  int fd() const { return lunkit_tcmu_fd(get()); }
  int timeout_ms() const { return lunkit_tcmu_timeout(get()); }
  // The number of events handled.
  Result<int> process() { return count_or_failure(lunkit_tcmu_process(get())); }

  lunkit_tcmu* get() const { return tcmu_.get(); }

 private:
  struct Free {
    void operator()(lunkit_tcmu* t) const { lunkit_tcmu_free(t); }
  };
  explicit TcmuServer(lunkit_tcmu* raw) : tcmu_(raw) {}

  static void forward_event(void* context, const lunkit_tcmu_event* event, int status) {
    // An exception must not unwind into the library's thread.
    try {
      (*static_cast<TcmuEventCallback*>(context))(*event, status);
    } catch (...) {
    }
  }
  // The library's explanation, and the errno it returned.
  static Error failure(int rc) {
    std::string why = lunkit_tcmu_last_error();
    std::string name = std::strerror(-rc);
    return Error{why.empty() ? name : why + " (" + name + ")"};
  }
  static Result<bool> status(int rc) {
    if (rc < 0) return failure(rc);
    return true;
  }
  static Result<int> count_or_failure(int rc) {
    if (rc < 0) return failure(rc);
    return rc;
  }

  // Declared before the context so that it is destroyed after it: the context's threads may
  // call the callback until lunkit_tcmu_free() returns.
  std::unique_ptr<TcmuEventCallback> on_event_;
  std::unique_ptr<lunkit_tcmu, Free> tcmu_;
};

}  // namespace lunkit
