#include "tcmu/netlink.h"

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <cerrno>

#include "tcmu/protocol.h"

namespace lunkit::tcmu {
namespace {

// Attribute policy, as the kernel declares it (plus the reconfig attributes it sends).
nla_policy* policy() {
  static nla_policy p[genl::kAttrMax + 1] = {};
  static bool init = [] {
    p[genl::kAttrDevice].type = NLA_STRING;
    p[genl::kAttrMinor].type = NLA_U32;
    p[genl::kAttrDevCfg].type = NLA_STRING;
    p[genl::kAttrDevSize].type = NLA_U64;
    p[genl::kAttrWriteCache].type = NLA_U8;
    p[genl::kAttrCmdStatus].type = NLA_S32;
    p[genl::kAttrDeviceId].type = NLA_U32;
    p[genl::kAttrSuppKernCmdReply].type = NLA_U8;
    return true;
  }();
  (void)init;
  return p;
}

}  // namespace

uint8_t reply_command(uint8_t cmd) {
  switch (cmd) {
    case genl::kAddedDevice:
      return genl::kAddedDeviceDone;
    case genl::kRemovedDevice:
      return genl::kRemovedDeviceDone;
    case genl::kReconfigDevice:
      return genl::kReconfigDeviceDone;
    default:
      return 0;
  }
}

const char* command_name(uint8_t cmd) {
  switch (cmd) {
    case genl::kAddedDevice:
      return "ADDED_DEVICE";
    case genl::kRemovedDevice:
      return "REMOVED_DEVICE";
    case genl::kReconfigDevice:
      return "RECONFIG_DEVICE";
    case genl::kAddedDeviceDone:
      return "ADDED_DEVICE_DONE";
    case genl::kRemovedDeviceDone:
      return "REMOVED_DEVICE_DONE";
    case genl::kReconfigDeviceDone:
      return "RECONFIG_DEVICE_DONE";
    case genl::kSetFeatures:
      return "SET_FEATURES";
    default:
      return "unknown command";
  }
}

ParsedEvent parse_event(const nlmsghdr* hdr) {
  ParsedEvent out;
  auto* nlh = const_cast<nlmsghdr*>(hdr);
  if (!genlmsg_valid_hdr(nlh, 0)) {
    out.error = "message too short for a generic netlink header";
    return out;
  }
  const genlmsghdr* gh = static_cast<const genlmsghdr*>(nlmsg_data(nlh));
  out.event.cmd = gh->cmd;
  out.event.version = gh->version;
  nlattr* attrs[genl::kAttrMax + 1] = {};
  int rc = genlmsg_parse(nlh, 0, attrs, genl::kAttrMax, policy());
  if (rc < 0) {
    // Salvage the device id so the message can still be answered.
    nlattr* a = nlmsg_find_attr(nlh, GENL_HDRLEN, genl::kAttrDeviceId);
    if (a && nla_len(a) >= 4) out.event.device_id = nla_get_u32(a);
    out.error = std::string("malformed attributes: ") + nl_geterror(rc);
    return out;
  }
  NetlinkEvent& e = out.event;
  if (attrs[genl::kAttrDevice]) e.device = nla_get_string(attrs[genl::kAttrDevice]);
  if (attrs[genl::kAttrMinor]) e.minor = nla_get_u32(attrs[genl::kAttrMinor]);
  if (attrs[genl::kAttrDeviceId]) e.device_id = nla_get_u32(attrs[genl::kAttrDeviceId]);
  if (attrs[genl::kAttrDevCfg]) e.dev_cfg = nla_get_string(attrs[genl::kAttrDevCfg]);
  if (attrs[genl::kAttrDevSize]) e.dev_size = nla_get_u64(attrs[genl::kAttrDevSize]);
  if (attrs[genl::kAttrWriteCache]) e.write_cache = nla_get_u8(attrs[genl::kAttrWriteCache]);
  if (!reply_command(e.cmd)) {
    out.error = std::string("unexpected command ") + std::to_string(e.cmd);
  } else if (!e.device || !e.minor) {
    out.error = std::string(command_name(e.cmd)) + " without device name or minor";
  } else if (e.version > 1 && !e.device_id) {
    out.error = std::string(command_name(e.cmd)) + " without device id";
  } else if (e.cmd == genl::kReconfigDevice && !e.dev_cfg && !e.dev_size && !e.write_cache) {
    out.error = "RECONFIG_DEVICE without anything to change";
  }
  return out;
}

MsgPtr build_event(int family, const NetlinkEvent& e) {
  MsgPtr msg(nlmsg_alloc());
  genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, 0, e.cmd, e.version);
  if (e.device) nla_put_string(msg.get(), genl::kAttrDevice, e.device->c_str());
  if (e.minor) nla_put_u32(msg.get(), genl::kAttrMinor, *e.minor);
  if (e.device_id) nla_put_u32(msg.get(), genl::kAttrDeviceId, *e.device_id);
  if (e.dev_cfg) nla_put_string(msg.get(), genl::kAttrDevCfg, e.dev_cfg->c_str());
  if (e.dev_size) nla_put_u64(msg.get(), genl::kAttrDevSize, *e.dev_size);
  if (e.write_cache) nla_put_u8(msg.get(), genl::kAttrWriteCache, *e.write_cache);
  return msg;
}

MsgPtr build_reply(int family, uint8_t reply_cmd, int32_t status, uint32_t device_id) {
  MsgPtr msg(nlmsg_alloc());
  genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, 0, reply_cmd, genl::kVersion);
  nla_put_s32(msg.get(), genl::kAttrCmdStatus, status);
  nla_put_u32(msg.get(), genl::kAttrDeviceId, device_id);
  return msg;
}

MsgPtr build_set_features(int family, bool kernel_waits_for_replies) {
  MsgPtr msg(nlmsg_alloc());
  genlmsg_put(msg.get(), NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, NLM_F_ACK, genl::kSetFeatures,
              genl::kVersion);
  nla_put_u8(msg.get(), genl::kAttrSuppKernCmdReply, kernel_waits_for_replies ? 1 : 0);
  return msg;
}

Result<std::unique_ptr<NetlinkChannel>> NetlinkChannel::open() {
  std::unique_ptr<NetlinkChannel> ch(new NetlinkChannel);
  ch->sock_ = nl_socket_alloc();
  if (!ch->sock_) return Error{"netlink: cannot allocate a socket"};
  nl_socket_disable_seq_check(ch->sock_);
  nl_socket_modify_cb(ch->sock_, NL_CB_VALID, NL_CB_CUSTOM, &NetlinkChannel::on_valid, ch.get());
  int rc = genl_connect(ch->sock_);
  if (rc < 0) return Error{std::string("netlink: cannot connect: ") + nl_geterror(rc)};
  ch->family_ = genl_ctrl_resolve(ch->sock_, genl::kFamily);
  if (ch->family_ < 0)
    return Error{"netlink: no TCM-USER family (is the target_core_user module loaded?)"};
  int group = genl_ctrl_resolve_grp(ch->sock_, genl::kFamily, genl::kConfigGroup);
  if (group < 0)
    return Error{std::string("netlink: no TCM-USER config group: ") + nl_geterror(group)};
  rc = nl_socket_add_membership(ch->sock_, group);
  if (rc < 0)
    return Error{std::string("netlink: cannot join the config group: ") + nl_geterror(rc)};
  nl_socket_set_nonblocking(ch->sock_);
  return ch;
}

NetlinkChannel::~NetlinkChannel() {
  if (sock_) nl_socket_free(sock_);
}

int NetlinkChannel::fd() const {
  return nl_socket_get_fd(sock_);
}

int NetlinkChannel::on_valid(nl_msg* msg, void* arg) {
  auto* self = static_cast<NetlinkChannel*>(arg);
  if (self->on_message_) (*self->on_message_)(parse_event(nlmsg_hdr(msg)));
  return NL_OK;
}

void NetlinkChannel::receive(const std::function<void(const ParsedEvent&)>& on_message) {
  on_message_ = &on_message;
  while (nl_recvmsgs_default(sock_) >= 0) {
  }
  on_message_ = nullptr;
}

Result<bool> NetlinkChannel::send(MsgPtr msg) {
  int rc = nl_send_auto(sock_, msg.get());
  if (rc < 0) return Error{std::string("netlink send: ") + nl_geterror(rc)};
  return true;
}

Result<bool> NetlinkChannel::set_kernel_waits_for_replies(bool wait, int* error) {
  int ignored = 0;
  int& err = error ? *error : ignored;
  err = EIO;
  nl_sock* sock = nl_socket_alloc();
  if (!sock) return Error{"netlink: cannot allocate a socket"};
  std::unique_ptr<nl_sock, void (*)(nl_sock*)> guard(sock, nl_socket_free);
  int rc = genl_connect(sock);
  if (rc < 0) return Error{std::string("netlink: cannot connect: ") + nl_geterror(rc)};
  int family = genl_ctrl_resolve(sock, genl::kFamily);
  if (family < 0) {
    err = ENOENT;
    return Error{"netlink: no TCM-USER family (is the target_core_user module loaded?)"};
  }
  rc = nl_send_sync(sock, build_set_features(family, wait).release());  // frees the message
  if (rc < 0) {
    if (rc == -NLE_PERM) err = EPERM;
    return Error{std::string("netlink SET_FEATURES: ") + nl_geterror(rc)};
  }
  err = 0;
  return true;
}

}  // namespace lunkit::tcmu
