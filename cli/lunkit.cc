// lunkit: the command-line tool. Today it has one command family, `lunkit ublk`; lunkitd is the
// daemon that serves TCMU devices.
#include <cstdio>
#include <cstring>

#include "ublk/cli.h"

int main(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "ublk") == 0)
    return lunkit::ublk::cli_main(argc - 1, argv + 1);
  if (argc >= 2 && (std::strcmp(argv[1], "--version") == 0 || std::strcmp(argv[1], "-V") == 0)) {
    std::printf("lunkit %s\n", PACKAGE_VERSION);
    return 0;
  }
  bool help = argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0);
  std::fprintf(help ? stdout : stderr,
               "Usage: lunkit ublk add|recover|list|del ...   (lunkit ublk --help)\n"
               "       lunkit --version\n");
  if (argc >= 2 && !help) std::fprintf(stderr, "lunkit: unknown command '%s'\n", argv[1]);
  return help ? 0 : 2;
}
