# sonde — build, test, fuzz, bench.
#   make            build ./sonde
#   make test       unit tests (plain and ASan+UBSan), corpus tests, fuzz smoke
#   make fuzz       libFuzzer targets (clang)
#   make test-kernels  sonde on Debian's 5.10/6.1/6.12 kernels under QEMU
#                   and on this kernel (tests/kernels/run)
#   make sonde-arm64   build-arm64/sonde, cross-built for arm64 (Debian's
#                   arm64 libraries and kernel BTF: scripts/arm64-sysroot)
#   make test-arm64    it, with Go TLS programs, on Debian's arm64 kernel
#                   under qemu-system-aarch64 (tests/kernels/arm64-go-tls)
#   make install    sonde, its man page, bash and zsh completion and docs
#                   under $(DESTDIR)$(PREFIX) (default /usr/local);
#                   make uninstall removes them
CC ?= cc
CFLAGS ?= -O2 -g
# ./sonde is optimised across files (the hot path crosses the pipeline's
# seams: sources, table, dissectors, stages, renderers). Objects carry their
# ordinary code too (fat), so the tests link without LTO; sanitizer and fuzz
# builds leave it out.
LTO ?= -flto=auto -ffat-lto-objects
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers
CPPFLAGS += -D_GNU_SOURCE -std=gnu11 -Isrc $(SYS_CPPFLAGS)
# Each object records the headers it included (-MMD); a changed header
# rebuilds exactly what uses it, and a deleted one breaks nothing (-MP).
DEPFLAGS := -MMD -MP
LDLIBS := -lxdp -lbpf -lelf -ldw -lcapstone -lz -lzstd -lnghttp2 -lpcap -lcrypto -lsqlite3 -lyaml -lcurl -ljson-c -lpthread

BUILD := build
# Every .c under src/ is part of the library except the command line's.
SRC := $(sort $(shell find src -name '*.c' -not -path 'src/cli/*'))
CLI := $(sort $(wildcard src/cli/*.c))
OBJ := $(SRC:%.c=$(BUILD)/%.o)
CLI_OBJ := $(CLI:%.c=$(BUILD)/%.o)

.DELETE_ON_ERROR:
.PHONY: all clean install uninstall test test-fresh unit test-unit test-asan fuzz fuzz-smoke fuzz-campaign corpus bench test-kernels sonde-arm64 test-arm64
all: sonde

# ---- kernel programs -------------------------------------------------------
# One CO-RE object, typed against this machine's kernel BTF, embedded in the
# binary through a bpftool skeleton. Generated files live in build/bpf for
# every build tree (plain, asan, fuzz); the arm64 build has its own
# (BPF_ARCH=arm64, typed against Debian's arm64 kernel BTF).
BPF_OUT ?= build/bpf
BPF_ARCH ?= x86
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(BPF_ARCH) -Wall -Werror -Wno-gnu-variable-sized-type-not-at-end
$(BPF_OUT)/vmlinux.h:
	@mkdir -p $(BPF_OUT)
	bpftool btf dump file $(VMLINUX_BTF) format c > $@.tmp && mv $@.tmp $@
$(BPF_OUT)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h bpf/*/*.h) $(BPF_OUT)/vmlinux.h
	clang $(BPF_CFLAGS) -I$(BPF_OUT) -Ibpf -c $< -o $@
.SECONDARY: $(BPF_OUT)/capture.bpf.o
$(BPF_OUT)/%.skel.h: $(BPF_OUT)/%.bpf.o
	bpftool gen skeleton $< name sonde_$* > $@.tmp && mv $@.tmp $@
EBPF_OBJ := $(filter $(BUILD)/src/source/ebpf/%,$(OBJ))
$(EBPF_OBJ): $(BPF_OUT)/capture.skel.h
$(EBPF_OBJ): CPPFLAGS += -I$(BPF_OUT) -Ibpf
# The TC packet source has its own small object (bpf/tc.bpf.c).
.SECONDARY: $(BPF_OUT)/tc.bpf.o
$(BUILD)/src/source/packet/tc.o: $(BPF_OUT)/tc.skel.h
$(BUILD)/src/source/packet/tc.o: CPPFLAGS += -I$(BPF_OUT) -Ibpf
# So does the cgroup_skb source (bpf/cgroup_skb.bpf.c).
.SECONDARY: $(BPF_OUT)/cgroup_skb.bpf.o
$(BUILD)/src/source/packet/cgroup_skb.o: $(BPF_OUT)/cgroup_skb.skel.h
$(BUILD)/src/source/packet/cgroup_skb.o: CPPFLAGS += -I$(BPF_OUT) -Ibpf
# And the AF_XDP source (bpf/af_xdp.bpf.c), with libxdp's XSK rings.
.SECONDARY: $(BPF_OUT)/af_xdp.bpf.o
$(BUILD)/src/source/packet/af_xdp.o: $(BPF_OUT)/af_xdp.skel.h
$(BUILD)/src/source/packet/af_xdp.o: CPPFLAGS += -I$(BPF_OUT) -Ibpf
# Unit tests of the eBPF source's internals see the shared header too, as
# do the capture targets (struct sonde_target is the kernel's map value).
$(BUILD)/tests/test_ebpf_%: CPPFLAGS += -Ibpf
$(BUILD)/src/enrich/%.o $(BUILD)/tests/test_targets: CPPFLAGS += -Ibpf
$(BUILD)/src/cli/cmd_capture.o $(BUILD)/src/cli/capture_args.o: CPPFLAGS += -Ibpf
build-fuzz/fuzz_cri build-fuzz/fuzz_targets build-fuzz/fuzz_ebpf: CPPFLAGS += -Ibpf

# The version, once: `git describe` of this tree, or the fallback in
# src/cli/cli.h outside git. main.o is rebuilt when it changes.
SONDE_VERSION := $(shell git describe --tags --always --dirty 2>/dev/null)
ifneq ($(SONDE_VERSION),)
$(BUILD)/src/cli/main.o: CPPFLAGS += -DSONDE_VERSION='"$(SONDE_VERSION)"'
$(BUILD)/src/cli/main.o: $(BUILD)/version.stamp
$(BUILD)/version.stamp: FORCE
	@mkdir -p $(BUILD)
	@echo '$(SONDE_VERSION)' | cmp -s - $@ || echo '$(SONDE_VERSION)' > $@
endif

sonde: $(OBJ) $(CLI_OBJ)
	$(CC) $(CFLAGS) $(LTO) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- arm64 (cross) -----------------------------------------------------------
# Debian's gcc-aarch64-linux-gnu (its own arm64 glibc), the arm64 -dev
# packages unpacked into a sysroot, and the BPF object built for arm64
# against the BTF of Debian's arm64 kernel: all of it from
# scripts/arm64-sysroot, which leaves the system's apt alone.
ARM64 := build-arm64
ARM64_CC ?= aarch64-linux-gnu-gcc
ARM64_LIB := $(CURDIR)/$(ARM64)/sysroot/usr/lib/aarch64-linux-gnu
$(ARM64)/kernel/.done: scripts/arm64-sysroot
	scripts/arm64-sysroot $(ARM64)
	touch $@
sonde-arm64: $(ARM64)/kernel/.done
	+$(MAKE) --no-print-directory BUILD=$(ARM64) BPF_OUT=$(ARM64)/bpf BPF_ARCH=arm64 \
		VMLINUX_BTF=$(ARM64)/kernel/vmlinux.btf CC=$(ARM64_CC) \
		SYS_CPPFLAGS="-I$(CURDIR)/$(ARM64)/sysroot/usr/include -I$(CURDIR)/$(ARM64)/sysroot/usr/include/aarch64-linux-gnu" \
		LDFLAGS="-L$(ARM64_LIB) -Wl,-rpath-link,$(ARM64_LIB):$(CURDIR)/$(ARM64)/sysroot/lib/aarch64-linux-gnu" $(ARM64)/sonde
$(ARM64)/sonde: $(OBJ) $(CLI_OBJ)
	$(CC) $(CFLAGS) $(LTO) $(LDFLAGS) -o $@ $^ $(LDLIBS)
test-arm64:
	tests/kernels/arm64-go-tls

# README's two commands in a fresh Debian 12 root (debootstrap, cached).
test-fresh:
	scripts/fresh-check

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DEPFLAGS) $(CFLAGS) $(LTO) $(WARN) -c -o $@ $<
-include $(OBJ:.o=.d) $(CLI_OBJ:.o=.d)

$(BUILD)/libsonde.a: $(OBJ)
	rm -f $@ && ar rcs $@ $^

# ---- tests -------------------------------------------------------------
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/testutil.h $(BUILD)/libsonde.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(DEPFLAGS) $(CFLAGS) $(WARN) -o $@ $< $(BUILD)/libsonde.a -lcmocka $(LDLIBS)
-include $(UNIT_BIN:=.d)
# The TLS stage's test makes its TLS sessions with libssl, in process.
$(BUILD)/tests/test_tls_keylog: LDLIBS += -lssl

unit: $(UNIT_BIN)
# The filter's SQL is run on a real SQLite (Debian's libsqlite3).
$(BUILD)/tests/test_filter_sql: LDLIBS += -lsqlite3

# ASan+UBSan builds live in their own tree.
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
test-asan:
	$(MAKE) --no-print-directory BUILD=build-asan CFLAGS="$(ASAN_FLAGS)" LDFLAGS="$(ASAN_FLAGS)" LTO= unit sonde-asan

sonde-asan: $(OBJ) $(CLI_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $(BUILD)/sonde $^ $(LDLIBS)

# ---- fuzzing -------------------------------------------------------------
# The library is built once per `make fuzz`, by one sub-make with its own
# flags and tree (never two at once under -j), and every target relinks when
# the library, its own source or the shared fuzz header changes.
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_LINK_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
.PHONY: FORCE
FORCE:
ifneq ($(BUILD),build-fuzz)
build-fuzz/libsonde.a: FORCE
	+$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang CFLAGS="$(FUZZ_FLAGS)" LDFLAGS= LTO= build-fuzz/libsonde.a
endif
build-fuzz/fuzz_%: fuzz/fuzz_%.c $(wildcard fuzz/*.h) build-fuzz/libsonde.a
	clang $(CPPFLAGS) $(FUZZ_LINK_FLAGS) $(WARN) -o $@ $< build-fuzz/libsonde.a $(LDLIBS)
fuzz: $(FUZZ_BIN)
fuzz-smoke:
	tests/fuzz-smoke
# Every target until 10 million runs each (FUZZ_RUNS, FUZZ_MAX_SECONDS,
# FUZZ_JOBS); what adds coverage is merged into fuzz/corpus/.
fuzz-campaign:
	scripts/fuzz-campaign

# ---- benchmarks -----------------------------------------------------------
# Not tests: bench/run builds these, generates a capture and times sonde
# against tshark.
BENCH_FLAGS := -O2 -g
bench: sonde build/bench/gen_http_pcap build/bench/parser_bench
build/bench/gen_http_pcap: bench/gen_http_pcap.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(BENCH_FLAGS) $(WARN) -o $@ $< -lm
build/bench/parser_bench: bench/parser_bench.c build/libsonde.a
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(BENCH_FLAGS) $(WARN) -o $@ $< build/libsonde.a $(LDLIBS) -lm

test: sonde
	tests/run

# ---- kernel matrix ---------------------------------------------------------
# The same ./sonde on several kernels booted under QEMU; kahttp is a static
# keep-alive HTTP server and client for the guests.
build/kernels/kahttp: tests/kernels/kahttp.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O2 $(WARN) -static -o $@ $<
# katls: kahttp over TLS, OpenSSL linked in statically and not stripped (sonde
# finds SSL_read/SSL_write in its .symtab).
build/kernels/katls: tests/kernels/katls.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -O2 $(WARN) -static -o $@ $< -l:libssl.a -l:libcrypto.a -lpthread
# kabare: bare probes on sonde's kernel-function hooks (bench/kernel_overhead).
.SECONDARY: $(BPF_OUT)/bare_probes.bpf.o
build/kernels/kabare: tests/kernels/kabare.c $(BPF_OUT)/bare_probes.skel.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -I$(BPF_OUT) -O2 $(WARN) -o $@ $< -lbpf -lelf -lz
test-kernels: sonde build/kernels/kahttp
	tests/kernels/run

# ---- install -----------------------------------------------------------------
# The layout Debian uses (debian/rules installs with PREFIX=/usr). Completion
# goes where bash-completion and zsh look: bash-completion under each of
# XDG_DATA_DIRS (/usr/local/share:/usr/share), zsh in vendor-completions for
# packages and site-functions for the local admin's (/usr/local). The man
# page is given this install's docdir, where it says records.md is.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/sonde
BASH_COMPLETION_DIR ?= $(PREFIX)/share/bash-completion/completions
ZSH_COMPLETION_DIR ?= $(PREFIX)/share/zsh/$(if $(filter /usr,$(PREFIX)),vendor-completions,site-functions)
DOCS := README.md docs/records.md docs/filter.md docs/store.md docs/ARCHITECTURE.md docs/security.md docs/deploy.md
install: sonde
	install -D -m 0755 sonde $(DESTDIR)$(BINDIR)/sonde
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DOCDIR)
	sed 's|/usr/share/doc/sonde|$(DOCDIR)|g' man/sonde.1 > $(DESTDIR)$(MANDIR)/man1/sonde.1
	chmod 0644 $(DESTDIR)$(MANDIR)/man1/sonde.1
	install -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	install -D -m 0644 completion/sonde.bash $(DESTDIR)$(BASH_COMPLETION_DIR)/sonde
	install -D -m 0644 completion/_sonde $(DESTDIR)$(ZSH_COMPLETION_DIR)/_sonde
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sonde $(DESTDIR)$(MANDIR)/man1/sonde.1 \
		$(DESTDIR)$(BASH_COMPLETION_DIR)/sonde $(DESTDIR)$(ZSH_COMPLETION_DIR)/_sonde \
		$(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOCS)))
	-rmdir $(DESTDIR)$(DOCDIR)

clean:
	rm -rf $(BUILD) build-asan build-fuzz build-arm64 sonde
