# The ublk frontend: the same handler plugins served as a plain block device (/dev/ublkbN).
noinst_LTLIBRARIES += ublk/liblunkit-ublk.la
ublk_liblunkit_ublk_la_SOURCES = \
	ublk/cli.cc \
	ublk/cli.h \
	ublk/control.cc \
	ublk/command_socket.cc \
	ublk/command_socket.h \
	ublk/control.h \
	ublk/features.cc \
	ublk/features.h \
	ublk/params.cc \
	ublk/params.h \
	ublk/queue.cc \
	ublk/queue.h \
	ublk/record.cc \
	ublk/record.h \
	ublk/server.cc \
	ublk/server.h \
	ublk/uapi.h
UBLK_CPPFLAGS = $(AM_CPPFLAGS) $(URING_CFLAGS) $(SPDLOG_CFLAGS) $(NL_CFLAGS) $(NLGENL_CFLAGS) \
	-DLUNKIT_HANDLER_DIR='"$(pkglibdir)"' -DLUNKIT_SYSCONF_DIR='"$(sysconfdir)/lunkit"'
ublk_liblunkit_ublk_la_CPPFLAGS = $(UBLK_CPPFLAGS)
UBLK_LIBS = ublk/liblunkit-ublk.la handlers/libhandler-host.la libscsi/libscsi-core.la \
	$(URING_LIBS) $(SPDLOG_LIBS)

# lunkit, the command-line tool (`lunkit ublk ...`).
bin_PROGRAMS = cli/lunkit
cli_lunkit_SOURCES = cli/lunkit.cc
cli_lunkit_CPPFLAGS = $(UBLK_CPPFLAGS)
# lunkit.conf is read with lunkitd's own parser (daemon/config.cc).
cli_lunkit_LDADD = ublk/liblunkit-ublk.la daemon/liblunkitd.la tcmu/libtcmu-core.la \
	handlers/libhandler-host.la libscsi/libscsi-core.la $(URING_LIBS) $(SPDLOG_LIBS) \
	$(CONFIGXX_LIBS) $(NLGENL_LIBS) $(NL_LIBS)
EXTRA_DIST += ublk/README.md
cli_lunkit_LDFLAGS = $(AM_LDFLAGS) $(HANDLER_ABI_EXPORT)
