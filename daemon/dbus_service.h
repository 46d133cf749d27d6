// The D-Bus service targetcli talks to: org.kernel.TCMUService1 on the system bus, an
// ObjectManager at /org/kernel/TCMUService1 and one object per handler with the property
// ConfigDesc and the method CheckConfig(s) -> (b, s).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "handlers/host/plugin.h"
#include "lunkit/result.h"

namespace sdbus {
class IConnection;
class IObject;
}  // namespace sdbus

namespace lunkit::daemon {

constexpr const char* kBusName = "org.kernel.TCMUService1";
constexpr const char* kObjectPath = "/org/kernel/TCMUService1";
constexpr const char* kInterface = "org.kernel.TCMUService1";

// CheckConfig's answer for `config` ("<subtype>/<cfgstring>", as targetcli sends it), checked
// with lunkit.conf's `defaults` for the handler appended, as the device will be opened.
std::pair<bool, std::string> check_config(const plugins::Plugin& plugin, const std::string& config,
                                          const std::string& defaults = "");

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
  std::unique_ptr<sdbus::IConnection> connection_;
  std::unique_ptr<sdbus::IObject> manager_;
  std::vector<std::unique_ptr<sdbus::IObject>> objects_;
};

}  // namespace lunkit::daemon
