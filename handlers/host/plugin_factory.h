// Serves TCMU devices of one subtype with a handler plugin.
#pragma once

#include "handlers/host/plugin_device.h"
#include "tcmu/manager.h"

namespace lunkit::plugins {

// Serves a plugin device on a TCMU device loop: its handlers' io_uring I/O runs there, and a
// size the storage reports changing becomes the new capacity with its unit attention.
inline void attach_to_loop(PluginBlockDevice& backend, tcmu::Device& device) {
  backend.bind_loop(&device,
                    [&device](std::function<void()> task) { device.post(std::move(task)); });
  backend.on_resized([&device](uint64_t blocks) {
    device.post([&device, blocks] { device.logical_unit().set_capacity(blocks); });
  });
}

class PluginFactory : public tcmu::BackendFactory {
 public:
  // `options` (from lunkit.conf) are appended to every device's cfgstring.
  PluginFactory(const Plugin& plugin, WorkerPool* pool, std::string options = "")
      : plugin_(plugin), pool_(pool), options_(std::move(options)) {}
  // Before any device is opened.
  void set_defaults(std::string options) { options_ = std::move(options); }

  Result<std::unique_ptr<BlockDevice>> open(const tcmu::UioDevice& uio,
                                            const tcmu::DeviceAttributes& attributes) override {
    OpenParams p;
    p.name = "user_" + std::to_string(uio.name.hba) + "/" + uio.name.device;
    p.cfgstring = with_defaults(uio.name.cfgstring, options_);
    p.size = attributes.size_bytes;
    p.block_size = attributes.block_size;
    p.max_sectors = attributes.max_sectors;
    p.cmd_time_out = attributes.cmd_time_out;
    p.frontend = LUNKIT_FRONTEND_TCMU;
    auto dev = PluginBlockDevice::open(plugin_, p, pool_);
    if (!dev) return Error{dev.error()};
    return std::unique_ptr<BlockDevice>(std::move(*dev));
  }

  void prepare_options(BlockDevice& backend, scsi::LogicalUnitOptions& options) override {
    static_cast<PluginBlockDevice&>(backend).install_raw_hook(options);
  }

  int reconfigure(BlockDevice& backend, uint64_t new_size, const char* new_cfgstring,
                  int write_cache) override {
    return static_cast<PluginBlockDevice&>(backend).reconfigure(new_size, new_cfgstring,
                                                                write_cache);
  }

  void on_attached(BlockDevice& backend, tcmu::Device& device) override {
    attach_to_loop(static_cast<PluginBlockDevice&>(backend), device);
  }
  void on_detached(BlockDevice& backend) override {
    static_cast<PluginBlockDevice&>(backend).on_resized(nullptr);  // waits for one in progress
    static_cast<PluginBlockDevice&>(backend).stop_posting();
  }

 private:
  const Plugin& plugin_;
  WorkerPool* pool_;
  std::string options_;
};

}  // namespace lunkit::plugins
