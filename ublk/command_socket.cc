#include "ublk/command_socket.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ublk/record.h"

namespace lunkit::ublk {
namespace {

constexpr size_t kMaxMessage = 512;

Result<sockaddr_un> address(const std::string& path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) return Error{path + ": the path is too long for a socket"};
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return a;
}

// Waits for `fd` to become readable for at most `timeout_ms`.
bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  int n;
  do {
    n = poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

}  // namespace

std::string socket_path(uint32_t dev_id) {
  return record_path(dev_id) + ".sock";
}

Result<CommandSocket> CommandSocket::listen(uint32_t dev_id) {
  if (auto ok = make_state_dir(); !ok) return Error{ok.error()};
  CommandSocket s;
  s.path_ = socket_path(dev_id);
  auto a = address(s.path_);
  if (!a) return Error{a.error()};
  s.fd_.reset(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s.fd_) return Error{std::string("socket: ") + std::strerror(errno)};
  // The device id is ours (the kernel gave it to this server), so a socket file there is a
  // dead server's.
  ::unlink(s.path_.c_str());
  mode_t old = umask(0177);  // the socket file is 0600
  int rc = bind(s.fd_.get(), reinterpret_cast<const sockaddr*>(&*a), sizeof *a);
  int e = errno;
  umask(old);
  if (rc != 0) return Error{s.path_ + ": " + std::strerror(e)};
  if (::listen(s.fd_.get(), 4) != 0) return Error{s.path_ + ": " + std::strerror(errno)};
  return s;
}

CommandSocket::~CommandSocket() {
  if (fd_) ::unlink(path_.c_str());
}

void CommandSocket::serve_one(
    const std::function<std::string(const std::string& request)>& answer) {
  UniqueFd client(accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!client || !readable(client.get(), 1000)) return;
  char buf[kMaxMessage];
  ssize_t n = recv(client.get(), buf, sizeof buf, 0);
  if (n <= 0) return;
  std::string reply = answer(std::string(buf, static_cast<size_t>(n)));
  (void)!send(client.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
}

Result<std::string> ask_server(uint32_t dev_id, const std::string& request, int timeout_ms) {
  std::string path = socket_path(dev_id);
  auto a = address(path);
  if (!a) return Error{a.error()};
  UniqueFd fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) return Error{std::string("socket: ") + std::strerror(errno)};
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&*a), sizeof *a) != 0) {
    int e = errno;
    if (e == ENOENT || e == ECONNREFUSED)
      return Error{"no lunkit process serves ublkb" + std::to_string(dev_id) + " (" + path + ": " +
                   std::strerror(e) + ")"};
    return Error{path + ": " + std::strerror(e)};
  }
  if (send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0)
    return Error{path + ": " + std::strerror(errno)};
  if (!readable(fd.get(), timeout_ms))
    return Error{"the server of ublkb" + std::to_string(dev_id) + " did not answer '" + request +
                 "' within " + std::to_string(timeout_ms / 1000) + " s"};
  char buf[kMaxMessage];
  ssize_t n = recv(fd.get(), buf, sizeof buf, 0);
  if (n < 0) return Error{path + ": " + std::strerror(errno)};
  if (n == 0)
    return Error{"the server of ublkb" + std::to_string(dev_id) + " closed the connection"};
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace lunkit::ublk
