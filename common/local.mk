# Small header-only pieces shared by the transports (tcmu/, ublk/) and the daemon.
noinst_HEADERS += common/fd.h common/completion_stack.h common/transient_error.h
