#include "daemon/dbus_service.h"

#include <spdlog/spdlog.h>

#include <sdbus-c++/sdbus-c++.h>
#include <fstream>

namespace lunkit::daemon {
namespace {

// "tcmu-runner (pid 123)" for whoever owns `name`, or "another process".
std::string owner_of(sdbus::IConnection& connection, const std::string& name) {
  try {
    auto proxy = sdbus::createProxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    uint32_t pid = 0;
    proxy->callMethod("GetConnectionUnixProcessID")
        .onInterface("org.freedesktop.DBus")
        .withArguments(name)
        .storeResultsTo(pid);
    std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
    std::string process;
    std::getline(comm, process);
    return (process.empty() ? "process" : process) + " (pid " + std::to_string(pid) + ")";
  } catch (const sdbus::Error&) {
    return "another process";
  }
}

}  // namespace

std::pair<bool, std::string> check_config(const plugins::Plugin& plugin, const std::string& config,
                                          const std::string& defaults) {
  std::string prefix = plugin.subtype() + "/";
  if (config.rfind(prefix, 0) != 0)
    return {false, "'" + config + "' is not a " + plugin.subtype() + " configuration (expected " +
                       prefix + "<cfgstring>)"};
  auto r = plugin.check_config(plugins::with_defaults(config.substr(prefix.size()), defaults));
  if (!r) return {false, r.error()};
  return {true, "success"};
}

Result<std::unique_ptr<DbusService>> DbusService::start(
    const std::vector<const plugins::Plugin*>& plugins,
    const std::map<std::string, std::string>& handler_options) {
  std::unique_ptr<DbusService> svc(new DbusService);
  try {
    svc->connection_ = sdbus::createSystemBusConnection();
  } catch (const sdbus::Error& e) {
    return Error{"cannot connect to the D-Bus system bus: " + e.getMessage()};
  }
  try {
    svc->manager_ = sdbus::createObject(*svc->connection_, kObjectPath);
    svc->manager_->addObjectManager();
    svc->manager_->finishRegistration();
    for (const plugins::Plugin* p : plugins) {
      auto obj =
          sdbus::createObject(*svc->connection_, std::string(kObjectPath) + "/" + p->subtype());
      std::string desc = p->handler().cfg_desc ? p->handler().cfg_desc : "";
      auto opt = handler_options.find(p->subtype());
      std::string defaults = opt == handler_options.end() ? "" : opt->second;
      obj->registerProperty("ConfigDesc").onInterface(kInterface).withGetter([desc] {
        return desc;
      });
      obj->registerMethod("CheckConfig")
          .onInterface(kInterface)
          .withInputParamNames("configstr")
          .withOutputParamNames("is_valid", "message")
          .implementedAs([p, defaults](const std::string& config) -> std::tuple<bool, std::string> {
            auto [ok, message] = check_config(*p, config, defaults);
            spdlog::debug("CheckConfig {}: {}", config, ok ? "valid" : message);
            return {ok, message};
          });
      obj->finishRegistration();
      svc->objects_.push_back(std::move(obj));
    }
  } catch (const sdbus::Error& e) {
    return Error{"cannot export D-Bus objects: " + e.getMessage()};
  }
  try {
    svc->connection_->requestName(kBusName);
  } catch (const sdbus::Error& e) {
    std::string why = e.getMessage();
    if (e.getName() == "System.Error.EEXIST" || why.find("exists") != std::string::npos)
      return Error{std::string(kBusName) + " is already owned by " +
                   owner_of(*svc->connection_, kBusName) +
                   "; stop it first: only one TCMU daemon can serve targetcli"};
    return Error{std::string("cannot own ") + kBusName + ": " + why +
                 " (is the D-Bus policy from lunkit installed, and are we root?)"};
  }
  svc->connection_->enterEventLoopAsync();
  return svc;
}

DbusService::~DbusService() {
  if (!connection_) return;
  try {
    connection_->releaseName(kBusName);
  } catch (const sdbus::Error&) {
  }
  connection_->leaveEventLoop();
  objects_.clear();
  manager_.reset();
}

}  // namespace lunkit::daemon
