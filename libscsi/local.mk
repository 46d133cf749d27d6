# libscsi: the transport-neutral SPC/SBC emulation library, installed as liblunkit-scsi.
lib_LTLIBRARIES += libscsi/liblunkit-scsi.la

libscsi_liblunkit_scsi_la_SOURCES = \
	libscsi/alua.cc \
	libscsi/alua.h \
	libscsi/basic.cc \
	libscsi/bytes.h \
	libscsi/chunks.cc \
	libscsi/compare_and_write.cc \
	libscsi/data_transfer.cc \
	libscsi/errors.cc \
	libscsi/handlers.h \
	libscsi/inquiry.cc \
	libscsi/iov.cc \
	libscsi/iov.h \
	libscsi/logical_unit.cc \
	libscsi/lu_state.h \
	libscsi/maintenance.cc \
	libscsi/mode.cc \
	libscsi/opcode_table.cc \
	libscsi/opcode_table.h \
	libscsi/provisioning.cc \
	libscsi/read_write.cc \
	libscsi/sense.cc \
	libscsi/write_barrier.cc \
	libscsi/xcopy.cc \
	libscsi/xcopy.h
libscsi_liblunkit_scsi_la_LDFLAGS = $(AM_LDFLAGS) -version-info 0:0:0

pkginclude_HEADERS += include/lunkit/block_device.h
lunkitscsi_HEADERS += \
	include/lunkit/scsi/alua.h \
	include/lunkit/scsi/command.h \
	include/lunkit/scsi/copy_target.h \
	include/lunkit/scsi/logical_unit.h \
	include/lunkit/scsi/sense.h
