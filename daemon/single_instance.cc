#include "daemon/single_instance.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace lunkit::daemon {
namespace {

// The pid holding a POSIX write lock on `path`, or 0.
pid_t lock_holder(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return 0;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd.get(), F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) return fl.l_pid;
  return 0;
}

// Opens (creating it and its directory) and write-locks the whole of `path`; errno on failure.
UniqueFd lock_file(const std::string& path, mode_t mode) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, mode));
  if (!fd) return fd;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd.get(), F_SETLK, &fl) != 0) {
    int e = errno;
    fd.reset();
    errno = e;
  }
  return fd;
}

bool held_by_another(int e) {
  return e == EAGAIN || e == EACCES;
}

}  // namespace

Result<InstanceLock> take_instance_lock(const std::string& path,
                                        const std::string& tcmu_runner_lock) {
  InstanceLock lock;
  // Ours first: a running lunkitd holds both, and is then named as what is running.
  lock.lunkitd = lock_file(path, 0644);
  if (!lock.lunkitd) {
    if (!held_by_another(errno)) return Error{path + ": " + std::strerror(errno)};
    pid_t pid = lock_holder(path);
    return Error{"another lunkitd" + (pid ? " (pid " + std::to_string(pid) + ")" : std::string()) +
                 " is running: it holds " + path};
  }
  // tcmu-runner creat()s its lock file with mode 0600 and takes the same kind of lock.
  lock.tcmu_runner = lock_file(tcmu_runner_lock, 0600);
  if (!lock.tcmu_runner) {
    if (!held_by_another(errno)) return Error{tcmu_runner_lock + ": " + std::strerror(errno)};
    pid_t pid = lock_holder(tcmu_runner_lock);
    return Error{"tcmu-runner" + (pid ? " (pid " + std::to_string(pid) + ")" : std::string()) +
                 " holds " + tcmu_runner_lock +
                 "; stop it first: only one TCMU daemon can serve the kernel"};
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(lock.lunkitd.get(), 0) != 0 ||
      write(lock.lunkitd.get(), pid.data(), pid.size()) < 0) {
    // The pid in the file is informational; the lock is what counts.
  }
  return lock;
}

}  // namespace lunkit::daemon
