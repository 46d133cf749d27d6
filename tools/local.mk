noinst_PROGRAMS += tools/scsi-demo
tools_scsi_demo_SOURCES = tools/scsi_demo.cc
tools_scsi_demo_LDADD = libscsi/liblunkit-scsi.la
EXTRA_DIST += tools/install-deps.sh tools/test.sh tools/bench.sh tools/demo.sh
