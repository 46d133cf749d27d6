// The public C API of liblunkit-tcmu (include/lunkit/tcmu.h): a thin layer over tcmu::Manager,
// which does what lunkitd does with devices, and the plugin host's adapter from a
// `struct lunkit_handler` to a BlockDevice (the handler ABI is the block-device contract).
#include "lunkit/tcmu.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "handlers/host/plugin.h"
#include "handlers/host/plugin_factory.h"
#include "handlers/host/worker_pool.h"
#include "tcmu/configfs.h"
#include "tcmu/copy_groups.h"
#include "tcmu/manager.h"
#include "tcmu/netlink.h"
#include "tcmu/protocol.h"
#include "tcmu/uio.h"

namespace tcmu = lunkit::tcmu;
namespace plugins = lunkit::plugins;

namespace {

thread_local std::string last_error;

int fail(int rc, std::string why) {
  last_error = std::move(why);
  return rc;
}

// Runs `fn` with no exception escaping to C: a C++ failure becomes -ENOMEM or -EIO.
template <typename F>
int guarded(F&& fn) noexcept {
  try {
    last_error.clear();
    return fn();
  } catch (const std::bad_alloc&) {
    return fail(-ENOMEM, "out of memory");
  } catch (const std::exception& e) {
    return fail(-EIO, e.what());
  } catch (...) {
    return fail(-EIO, "unexpected error");
  }
}

// Whether a caller's struct of `size` bytes has `field` (structs only grow at the end).
#define HAS_FIELD(type, ptr, field) (offsetof(type, field) + sizeof((ptr)->field) <= (ptr)->size)

constexpr unsigned kDefaultWorkerThreads = 4;

void copy_text(char (&to)[256], const std::string& from) {
  std::snprintf(to, sizeof to, "%s", from.c_str());
}

}  // namespace

struct lunkit_tcmu {
  // Declared in the order they may be destroyed last: the manager's devices use the factories,
  // the pool and the handlers.
  std::vector<std::unique_ptr<plugins::Plugin>> handlers;
  unsigned worker_threads = kDefaultWorkerThreads;
  std::unique_ptr<plugins::WorkerPool> pool;  // with the first BLOCKING handler
  std::vector<std::unique_ptr<plugins::PluginFactory>> factories;
  tcmu::CopyGroups copy_groups;  // every handler's LUs are opened through copy_factories
  std::vector<std::unique_ptr<tcmu::CopyGroupFactory>> copy_factories;
  std::unique_ptr<tcmu::Configfs> configfs;
  std::unique_ptr<tcmu::Manager> manager;
  std::unique_ptr<tcmu::NetlinkChannel> channel;
  // Whether we told the kernel to wait for our answers; `stopping`: lunkit_tcmu_stop() or
  // shutdown() has released it, and a control thread still busy must not set it again.
  std::mutex waits_mu;
  bool kernel_waits = false;
  bool stopping = false;
  lunkit::UniqueFd epoll;  // the repair eventfd and the netlink socket
  lunkit_tcmu_event_fn on_event = nullptr;
  void* on_event_context = nullptr;

  // The control thread.
  std::atomic<bool> control_running{false};
  lunkit::UniqueFd stop_fd;  // eventfd
  std::mutex mu;
  std::condition_variable ended_cv;
  bool ended = false;
  std::thread control;

  int busy() const {
    return control_running.load() ? fail(-EBUSY, "the control thread is running") : 0;
  }
  int handle(const tcmu::ParsedEvent& parsed);
  int process();
  int attach_all();
  void run();
  void end_control();
  // Makes the kernel stop waiting for our answers; `for_good`: a control thread that is still
  // busy must not make it wait again (stop() timed out, shutdown()).
  void stop_kernel_waits(bool for_good);
  // No more device work (at rest, or with the control thread still inside a handler's open()).
  int busy_or_attached(const char* what) const {
    if (int rc = busy()) return rc;
    if (manager->size() || manager->attaching())
      return fail(-EBUSY, std::string(what) + ": devices are attached already");
    return 0;
  }
};

namespace {

lunkit_tcmu_event to_c(const tcmu::NetlinkEvent& e) {
  lunkit_tcmu_event c{};
  c.size = sizeof c;
  c.cmd = e.cmd;
  c.minor = e.minor.value_or(0);
  c.device_id = e.device_id.value_or(0);
  c.device = e.device ? e.device->c_str() : nullptr;
  c.dev_config = e.dev_cfg ? e.dev_cfg->c_str() : nullptr;
  c.dev_size = e.dev_size.value_or(0);
  c.write_cache = e.write_cache ? *e.write_cache : -1;
  return c;
}

}  // namespace

int lunkit_tcmu::handle(const tcmu::ParsedEvent& parsed) {
  int status = -EINVAL;
  manager->handle_message(parsed, [&](uint8_t reply_cmd, int32_t s, uint32_t device_id) {
    status = s;
    if (!channel) return;
    auto sent = channel->send(tcmu::build_reply(channel->family(), reply_cmd, s, device_id));
    if (!sent) spdlog::error("{}", sent.error());
  });
  if (on_event) {
    lunkit_tcmu_event c = to_c(parsed.event);
    on_event(on_event_context, &c, status);
  }
  return status;
}

int lunkit_tcmu::process() {
  int handled = 0;
  if (channel) {
    const std::function<void(const tcmu::ParsedEvent&)> on_message =
        [&](const tcmu::ParsedEvent& ev) {
          handle(ev);
          ++handled;
        };
    channel->receive(on_message);
  }
  manager->repair_broken();  // reads the (non-blocking) eventfd; nothing to do when unset
  manager->retry_due(tcmu::Manager::Clock::now());
  return handled;
}

int lunkit_tcmu::attach_all() {
  manager->attach_existing();
  std::lock_guard lock(waits_mu);
  if (channel && !kernel_waits && !stopping) {
    // From here on the kernel waits for the answer to each device event (as with lunkitd).
    if (auto r = tcmu::NetlinkChannel::set_kernel_waits_for_replies(true); !r)
      spdlog::warn("{}", r.error());
    else
      kernel_waits = true;
  }
  return static_cast<int>(manager->size());
}

void lunkit_tcmu::run() {
  try {
    spdlog::info("serving {} device(s)", attach_all());
    for (;;) {
      pollfd fds[2] = {{stop_fd.get(), POLLIN, 0}, {epoll.get(), POLLIN, 0}};
      int timeout = -1;
      if (auto next = manager->next_retry(tcmu::Manager::Clock::now()))
        timeout = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(*next).count());
      if (poll(fds, 2, timeout) < 0 && errno != EINTR) {
        spdlog::critical("poll: {}", std::strerror(errno));
        break;
      }
      if (fds[0].revents & POLLIN) break;
      process();
    }
  } catch (const std::exception& e) {
    spdlog::critical("lunkit-tcmu control thread: {}", e.what());
  }
  std::lock_guard lock(mu);
  ended = true;
  ended_cv.notify_all();
}

namespace {

// Configfs writes still waiting for an answer to their netlink event are failed (-EINTR), so none
// hangs once no server answers: block, reset, unblock (the kernel resets only while blocked).
std::string release_pending_waits(tcmu::Configfs& configfs) {
  auto blocked = configfs.set_module_param("block_netlink", "1");
  auto reset = blocked ? configfs.set_module_param("reset_netlink", "1") : blocked;
  auto unblocked = configfs.set_module_param("block_netlink", "0");
  if (!blocked) return blocked.error();
  if (!reset) return reset.error();
  if (!unblocked) return unblocked.error();
  return "";
}

}  // namespace

void lunkit_tcmu::stop_kernel_waits(bool for_good) {
  std::lock_guard lock(waits_mu);
  if (for_good) stopping = true;
  // With a netlink socket, the kernel may be waiting for us even before attach_all() told it to
  // (a server before us did, and died), and attach_existing() leaves block_netlink=1 behind while
  // a handler's open() does not return: set both right whenever we listened, as lunkitd always
  // did on its way out.
  if (!kernel_waits && !channel) return;
  kernel_waits = false;
  if (auto r = tcmu::NetlinkChannel::set_kernel_waits_for_replies(false); !r)
    spdlog::warn("{}", r.error());
  if (std::string why = release_pending_waits(*configfs); !why.empty())
    spdlog::warn("pending netlink waits not released: {}", why);
}

extern "C" {

LUNKIT_API const char* lunkit_tcmu_last_error(void) {
  return last_error.c_str();
}

LUNKIT_API int lunkit_tcmu_new(const lunkit_tcmu_options* o, lunkit_tcmu** out) {
  return guarded([&] {
    if (!out) return fail(-EINVAL, "lunkit_tcmu_new: no result pointer");
    *out = nullptr;
    if (o && o->size < sizeof(size_t))
      return fail(-EINVAL, "lunkit_tcmu_new: options.size is not set");
    auto t = std::make_unique<lunkit_tcmu>();
    tcmu::SystemPaths paths;
    tcmu::UioOpener opener;
    if (o) {
      auto path = [](const char* p, std::string& to) {
        if (p && *p) to = p;
      };
      if (HAS_FIELD(lunkit_tcmu_options, o, sysfs_dir)) path(o->sysfs_dir, paths.sysfs);
      if (HAS_FIELD(lunkit_tcmu_options, o, target_core_dir))
        path(o->target_core_dir, paths.configfs_core);
      if (HAS_FIELD(lunkit_tcmu_options, o, module_params_dir))
        path(o->module_params_dir, paths.module_params);
      if (HAS_FIELD(lunkit_tcmu_options, o, dev_dir)) path(o->dev_dir, paths.dev);
      if (HAS_FIELD(lunkit_tcmu_options, o, open_uio_context) && o->open_uio) {
        auto fn = o->open_uio;
        void* context = o->open_uio_context;
        opener = [fn, context](const tcmu::UioDevice& uio) -> lunkit::Result<tcmu::UioHandles> {
          int doorbell = -1, map = -1;
          int rc = fn(context, uio.minor, &doorbell, &map);
          tcmu::UioHandles h;
          h.doorbell.reset(doorbell);
          h.map.reset(map);
          if (rc < 0)
            return lunkit::Error{"uio" + std::to_string(uio.minor) + ": " + std::strerror(-rc)};
          if (!h.doorbell || !h.map)
            return lunkit::Error{"uio" + std::to_string(uio.minor) + ": open_uio gave no fd"};
          return h;
        };
      }
      if (HAS_FIELD(lunkit_tcmu_options, o, worker_threads) && o->worker_threads)
        t->worker_threads = o->worker_threads;
    }
    t->configfs = std::make_unique<tcmu::Configfs>(std::move(paths));
    t->manager = std::make_unique<tcmu::Manager>(*t->configfs, std::move(opener));
    t->epoll.reset(epoll_create1(EPOLL_CLOEXEC));
    t->stop_fd.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!t->epoll || !t->stop_fd) {
      int err = errno;
      return fail(-err, std::string("lunkit_tcmu_new: ") + std::strerror(err));
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    if (epoll_ctl(t->epoll.get(), EPOLL_CTL_ADD, t->manager->repair_fd(), &ev) != 0) {
      int err = errno;
      return fail(-err, std::string("lunkit_tcmu_new: epoll: ") + std::strerror(err));
    }
    *out = t.release();
    return 0;
  });
}

LUNKIT_API void lunkit_tcmu_free(lunkit_tcmu* t) {
  if (!t) return;
  try {
    t->end_control();
    t->manager->shutdown();
    if (t->control.joinable()) t->control.join();  // it may still be inside a handler's open()
    t->control_running = false;
    t->stop_kernel_waits(false);
  } catch (const std::exception& e) {
    spdlog::critical("lunkit_tcmu_free: {}", e.what());
  }
  delete t;
}

LUNKIT_API int lunkit_tcmu_add_handler(lunkit_tcmu* t, const lunkit_handler* h) {
  return guarded([&] {
    if (int rc = t->busy_or_attached("lunkit_tcmu_add_handler")) return rc;
    auto plugin = plugins::Plugin::from_handler(h, "lunkit_tcmu_add_handler");
    if (!plugin) return fail(-EINVAL, plugin.error());
    const std::string& subtype = (*plugin)->subtype();
    if (t->manager->serves(subtype))
      return fail(-EEXIST, "subtype '" + subtype + "' is served already");
    if ((*plugin)->uses_pool() && !t->pool)  // BLOCKING and SERIALIZED handlers
      t->pool = std::make_unique<plugins::WorkerPool>(t->worker_threads);
    t->factories.push_back(std::make_unique<plugins::PluginFactory>(**plugin, t->pool.get()));
    t->copy_factories.push_back(
        std::make_unique<tcmu::CopyGroupFactory>(*t->factories.back(), t->copy_groups));
    t->manager->add_backend(subtype, t->copy_factories.back().get());
    t->handlers.push_back(std::move(*plugin));
    return 0;
  });
}

LUNKIT_API int lunkit_tcmu_handler_defaults(lunkit_tcmu* t, const char* subtype,
                                            const char* defaults) {
  return guarded([&] {
    if (int rc = t->busy_or_attached("lunkit_tcmu_handler_defaults")) return rc;
    if (!subtype) return fail(-EINVAL, "lunkit_tcmu_handler_defaults: no subtype");
    for (size_t i = 0; i < t->handlers.size(); ++i) {
      if (t->handlers[i]->subtype() != subtype) continue;
      t->factories[i]->set_defaults(defaults ? defaults : "");
      return 0;
    }
    return fail(-ENOENT,
                std::string("lunkit_tcmu_handler_defaults: no handler serves '") + subtype + "'");
  });
}

LUNKIT_API int lunkit_tcmu_add_copy_group(lunkit_tcmu* t, const char* name,
                                          const char* const* devices, size_t count) {
  return guarded([&] {
    if (int rc = t->busy_or_attached("lunkit_tcmu_add_copy_group")) return rc;
    if (count && !devices) return fail(-EINVAL, "lunkit_tcmu_add_copy_group: no devices");
    tcmu::CopyGroup group;
    group.name = name ? name : "";
    for (size_t i = 0; i < count; ++i) group.devices.emplace_back(devices[i] ? devices[i] : "");
    if (std::string why = tcmu::copy_group_error(group); !why.empty())
      return fail(-EINVAL, "lunkit_tcmu_add_copy_group: " + why);
    for (const tcmu::CopyGroup& g : t->copy_groups.groups())
      if (g.name == group.name)
        return fail(-EEXIST, "lunkit_tcmu_add_copy_group: copy group '" + g.name + "' exists");
    t->copy_groups.add(std::move(group));
    return 0;
  });
}

LUNKIT_API int lunkit_tcmu_release_waits(lunkit_tcmu* t) {
  return guarded([&] {
    // Under waits_mu: a control thread inside attach_all() cannot make the kernel wait between
    // our answer and our note of it.
    std::lock_guard lock(t->waits_mu);
    int err = 0;
    if (auto r = tcmu::NetlinkChannel::set_kernel_waits_for_replies(false, &err); !r)
      return fail(-err, r.error());
    t->kernel_waits = false;
    if (std::string why = release_pending_waits(*t->configfs); !why.empty())
      return fail(0, "pending waits not released: " + why);
    return 1;
  });
}

LUNKIT_API void lunkit_tcmu_shutdown(lunkit_tcmu* t) {
  if (!t) return;
  try {
    t->end_control();
    t->stop_kernel_waits(true);
    t->manager->shutdown();
  } catch (const std::exception& e) {
    spdlog::critical("lunkit_tcmu_shutdown: {}", e.what());
  }
}

LUNKIT_API int lunkit_tcmu_find(lunkit_tcmu* t, const char* subtype, lunkit_tcmu_uio* out,
                                size_t max) {
  return guarded([&] {
    std::vector<std::string> errors;
    auto found = tcmu::scan_uio_devices(t->configfs->paths().sysfs, &errors);
    for (const auto& e : errors) spdlog::warn("{}", e);
    int n = 0;
    for (const tcmu::UioDevice& uio : found) {
      if (subtype && (!uio.name.has_config || uio.name.subtype != subtype)) continue;
      if (out && static_cast<size_t>(n) < max) {
        lunkit_tcmu_uio& u = out[n];
        u.minor = uio.minor;
        u.hba = uio.name.hba;
        u.map_size = uio.map_size;
        copy_text(u.device, uio.name.device);
        copy_text(u.subtype, uio.name.subtype);
        copy_text(u.cfgstring, uio.name.cfgstring);
      }
      ++n;
    }
    return n;
  });
}

LUNKIT_API int lunkit_tcmu_attach(lunkit_tcmu* t, uint32_t minor, unsigned flags) {
  return guarded([&] {
    if (int rc = t->busy()) return rc;
    auto uio = tcmu::read_uio_device(t->configfs->paths().sysfs, minor);
    if (!uio) return fail(-ENODEV, uio.error());
    if (!uio->name.has_config || !t->manager->serves(uio->name.subtype))
      return fail(-ENOENT, "uio" + std::to_string(minor) + ": no handler serves subtype '" +
                               uio->name.subtype + "'");
    if (t->manager->device(minor))
      return fail(-EEXIST, "uio" + std::to_string(minor) + " is attached already");
    auto r = t->manager->attach(*uio, (flags & LUNKIT_TCMU_ATTACH_RESET) != 0);
    if (!r) return fail(-EIO, r.error());
    return 0;
  });
}

LUNKIT_API int lunkit_tcmu_attach_all(lunkit_tcmu* t) {
  return guarded([&] {
    if (int rc = t->busy()) return rc;
    return t->attach_all();
  });
}

LUNKIT_API int lunkit_tcmu_detach(lunkit_tcmu* t, uint32_t minor, unsigned flags) {
  return guarded([&] {
    if (int rc = t->busy()) return rc;
    if (!t->manager->device(minor))
      return fail(-ENOENT, "uio" + std::to_string(minor) + " is not attached");
    t->manager->detach(minor, (flags & LUNKIT_TCMU_DETACH_BLOCK) != 0);
    return 0;
  });
}

LUNKIT_API int lunkit_tcmu_attached(lunkit_tcmu* t, uint32_t minor) {
  return guarded([&] { return t->manager->device(minor) ? 1 : 0; });
}

LUNKIT_API int lunkit_tcmu_count(lunkit_tcmu* t) {
  return guarded([&] { return static_cast<int>(t->manager->size()); });
}

LUNKIT_API int lunkit_tcmu_devices(lunkit_tcmu* t, uint32_t* minors, size_t max) {
  return guarded([&] {
    std::vector<uint32_t> all = t->manager->minors();
    for (size_t i = 0; i < all.size() && i < max; ++i) minors[i] = all[i];
    return static_cast<int>(all.size());
  });
}

LUNKIT_API int lunkit_tcmu_caller_loops(lunkit_tcmu* t, int enabled) {
  return guarded([&] {
    if (int rc = t->busy_or_attached("lunkit_tcmu_caller_loops")) return rc;
    t->manager->set_caller_loops(enabled != 0);
    return 0;
  });
}

// The attached device `minor` whose loop the caller runs, or an errno with the reason.
static int caller_device(lunkit_tcmu* t, uint32_t minor, const char* what, tcmu::Device** out) {
  if (!t->manager->caller_loops())
    return fail(-EINVAL, std::string(what) + ": the devices run their own loops" +
                             " (lunkit_tcmu_caller_loops() was not called)");
  tcmu::Device* d = t->manager->device(minor);
  if (!d)
    return fail(-ENOENT, std::string(what) + ": uio" + std::to_string(minor) + " is not attached");
  *out = d;
  return 0;
}

LUNKIT_API int lunkit_tcmu_device_fd(lunkit_tcmu* t, uint32_t minor) {
  return guarded([&] {
    tcmu::Device* d = nullptr;
    if (int rc = caller_device(t, minor, "lunkit_tcmu_device_fd", &d)) return rc;
    return d->poll_fd();
  });
}

LUNKIT_API int lunkit_tcmu_device_process(lunkit_tcmu* t, uint32_t minor) {
  return guarded([&] {
    tcmu::Device* d = nullptr;
    if (int rc = caller_device(t, minor, "lunkit_tcmu_device_process", &d)) return rc;
    return static_cast<int>(d->run_once());
  });
}

LUNKIT_API int lunkit_tcmu_handle_event(lunkit_tcmu* t, const lunkit_tcmu_event* e) {
  return guarded([&] {
    if (int rc = t->busy()) return rc;
    if (!e || !HAS_FIELD(lunkit_tcmu_event, e, write_cache))
      return fail(-EINVAL, "lunkit_tcmu_handle_event: event.size is not set");
    if (e->cmd < LUNKIT_TCMU_ADDED_DEVICE || e->cmd > LUNKIT_TCMU_RECONFIG_DEVICE)
      return fail(-EINVAL, "lunkit_tcmu_handle_event: unknown command " + std::to_string(e->cmd));
    tcmu::ParsedEvent parsed;
    tcmu::NetlinkEvent& n = parsed.event;
    n.cmd = static_cast<uint8_t>(e->cmd);
    n.version = 2;
    n.device = e->device ? e->device : "";
    n.minor = e->minor;
    n.device_id = e->device_id;
    if (e->dev_config) n.dev_cfg = e->dev_config;
    if (e->dev_size) n.dev_size = e->dev_size;
    if (e->write_cache >= 0) n.write_cache = static_cast<uint8_t>(e->write_cache != 0);
    if (n.cmd == LUNKIT_TCMU_ADDED_DEVICE && n.device->empty())
      parsed.error = "ADDED_DEVICE without a device name";
    int status = t->handle(parsed);
    if (status < 0 && last_error.empty())
      last_error = std::string(tcmu::command_name(n.cmd)) + ": " + std::strerror(-status);
    return status;
  });
}

LUNKIT_API int lunkit_tcmu_on_event(lunkit_tcmu* t, lunkit_tcmu_event_fn fn, void* context) {
  return guarded([&] {
    if (int rc = t->busy()) return rc;
    t->on_event = fn;
    t->on_event_context = context;
    return 0;
  });
}

LUNKIT_API int lunkit_tcmu_listen(lunkit_tcmu* t) {
  return guarded([&] {
    if (int rc = t->busy()) return rc;
    if (t->channel) return fail(-EALREADY, "lunkit_tcmu_listen: listening already");
    auto ch = tcmu::NetlinkChannel::open();
    if (!ch) return fail(-ENOENT, ch.error());
    epoll_event ev{};
    ev.events = EPOLLIN;
    if (epoll_ctl(t->epoll.get(), EPOLL_CTL_ADD, (*ch)->fd(), &ev) != 0) {
      int err = errno;
      return fail(-err, std::string("lunkit_tcmu_listen: epoll: ") + std::strerror(err));
    }
    t->channel = std::move(*ch);
    return 0;
  });
}

LUNKIT_API int lunkit_tcmu_fd(lunkit_tcmu* t) {
  return t->epoll.get();
}

LUNKIT_API int lunkit_tcmu_timeout(lunkit_tcmu* t) {
  return guarded([&] {
    auto next = t->manager->next_retry(tcmu::Manager::Clock::now());
    if (!next) return -1;
    return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(*next).count());
  });
}

LUNKIT_API int lunkit_tcmu_process(lunkit_tcmu* t) {
  return guarded([&] {
    if (int rc = t->busy()) return rc;
    return t->process();
  });
}

LUNKIT_API int lunkit_tcmu_start(lunkit_tcmu* t, unsigned flags) {
  return guarded([&] {
    if (t->control_running.load() || t->control.joinable())
      return fail(-EALREADY, "lunkit_tcmu_start: started already");
    // The control thread detaches devices whose loops the caller runs: not on two threads.
    if (t->manager->caller_loops())
      return fail(-EINVAL,
                  "lunkit_tcmu_start: the caller runs the devices' loops; run the "
                  "control loop there too (lunkit_tcmu_fd(), lunkit_tcmu_process())");
    if (!t->channel) {
      int rc = lunkit_tcmu_listen(t);
      if (rc == -ENOENT && (flags & LUNKIT_TCMU_REQUIRE_NETLINK)) return rc;
      if (rc < 0 && rc != -ENOENT) return rc;
      if (rc == -ENOENT) spdlog::warn("{}; new devices will not be seen", last_error);
      last_error.clear();
    }
    {
      std::lock_guard lock(t->waits_mu);
      t->stopping = false;  // an earlier stop() has joined its thread (joinable() is false)
    }
    t->ended = false;
    t->control_running = true;
    try {
      t->control = std::thread([t] { t->run(); });
    } catch (...) {
      t->control_running = false;
      throw;
    }
    return 0;
  });
}

LUNKIT_API int lunkit_tcmu_stop(lunkit_tcmu* t, unsigned grace_ms) {
  return guarded([&] {
    if (!t->control.joinable()) return 0;
    uint64_t one = 1;
    (void)!write(t->stop_fd.get(), &one, sizeof one);
    std::unique_lock lock(t->mu);
    if (!t->ended_cv.wait_for(lock, std::chrono::milliseconds(grace_ms),
                              [t] { return t->ended; })) {
      lock.unlock();
      // The kernel stops waiting for answers now: the thread may be gone before it answers.
      t->stop_kernel_waits(true);
      return fail(-ETIMEDOUT, "the control thread is still busy (a handler's open()?)");
    }
    lock.unlock();
    t->control.join();
    uint64_t n;
    (void)!read(t->stop_fd.get(), &n, sizeof n);
    t->control_running = false;
    t->stop_kernel_waits(false);
    return 0;
  });
}

}  // extern "C"

void lunkit_tcmu::end_control() {
  if (!control.joinable()) return;
  uint64_t one = 1;
  (void)!write(stop_fd.get(), &one, sizeof one);
}
