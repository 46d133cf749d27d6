#include "tcmu/manager.h"

#include "tcmu/alua_config.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lunkit::tcmu {
namespace {

std::string label(const UioDevice& uio) {
  return "user_" + std::to_string(uio.name.hba) + "/" + uio.name.device;
}

}  // namespace

Manager::Manager(Configfs& configfs, UioOpener opener)
    : configfs_(configfs),
      opener_(std::move(opener)),
      repair_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!opener_) {
    opener_ = [this](const UioDevice& uio) -> Result<UioHandles> {
      std::string path = configfs_.uio_path(uio.minor);
      int fd = open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0) return Error{path + ": " + std::strerror(errno)};
      UioHandles h;
      h.doorbell.reset(fd);
      h.map.reset(fcntl(fd, F_DUPFD_CLOEXEC, 3));
      return h;
    };
  }
}

Manager::~Manager() {
  shutdown();
}

void Manager::add_backend(const std::string& subtype, BackendFactory* factory) {
  backends_[subtype] = factory;
}

Device* Manager::device(uint32_t minor) {
  std::lock_guard lock(mu_);
  auto it = devices_.find(minor);
  return it == devices_.end() ? nullptr : it->second->device.get();
}

size_t Manager::size() const {
  std::lock_guard lock(mu_);
  return devices_.size();
}

std::vector<uint32_t> Manager::minors() const {
  std::lock_guard lock(mu_);
  std::vector<uint32_t> out;
  out.reserve(devices_.size());
  for (const auto& [minor, entry] : devices_) out.push_back(minor);
  return out;
}

size_t Manager::attaching() const {
  std::lock_guard lock(mu_);
  return attaching_.size();
}

std::string Manager::serial_of(void* context) {
  auto* e = static_cast<Entry*>(context);
  std::lock_guard lock(e->serial_mu);
  // targetcli writes the serial after enabling the device: read it until there is one.
  if (e->serial.empty()) e->serial = e->manager->configfs_.unit_serial(e->uio.name);
  return e->serial;
}

bool Manager::alua_of(void* context, scsi::AluaDescription& out) {
  auto* e = static_cast<Entry*>(context);
  // Read each time: the kernel reports no change of state or membership to the backend.
  auto r = read_alua(e->manager->configfs_, e->uio.name, out);
  if (!r) spdlog::error("{}: ALUA: {}", label(e->uio), r.error());
  return r && out.group_count > 0;
}

Result<bool> Manager::attach(const UioDevice& uio, bool reset) {
  return attach(uio, reset, nullptr);
}

Result<bool> Manager::attach(const UioDevice& uio, bool reset, bool* storage_failed) {
  const std::string name = label(uio);
  auto factory = backends_.find(uio.name.subtype);
  if (!uio.name.has_config || factory == backends_.end())
    return Error{name + ": no handler serves subtype '" + uio.name.subtype + "'"};
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Error{name + ": not attached, the server is shutting down"};
    if (devices_.count(uio.minor) || attaching_.count(uio.minor))
      return Error{name + ": already attached"};
    attaching_.emplace(uio.minor, uio);
  }

  // Ours before anything is done to it: UIO has no exclusive open, so every lunkitd takes a
  // non-blocking flock on its /dev/uioN fd, held by the device's own duplicate of that fd (and
  // released by the kernel when the holder exits). A device another process holds is left alone:
  // blocking or resetting it would wreck a ring that process is serving.
  auto handles = opener_(uio);
  if (handles && flock(handles->doorbell.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      handles = Error{name + ": uio" + std::to_string(uio.minor) +
                      " is held by another process (another lunkitd?); leaving it alone"};
    else
      handles =
          Error{name + ": flock uio" + std::to_string(uio.minor) + ": " + std::strerror(errno)};
  } else if (!handles) {
    handles = Error{name + ": " + handles.error()};
  }
  if (!handles) {
    std::lock_guard lock(mu_);
    attaching_.erase(uio.minor);
    return Error{handles.error()};
  }

  if (reset) {
    // The order matters: refuse new commands, fail what the old ring held back to the initiator
    // as retryable, attach, then let commands flow again.
    if (auto r = configfs_.action(uio.name, "block_dev", "1"); !r)
      spdlog::warn("{}: {}", name, r.error());
    if (auto r = configfs_.action(uio.name, "reset_ring", "1"); !r)
      spdlog::warn("{}: {}", name, r.error());
  }
  // Without it the kernel never tells the backend about ABORT TASK or LUN RESET (TCMU_OP_TMR).
  if (auto r = configfs_.set_attribute(uio.name, "tmr_notification", "1"); !r)
    spdlog::warn("{}: {}", name, r.error());
  // The slow part (the backend opens its storage), with no lock held.
  auto opened = [&]() -> Result<std::unique_ptr<Entry>> {
    auto attrs = configfs_.attributes(uio.name);
    if (!attrs) return Error{attrs.error()};
    if (storage_failed) *storage_failed = true;
    auto backend = factory->second->open(uio, *attrs);
    if (!backend) return Error{name + ": " + backend.error()};
    if (storage_failed) *storage_failed = false;
    auto entry = std::make_unique<Entry>();
    entry->uio = uio;
    entry->manager = this;
    entry->backend = std::move(*backend);
    entry->factory = factory->second;
    DeviceOptions options;
    options.name = name;
    options.lu.serial_source = &Manager::serial_of;
    options.lu.serial_context = entry.get();
    options.lu.alua_source = &Manager::alua_of;
    options.lu.alua_context = entry.get();
    options.lu.transport_commands = scsi::kTransportReportLuns |
                                    (attrs->kernel_reservations ? scsi::kTransportReservations : 0);
    options.on_broken = &Manager::on_broken;
    options.broken_context = entry.get();
    options.caller_loop = caller_loops_;
    factory->second->prepare_options(*entry->backend, options.lu);
    auto dev = Device::attach(handles->doorbell.get(), handles->map.get(), uio.map_size,
                              *entry->backend, std::move(options));
    if (!dev) return Error{name + ": " + dev.error()};
    entry->device = std::move(*dev);
    factory->second->on_attached(*entry->backend, *entry->device);
    if (caller_loops_)
      entry->device->begin_caller_loop();  // this is the owner's thread, its loop thread
    else
      entry->device->start();
    return entry;
  }();
  bool stopped_meanwhile = false;
  {
    std::lock_guard lock(mu_);
    attaching_.erase(uio.minor);
    stopped_meanwhile = stopping_;
    if (opened && !stopping_) devices_[uio.minor] = std::move(*opened);
  }
  if (stopped_meanwhile) {
    // shutdown() ran while the storage was opening: it has unblocked the device already, and
    // nothing may stay attached after it.
    if (opened) release(std::move(*opened), false, false);
    if (storage_failed) *storage_failed = false;  // no retry either
    return Error{name + ": lunkitd stopped while the storage was opening; not attached"};
  }
  if (opened) answer_netlink_for(uio);
  // A device whose storage could not be opened (and will be retried) stays blocked: its
  // commands wait in the kernel instead of timing out one by one in a ring nobody serves.
  bool keep_blocked = storage_failed && *storage_failed;
  if (reset && !keep_blocked) {
    if (auto r = configfs_.action(uio.name, "block_dev", "0"); !r)
      spdlog::warn("{}: {}", name, r.error());
  }
  if (!opened) return Error{opened.error()};
  spdlog::info("{}: serving {} (uio{})", name, uio.name.dev_config(), uio.minor);
  return true;
}

void Manager::answer_netlink_for(const UioDevice& uio) {
  // The kernel copies its global "wait for replies" into a device's nl_reply_supported when the
  // device is enabled; one enabled before lunkitd's SET_FEATURES (created while no daemon ran,
  // or before a restart) keeps 0, and the kernel would ignore our answers for it. An admin's
  // negative value (never wait) is left as it is.
  auto now = configfs_.attribute_text(uio.name, "nl_reply_supported");
  if (!now) {
    spdlog::debug("{}: {}", label(uio), now.error());  // a kernel before 4.16 has none
    return;
  }
  if (*now != "0") return;
  if (auto r = configfs_.set_attribute(uio.name, "nl_reply_supported", "1"); !r)
    spdlog::warn("{}: the kernel will not wait for lunkit's netlink answers: {}", label(uio),
                 r.error());
}

void Manager::detach(uint32_t minor, bool block) {
  detach(minor, block, block);
}

void Manager::detach_keep_blocked(uint32_t minor) {
  detach(minor, true, false);
}

void Manager::detach(uint32_t minor, bool block, bool unblock) {
  std::unique_ptr<Entry> entry;
  {
    std::lock_guard lock(mu_);
    auto it = devices_.find(minor);
    if (it == devices_.end()) return;
    entry = std::move(it->second);
    devices_.erase(it);
  }
  release(std::move(entry), block, unblock);
}

void Manager::release(std::unique_ptr<Entry> entry, bool block, bool unblock) {
  Entry& e = *entry;
  std::string name = label(e.uio);
  if (block) {
    if (auto r = configfs_.action(e.uio.name, "block_dev", "1"); !r)
      spdlog::warn("{}: {}", name, r.error());
  }
  e.device->stop();
  e.factory->on_detached(*e.backend);
  DeviceStats st = e.device->stats();
  spdlog::info(
      "{}: {} commands, {} waits, {} doorbell events, {} kicks, {} completed from other threads",
      name, st.commands, st.waits, st.doorbell_events, st.kicks, st.remote_completions);
  e.device.reset();
  e.backend.reset();
  if (unblock) {
    if (auto r = configfs_.action(e.uio.name, "block_dev", "0"); !r)
      spdlog::warn("{}: {}", name, r.error());
  }
  spdlog::info("{}: released", name);
}

void Manager::attach_existing() {
  if (auto r = configfs_.set_module_param("block_netlink", "1"); !r)
    spdlog::warn("cannot hold back netlink events: {}", r.error());
  // A daemon that died may have left configfs writes waiting for its replies: release them.
  if (auto r = configfs_.set_module_param("reset_netlink", "1"); !r)
    spdlog::debug("reset_netlink: {}", r.error());
  std::vector<std::string> errors;
  for (const UioDevice& uio : scan_uio_devices(configfs_.paths().sysfs, &errors)) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;  // shutdown() releases block_netlink too
    }
    if (!uio.name.has_config || !serves(uio.name.subtype)) {
      spdlog::info("{}: leaving it alone, no handler serves subtype '{}'", label(uio),
                   uio.name.subtype);
      continue;
    }
    attach_or_retry(uio, Clock::now());
  }
  for (const auto& e : errors) spdlog::error("{}", e);
  if (auto r = configfs_.set_module_param("block_netlink", "0"); !r)
    spdlog::warn("cannot release netlink events: {}", r.error());
}

int32_t Manager::handle(const NetlinkEvent& e) {
  switch (e.cmd) {
    case genl::kAddedDevice: {
      auto name = parse_uio_name(*e.device);
      if (!name) {
        spdlog::error("ADDED_DEVICE {}: {}", *e.device, name.error());
        return -EINVAL;
      }
      if (!name->has_config || !serves(name->subtype)) {
        spdlog::error("ADDED_DEVICE {}: no handler serves subtype '{}'", *e.device, name->subtype);
        return -ENOENT;
      }
      auto uio = read_uio_device(configfs_.paths().sysfs, *e.minor);
      if (!uio) {
        spdlog::error("ADDED_DEVICE {}: {}", *e.device, uio.error());
        return -ENODEV;
      }
      auto r = attach(*uio, false);
      if (!r) {
        spdlog::error("{}", r.error());
        return -EIO;
      }
      return 0;
    }
    case genl::kRemovedDevice: {
      std::lock_guard lock(mu_);
      std::erase_if(retries_, [&](const Retry& r) { return r.uio.minor == *e.minor; });
    }
      detach(*e.minor, false);
      return 0;  // never hold up the removal of a device, ours or not
    case genl::kReconfigDevice: {
      // Held across the backend's reconfigure: shutdown() cannot release the device meanwhile.
      std::lock_guard lock(mu_);
      auto it = devices_.find(*e.minor);
      if (it == devices_.end()) {
        spdlog::error("RECONFIG_DEVICE {}: not a device lunkit serves", *e.device);
        return -ENODEV;
      }
      Entry& entry = *it->second;
      Device& dev = *entry.device;
      // The backend first: a size or cfgstring it cannot follow is refused and nothing changes.
      int rc = entry.factory->reconfigure(*entry.backend, e.dev_size.value_or(0),
                                          e.dev_cfg ? e.dev_cfg->c_str() : nullptr,
                                          e.write_cache ? *e.write_cache : -1);
      if (rc < 0) {
        spdlog::error("{}: the handler refused the change: {}", dev.name(), std::strerror(-rc));
        return rc;
      }
      if (e.dev_size) {
        uint32_t block = entry.backend->info().logical_block_size;
        uint64_t blocks = *e.dev_size / block;
        spdlog::info("{}: size now {} bytes", dev.name(), *e.dev_size);
        dev.post([&dev, blocks] { dev.logical_unit().set_capacity(blocks); });
      }
      if (e.write_cache) {
        bool on = *e.write_cache != 0;
        spdlog::info("{}: write cache {}", dev.name(), on ? "on" : "off");
        dev.post([&dev, on] { dev.logical_unit().set_write_cache(on); });
      }
      return 0;
    }
  }
  return -EINVAL;
}

void Manager::handle_message(const ParsedEvent& message, const Replier& reply) {
  const NetlinkEvent& e = message.event;
  uint8_t reply_cmd = reply_command(e.cmd);
  int32_t status;
  if (!message.error.empty()) {
    spdlog::error("netlink {}: {}", command_name(e.cmd), message.error);
    status = -EINVAL;
  } else {
    status = handle(e);
  }
  // The kernel only waits for replies to version 2 messages; answering costs nothing otherwise.
  if (reply_cmd) reply(reply_cmd, status, e.device_id.value_or(0));
}

void Manager::on_broken(void* context) {
  auto* e = static_cast<Entry*>(context);
  Manager& m = *e->manager;
  {
    std::lock_guard lock(m.broken_mu_);
    m.broken_.push_back(e->uio.minor);
  }
  uint64_t one = 1;
  (void)!write(m.repair_fd_.get(), &one, sizeof one);
}

void Manager::repair_broken() {
  uint64_t n;
  (void)!read(repair_fd_.get(), &n, sizeof n);
  std::vector<uint32_t> minors;
  {
    std::lock_guard lock(broken_mu_);
    minors.swap(broken_);
  }
  for (uint32_t minor : minors) {
    UioDevice uio;
    {
      std::lock_guard lock(mu_);
      auto it = devices_.find(minor);
      if (stopping_ || it == devices_.end()) continue;  // removed meanwhile
      uio = it->second->uio;
    }
    spdlog::warn("{}: reattaching with reset_ring after the broken ring", label(uio));
    detach_keep_blocked(minor);
    if (auto r = attach(uio, true); !r) spdlog::error("{}", r.error());
  }
}

void Manager::attach_or_retry(const UioDevice& uio, Clock::time_point now, Clock::duration delay) {
  bool storage_failed = false;
  auto r = attach(uio, true, &storage_failed);
  if (r) return;
  if (!storage_failed) {
    spdlog::error("{}", r.error());
    return;
  }
  std::lock_guard lock(mu_);
  if (stopping_) return;
  spdlog::error("{}; retrying in {} ms while the device stays blocked", r.error(),
                std::chrono::duration_cast<std::chrono::milliseconds>(delay).count());
  retries_.push_back({uio, now + delay, std::min(delay * 2, kMaxRetryDelay)});
}

std::optional<Manager::Clock::duration> Manager::next_retry(Clock::time_point now) const {
  std::lock_guard lock(mu_);
  std::optional<Clock::duration> next;
  for (const Retry& r : retries_) {
    Clock::duration d = r.at > now ? r.at - now : Clock::duration::zero();
    if (!next || d < *next) next = d;
  }
  return next;
}

void Manager::retry_due(Clock::time_point now) {
  std::vector<Retry> due;
  std::unique_lock lock(mu_);
  for (auto it = retries_.begin(); it != retries_.end();) {
    if (it->at <= now) {
      due.push_back(std::move(*it));
      it = retries_.erase(it);
    } else {
      ++it;
    }
  }
  lock.unlock();
  for (Retry& r : due) attach_or_retry(r.uio, now, r.next_delay);
}

void Manager::shutdown() {
  std::vector<Retry> retries;
  std::map<uint32_t, std::unique_ptr<Entry>> devices;
  std::vector<UioDevice> opening;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    retries.swap(retries_);
    devices.swap(devices_);
    for (const auto& [minor, uio] : attaching_) opening.push_back(uio);
  }
  // Devices still waiting for their storage are unblocked: nobody will serve them now.
  for (const Retry& r : retries)
    if (auto w = configfs_.action(r.uio.name, "block_dev", "0"); !w)
      spdlog::warn("{}: {}", label(r.uio), w.error());
  for (const UioDevice& uio : opening) {
    spdlog::warn("{}: its storage is still opening; stopping without it", label(uio));
    if (auto w = configfs_.action(uio.name, "block_dev", "0"); !w)
      spdlog::warn("{}: {}", label(uio), w.error());
  }
  for (auto& [minor, entry] : devices) release(std::move(entry), true, true);
}

}  // namespace lunkit::tcmu
