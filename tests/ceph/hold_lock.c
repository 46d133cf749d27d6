/* Holds an RBD image's exclusive lock the way "rbd device map --exclusive" does: acquired
 * explicitly, so librbd refuses to hand it over. Prints "locked" once it has it and lets go
 * cleanly on SIGTERM or SIGINT. Usage: hold_lock CONF POOL IMAGE */
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: hold_lock CONF POOL IMAGE\n");
    return 2;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, NULL);
  /* A test that lost track of it must not leave it behind, holding the lock or waiting on a
   * cluster that is gone: SIGALRM ends it whatever it is doing. */
  alarm(120);
  rados_t cluster;
  rados_ioctx_t io;
  rbd_image_t image;
  int r = rados_create(&cluster, NULL);
  if (r == 0) r = rados_conf_read_file(cluster, argv[1]);
  if (r == 0) r = rados_connect(cluster);
  if (r == 0) r = rados_ioctx_create(cluster, argv[2], &io);
  if (r == 0) r = rbd_open(io, argv[3], &image, NULL);
  if (r == 0) r = rbd_lock_acquire(image, RBD_LOCK_MODE_EXCLUSIVE);
  if (r < 0) {
    fprintf(stderr, "hold_lock: %s\n", strerror(-r));
    return 1;
  }
  printf("locked\n");
  fflush(stdout);
  int sig;
  sigwait(&set, &sig);
  rbd_lock_release(image);
  rbd_close(image);
  rados_ioctx_destroy(io);
  rados_shutdown(cluster);
  return 0;
}
