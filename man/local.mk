man1_MANS = man/lunkit.1
man8_MANS = man/lunkitd.8
man5_MANS = man/lunkit.conf.5
man3_MANS = man/lunkit-handler.3 man/lunkit-tcmu.3 man/lunkit-scsi.3
man7_MANS = man/lunkit-handler-file.7 man/lunkit-handler-ram.7 man/lunkit-handler-null.7 \
	man/lunkit-handler-rbd.7
EXTRA_DIST += $(man1_MANS) $(man8_MANS) $(man5_MANS) $(man3_MANS) $(man7_MANS)

# The example in lunkit-handler(3) is compiled and loaded by the tests, so it stays true.
man/example_handler.c: $(srcdir)/man/lunkit-handler.3
	@mkdir -p man
	$(AM_V_GEN)sed -n '/^\.\\" example-begin/,/^\.\\" example-end/p' $< | sed '1d;$$d' | \
	  sed 's/\\\\/\\/g' > $@
check_LTLIBRARIES += man/example_handler.la
nodist_man_example_handler_la_SOURCES = man/example_handler.c
man_example_handler_la_LDFLAGS = $(AM_LDFLAGS) -module -avoid-version -shared -rpath /nowhere
CLEANFILES += man/example_handler.c
