// The D-Bus service targetcli talks to: org.kernel.TCMUService1 on the system bus, an
// ObjectManager at /org/kernel/TCMUService1 and one object per handler with the property
// ConfigDesc and the method CheckConfig(s) -> (b, s).
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "handlers/host/plugin.h"
#include "lunkit/result.h"

namespace sdbus {
class IConnection;
class IObject;
template <typename... Results>
class Result;
}  // namespace sdbus

namespace lunkit::daemon {

constexpr const char* kBusName = "org.kernel.TCMUService1";
constexpr const char* kObjectPath = "/org/kernel/TCMUService1";
constexpr const char* kInterface = "org.kernel.TCMUService1";

// CheckConfig's answer for `config` ("<subtype>/<cfgstring>", as targetcli sends it), checked
// with lunkit.conf's `defaults` for the handler appended, as the device will be opened.
std::pair<bool, std::string> check_config(const plugins::Plugin& plugin, const std::string& config,
                                          const std::string& defaults = "");

// CheckConfig's answer to a caller that is not root.
std::string refusal_for(uid_t uid);

// CheckConfig calls run on threads of their own, at most kMaxRunning at once, so a check that
// blocks (rbd waiting for monitors that do not answer) does not stall the bus thread: the
// properties, the ObjectManager and other checks are answered meanwhile.
class ConfigChecks {
 public:
  static constexpr int kMaxRunning = 4;
  explicit ConfigChecks(std::shared_ptr<sdbus::IConnection> connection)
      : connection_(std::move(connection)), state_(std::make_shared<State>()) {}
  // Refuses new checks and waits up to 2 s for the running ones; a check still running after
  // that ends on its own (it owns what it uses), lunkitd does not wait for it.
  ~ConfigChecks();
  void run(const plugins::Plugin& plugin, std::string config, std::string defaults,
           sdbus::Result<bool, std::string>&& result);

 private:
  struct State {
    std::mutex mu;
    std::condition_variable idle_cv;
    int running = 0;
    bool closed = false;
  };
  std::shared_ptr<sdbus::IConnection> connection_;  // each check keeps it until it has answered
  std::shared_ptr<State> state_;                    // and this
};

class DbusService {
 public:
  // Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS when set), exports the objects, then
  // takes the well-known name and serves it on a thread of its own. Fails with a message that
  // names the process already owning the name (tcmu-runner, another lunkitd).
  // `handler_options`: lunkit.conf's per-handler defaults, by subtype.
  static Result<std::unique_ptr<DbusService>> start(
      const std::vector<const plugins::Plugin*>& plugins,
      const std::map<std::string, std::string>& handler_options = {});
  ~DbusService();

 private:
  DbusService() = default;
  std::shared_ptr<sdbus::IConnection> connection_;
  std::unique_ptr<ConfigChecks> checks_;
  std::unique_ptr<sdbus::IObject> manager_;
  std::vector<std::unique_ptr<sdbus::IObject>> objects_;
};

}  // namespace lunkit::daemon
