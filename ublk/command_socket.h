// How `lunkit ublk resize` and `lunkit ublk recover` reach the process serving a device: a Unix
// socket next to the device's record (state_dir()/ublkN.sock), one request and one answer per
// connection, as text:
//
//   resize BYTES   -> "ok BYTES" once the handler and the disk have the new size
//   hand-over      -> "ok" once the server has let go of the device (it then exits)
//   anything       -> "error <one line>"
//
// SOCK_SEQPACKET keeps each message whole. The directory is root's (the only user who can serve
// ublk devices here), and the socket is created 0600.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/fd.h"
#include "lunkit/result.h"

namespace lunkit::ublk {

std::string socket_path(uint32_t dev_id);

class CommandSocket {
 public:
  // Listens for device `dev_id`'s requests (replacing a socket a dead server left behind).
  static Result<CommandSocket> listen(uint32_t dev_id);
  CommandSocket(CommandSocket&&) = default;
  CommandSocket& operator=(CommandSocket&&) = default;
  ~CommandSocket();

  int fd() const { return fd_.get(); }  // readable: a request is waiting
  // Accepts one connection and answers its request with `answer(request)`. A client that sends
  // nothing within a second is dropped, so a stuck client does not stop the server.
  void serve_one(const std::function<std::string(const std::string& request)>& answer);

 private:
  CommandSocket() = default;
  UniqueFd fd_;
  std::string path_;
};

// Sends `request` to the server of `dev_id` and returns its answer, waiting up to `timeout_ms`.
// An error says when no process serves the device.
Result<std::string> ask_server(uint32_t dev_id, const std::string& request, int timeout_ms);

}  // namespace lunkit::ublk
