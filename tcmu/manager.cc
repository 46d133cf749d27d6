#include "tcmu/manager.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>

namespace lunkit::tcmu {
namespace {

std::string label(const UioDevice& uio) {
  return "user_" + std::to_string(uio.name.hba) + "/" + uio.name.device;
}

}  // namespace

Manager::Manager(Configfs& configfs, UioOpener opener)
    : configfs_(configfs), opener_(std::move(opener)) {
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
  auto it = devices_.find(minor);
  return it == devices_.end() ? nullptr : it->second->device.get();
}

std::string Manager::serial_of(void* context) {
  auto* e = static_cast<Entry*>(context);
  std::lock_guard lock(e->serial_mu);
  // targetcli writes the serial after enabling the device: read it until there is one.
  if (e->serial.empty()) e->serial = e->manager->configfs_.unit_serial(e->uio.name);
  return e->serial;
}

Result<bool> Manager::attach(const UioDevice& uio, bool reset) {
  const std::string name = label(uio);
  if (devices_.count(uio.minor)) return Error{name + ": already attached"};
  auto factory = backends_.find(uio.name.subtype);
  if (!uio.name.has_config || factory == backends_.end())
    return Error{name + ": no handler serves subtype '" + uio.name.subtype + "'"};

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
  auto result = [&]() -> Result<bool> {
    auto attrs = configfs_.attributes(uio.name);
    if (!attrs) return Error{attrs.error()};
    auto backend = factory->second->open(uio, *attrs);
    if (!backend) return Error{name + ": " + backend.error()};
    auto handles = opener_(uio);
    if (!handles) return Error{handles.error()};
    auto entry = std::make_unique<Entry>();
    entry->uio = uio;
    entry->manager = this;
    entry->backend = std::move(*backend);
    entry->factory = factory->second;
    DeviceOptions options;
    options.name = name;
    options.lu.serial_source = &Manager::serial_of;
    options.lu.serial_context = entry.get();
    factory->second->prepare_options(*entry->backend, options.lu);
    auto dev = Device::attach(handles->doorbell.get(), handles->map.get(), uio.map_size,
                              *entry->backend, std::move(options));
    if (!dev) return Error{name + ": " + dev.error()};
    entry->device = std::move(*dev);
    factory->second->on_attached(*entry->backend, *entry->device);
    entry->device->start();
    devices_[uio.minor] = std::move(entry);
    return true;
  }();
  if (reset) {
    if (auto r = configfs_.action(uio.name, "block_dev", "0"); !r)
      spdlog::warn("{}: {}", name, r.error());
  }
  if (result) spdlog::info("{}: serving {} (uio{})", name, uio.name.dev_config(), uio.minor);
  return result;
}

void Manager::detach(uint32_t minor, bool block) {
  auto it = devices_.find(minor);
  if (it == devices_.end()) return;
  Entry& e = *it->second;
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
  if (block) {
    if (auto r = configfs_.action(e.uio.name, "block_dev", "0"); !r)
      spdlog::warn("{}: {}", name, r.error());
  }
  devices_.erase(it);
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
    if (!uio.name.has_config || !serves(uio.name.subtype)) {
      spdlog::info("{}: leaving it alone, no handler serves subtype '{}'", label(uio),
                   uio.name.subtype);
      continue;
    }
    if (auto r = attach(uio, true); !r) spdlog::error("{}", r.error());
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
    case genl::kRemovedDevice:
      detach(*e.minor, false);
      return 0;  // never hold up the removal of a device, ours or not
    case genl::kReconfigDevice: {
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

void Manager::shutdown() {
  while (!devices_.empty()) detach(devices_.begin()->first, true);
}

}  // namespace lunkit::tcmu
