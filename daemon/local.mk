# lunkitd, the daemon.
sbin_PROGRAMS = daemon/lunkitd
noinst_LTLIBRARIES += daemon/liblunkitd.la
daemon_liblunkitd_la_SOURCES = \
	daemon/config.cc daemon/config.h \
	daemon/copy_groups.cc daemon/copy_groups.h \
	daemon/dbus_service.cc daemon/dbus_service.h \
	daemon/logging.cc daemon/logging.h \
	daemon/single_instance.cc daemon/single_instance.h
DAEMON_CPPFLAGS = $(AM_CPPFLAGS) $(SPDLOG_CFLAGS) $(CONFIGXX_CFLAGS) $(SDBUSCPP_CFLAGS) \
	$(URING_CFLAGS) $(NL_CFLAGS) $(NLGENL_CFLAGS) \
	-DLUNKIT_HANDLER_DIR='"$(pkglibdir)"' -DLUNKIT_SYSCONF_DIR='"$(sysconfdir)/lunkit"'
daemon_liblunkitd_la_CPPFLAGS = $(DAEMON_CPPFLAGS)
DAEMON_LIBS = daemon/liblunkitd.la handlers/libhandler-host.la tcmu/libtcmu-core.la \
	libscsi/libscsi-core.la $(SPDLOG_LIBS) $(CONFIGXX_LIBS) $(SDBUSCPP_LIBS) $(URING_LIBS) \
	$(NLGENL_LIBS) $(NL_LIBS)
daemon_lunkitd_SOURCES = daemon/main.cc
daemon_lunkitd_CPPFLAGS = $(DAEMON_CPPFLAGS)
daemon_lunkitd_LDADD = $(DAEMON_LIBS)
daemon_lunkitd_LDFLAGS = $(AM_LDFLAGS) $(HANDLER_ABI_EXPORT)
