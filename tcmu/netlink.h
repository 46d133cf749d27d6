// The TCM-USER generic netlink family: device events from the kernel and the replies to them.
#pragma once

#include <netlink/msg.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "lunkit/result.h"

struct nl_sock;

namespace lunkit::tcmu {

struct NetlinkEvent {
  uint8_t cmd = 0;
  uint8_t version = 0;
  std::optional<std::string> device;  // UIO name
  std::optional<uint32_t> minor;
  std::optional<uint32_t> device_id;
  std::optional<std::string> dev_cfg;
  std::optional<uint64_t> dev_size;
  std::optional<uint8_t> write_cache;
};

// What parse_event() could read; `error` is set when the message is unusable, and `event` then
// holds whatever could be read (the command and device id, to answer it).
struct ParsedEvent {
  NetlinkEvent event;
  std::string error;
};

ParsedEvent parse_event(const nlmsghdr* hdr);
// ADDED_DEVICE -> ADDED_DEVICE_DONE, ...; 0 for commands that are not answered.
uint8_t reply_command(uint8_t cmd);
const char* command_name(uint8_t cmd);

struct MsgDeleter {
  void operator()(nl_msg* m) const { nlmsg_free(m); }
};
using MsgPtr = std::unique_ptr<nl_msg, MsgDeleter>;

MsgPtr build_event(int family, const NetlinkEvent& event);  // the kernel's side, for tests
MsgPtr build_reply(int family, uint8_t reply_cmd, int32_t status, uint32_t device_id);
MsgPtr build_set_features(int family, bool kernel_waits_for_replies);

// A socket joined to the "config" multicast group.
class NetlinkChannel {
 public:
  // Fails (with a message saying so) when the family does not exist: target_core_user is not
  // loaded.
  static Result<std::unique_ptr<NetlinkChannel>> open();
  ~NetlinkChannel();

  int fd() const;
  int family() const { return family_; }
  // Reads every pending message; `on_message` gets each one, parsed.
  void receive(const std::function<void(const ParsedEvent&)>& on_message);
  Result<bool> send(MsgPtr msg);

  // SET_FEATURES (module-wide, it outlives the daemon): whether the kernel waits for *_DONE
  // replies to device events. Sent on a socket of its own, so that waiting for the
  // acknowledgement cannot swallow device events.
  // `error`, when given, gets the failure's errno: ENOENT without the TCM-USER family, EPERM
  // for a caller without CAP_SYS_ADMIN, else EIO.
  static Result<bool> set_kernel_waits_for_replies(bool wait, int* error = nullptr);

 private:
  NetlinkChannel() = default;
  static int on_valid(nl_msg* msg, void* arg);

  nl_sock* sock_ = nullptr;
  int family_ = 0;
  const std::function<void(const ParsedEvent&)>* on_message_ = nullptr;
};

}  // namespace lunkit::tcmu
