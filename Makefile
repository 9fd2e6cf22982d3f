# petrel: top-level build. Everything generated lands in $(BUILD); `V=1` shows commands.
BUILD   ?= build
PREFIX  ?= /usr/local
CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
ARCH    := $(shell uname -m | sed 's/x86_64/x86/; s/aarch64/arm64/')

PKGS    := libbpf libnl-3.0 libnl-route-3.0 libnftables sqlite3 jansson libmicrohttpd libcurl openssl libnetfilter_queue libnetfilter_conntrack libzstd yaml-0.1 libarchive
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation \
           -MMD -MP -D_GNU_SOURCE \
           -I$(BUILD)/include -I. -Ilib -Iagent \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lelf -lz -lpthread
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -I$(BUILD)/include -Ibpf
# Extra defines for the BPF programs; only bench/ioam-parts.sh sets them, in a build of its own.
BPF_EXTRA ?=
BPF_CFLAGS += $(BPF_EXTRA)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

LIB_SRCS   := $(wildcard lib/*.c)
AGENT_SRCS := $(wildcard agent/*.c agent/migrate/*.c)
CLI_SRCS   := $(wildcard cli/*.c)
CNI_SRCS   := $(wildcard cni/*.c)
BPF_SRCS   := $(wildcard bpf/*.bpf.c)
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
BPFT_SRCS  := $(wildcard tests/bpf/test_*.c)
FUZZ_SRCS  := $(wildcard tests/fuzz/fuzz_*.c)
BENCH_SRCS := $(wildcard bench/tools/*.c)

LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/%.o)
# agent objects except the programs' mains form a library so BPF tests can reuse the loader.
AGENT_OBJS := $(AGENT_SRCS:%.c=$(BUILD)/%.o)
AGENT_LIB_OBJS := $(filter-out $(BUILD)/agent/main.o $(BUILD)/agent/criu_hook.o,$(AGENT_OBJS))
CLI_OBJS   := $(CLI_SRCS:%.c=$(BUILD)/%.o)
CNI_OBJS   := $(CNI_SRCS:%.c=$(BUILD)/%.o)
SKELS      := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/include/%.skel.h)
BPF_OBJS   := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.o)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
BPFT_BINS  := $(BPFT_SRCS:tests/bpf/%.c=$(BUILD)/tests/%)
BENCH_BINS := $(BENCH_SRCS:bench/tools/%.c=$(BUILD)/bench/%)

BINS := $(BUILD)/bin/petrel $(BUILD)/bin/petreld $(BUILD)/bin/petrel-criu-hook \
        $(if $(CNI_SRCS),$(BUILD)/bin/petrel-cni)

.PHONY: all deps demo test check unit bpftest install clean fuzz bench
TOOL_BINS  := $(patsubst tools/%.c,$(BUILD)/tools/%,$(wildcard tools/*.c))
all: $(BINS) $(UNIT_BINS) $(BPFT_BINS) $(TOOL_BINS) $(BENCH_BINS)

# Small static programs that tests and benchmarks copy into container images.
$(BUILD)/tools/%: tools/%.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) -O2 -Wall -static -o $@ $<

$(BUILD)/include/vmlinux.h:
	@mkdir -p $(@D)
	$(call msg,GEN,$@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BUILD)/include/vmlinux.h
	@mkdir -p $(@D)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/include/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

# Every C object may include a skeleton; generate them all first.
$(BUILD)/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libpetrel.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(BUILD)/libpetrel-agent.a: $(AGENT_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(BUILD)/bin/petreld: $(BUILD)/agent/main.o $(BUILD)/libpetrel-agent.a $(BUILD)/libpetrel.a
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# CRIU's action script during a migration's dump (agent/criu_hook.c): no libraries, so
# that it starts fast.
$(BUILD)/bin/petrel-criu-hook: $(BUILD)/agent/criu_hook.o
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/bin/petrel: $(CLI_OBJS) $(BUILD)/libpetrel.a
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/petrel-cni: $(CNI_OBJS) $(BUILD)/libpetrel.a
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libpetrel.a
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/bpf/%.o $(BUILD)/libpetrel-agent.a $(BUILD)/libpetrel.a
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Benchmark tools that drive the BPF programs directly (BPF_PROG_RUN).
$(BUILD)/bench/%: $(BUILD)/bench/tools/%.o $(BUILD)/libpetrel-agent.a $(BUILD)/libpetrel.a
	@mkdir -p $(@D)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# libFuzzer harnesses: clang -fsanitize=fuzzer, built on demand.
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=$(BUILD)/fuzz/%)
$(BUILD)/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) | $(SKELS)
	@mkdir -p $(@D)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -I. -Ilib -I$(BUILD)/include \
		$(shell pkg-config --cflags $(PKGS)) -o $@ $< $(LIB_SRCS) $(LDLIBS)
fuzz: $(FUZZ_BINS)

deps:
	$(Q)scripts/install-deps.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/demo.sh

test: deps
	$(Q)$(MAKE) --no-print-directory all fuzz
	$(Q)tests/run.sh

# Manual pages and the bash completion, made by the programs themselves from their --help
# text and command table (so they never drift); petreld.conf(5) from the example config.
MAN_PAGES := $(BUILD)/man/petrel.8 $(BUILD)/man/petreld.8 $(BUILD)/man/petrel-cni.8 \
             $(BUILD)/man/petreld.conf.5
$(BUILD)/man/%.8: $(BUILD)/bin/%
	@mkdir -p $(@D)
	$(call msg,MAN,$@)
	$(Q)$< --man > $@.tmp && mv $@.tmp $@
$(BUILD)/man/petreld.conf.5: etc/petreld.conf
	@mkdir -p $(@D)
	$(call msg,MAN,$@)
	$(Q){ printf '.TH PETRELD.CONF 5 "" petrel "petrel manual"\n.SH NAME\npetreld.conf \\- the petrel node agent'"'"'s settings\n.SH DESCRIPTION\n.nf\n'; \
	      sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/" $<; printf '.fi\n.SH SEE ALSO\npetreld(8)\n'; } > $@
$(BUILD)/petrel.bash: $(BUILD)/bin/petrel
	$(call msg,GEN,$@)
	$(Q)$< --completion bash > $@.tmp && mv $@.tmp $@

# A real host: the agent and its CRIU hook in sbin (the hook must sit next to petreld),
# the CLI in bin, the CNI plugin where CNI runtimes look, the unit, a config example, the
# manual pages and the completion. DESTDIR stages it elsewhere.
SBINDIR := $(PREFIX)/sbin
install: $(BINS) $(MAN_PAGES) $(BUILD)/petrel.bash
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SBINDIR) $(DESTDIR)/opt/cni/bin \
		$(DESTDIR)/usr/lib/cni $(DESTDIR)/etc/petrel $(DESTDIR)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/man/man5 \
		$(DESTDIR)/usr/share/bash-completion/completions
	install -m 0755 $(BUILD)/bin/petrel $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(BUILD)/bin/petreld $(BUILD)/bin/petrel-criu-hook $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(BUILD)/bin/petrel-cni $(DESTDIR)/opt/cni/bin/
	install -m 0755 $(BUILD)/bin/petrel-cni $(DESTDIR)/usr/lib/cni/
	install -m 0644 etc/petreld.conf $(DESTDIR)/etc/petrel/petreld.conf.example
	sed 's|@SBINDIR@|$(SBINDIR)|' etc/petreld.service > $(DESTDIR)/lib/systemd/system/petreld.service
	install -m 0644 $(BUILD)/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 $(BUILD)/man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 $(BUILD)/petrel.bash $(DESTDIR)/usr/share/bash-completion/completions/petrel

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
