#include "daemon/dbus_service.h"

#include <spdlog/spdlog.h>

#include <sdbus-c++/sdbus-c++.h>
#include <chrono>
#include <fstream>
#include <thread>

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

std::string refusal_for(uid_t uid) {
  return "only root may ask lunkitd to check a configuration (the check opens storage as root); "
         "the caller is " +
         (uid == static_cast<uid_t>(-1) ? std::string("unknown") : "uid " + std::to_string(uid));
}

// ---- checks off the bus thread ----

ConfigChecks::~ConfigChecks() {
  std::unique_lock lock(state_->mu);
  state_->closed = true;
  // A handler's check is bounded by its own timeout (rbd: 10 s).
  state_->idle_cv.wait_for(lock, std::chrono::seconds(2), [this] { return state_->running == 0; });
}

void ConfigChecks::run(const plugins::Plugin& plugin, std::string config, std::string defaults,
                       sdbus::Result<bool, std::string>&& result) {
  {
    std::lock_guard lock(state_->mu);
    if (state_->closed || state_->running >= kMaxRunning) {
      std::string why = state_->closed
                            ? "lunkitd is stopping"
                            : "lunkitd is already checking " + std::to_string(kMaxRunning) +
                                  " configurations; try again";
      result.returnResults(false, why);
      return;
    }
    ++state_->running;
  }
  spdlog::debug("CheckConfig {}: checking", config);
  // The plugin stays loaded until lunkitd exits (Plugin::keep_mapped).
  std::thread([&plugin, config = std::move(config), defaults = std::move(defaults),
               result = std::move(result), connection = connection_, state = state_]() {
    auto [ok, message] = check_config(plugin, config, defaults);
    spdlog::debug("CheckConfig {}: {}", config, ok ? "valid" : message);
    try {
      result.returnResults(ok, message);
    } catch (const sdbus::Error& e) {
      spdlog::warn("CheckConfig {}: the answer was not sent: {}", config, e.getMessage());
    }
    std::lock_guard lock(state->mu);
    --state->running;
    state->idle_cv.notify_all();
  }).detach();
}

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
  svc->checks_ = std::make_unique<ConfigChecks>(svc->connection_);
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
      sdbus::IObject* self = obj.get();
      ConfigChecks* checks = svc->checks_.get();
      obj->registerMethod("CheckConfig")
          .onInterface(kInterface)
          .withInputParamNames("configstr")
          .withOutputParamNames("is_valid", "message")
          .implementedAs([p, defaults, self, checks](sdbus::Result<bool, std::string>&& result,
                                                     std::string config) {
            // The handlers act on the cfgstring as root (the file handler probes the path, rbd
            // reads the named conf and connects to its monitors): only root may ask.
            uid_t uid = static_cast<uid_t>(-1);
            try {
              uid = self->getCurrentlyProcessedMessage()->getCredsUid();
            } catch (const sdbus::Error& e) {
              spdlog::warn("CheckConfig: cannot tell who asks: {}", e.getMessage());
            }
            if (uid != 0) {
              spdlog::info("CheckConfig {} refused: the caller is uid {}", config,
                           static_cast<long>(uid == static_cast<uid_t>(-1) ? -1 : uid));
              result.returnResults(false, refusal_for(uid));
              return;
            }
            checks->run(*p, std::move(config), defaults, std::move(result));
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
  checks_.reset();  // refuses new checks, waits a little for running ones
  objects_.clear();
  manager_.reset();
}

}  // namespace lunkit::daemon
