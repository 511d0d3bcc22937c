# Builds everything that is not the nginx module (build.sh builds that with
# nginx's own build system): the shared library objects, reconsvc, and the
# C unit tests. `make SAN=1` builds the same into build/asan with
# AddressSanitizer and UndefinedBehaviorSanitizer.

CC      ?= cc
CFLAGS  ?= -O2 -g
# CPPFLAGS, CFLAGS and LDFLAGS come from the environment (e.g. Debian's
# `dpkg-buildflags --export=sh`); our warnings are appended after them.
CPPFLAGS ?=
LDFLAGS ?=
WARN    := -Wall -Wextra -Werror -std=gnu11
LIBS    := -llmdb -lgmp -lpcre2-8 -lcrypto -lpthread
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/sbin
NGX_MODDIR ?= /usr/lib/nginx/modules

ifeq ($(SAN),1)
B       := build/asan
CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
B       := build
endif

SHARED_SRCS := $(wildcard shared/*.c)
SHARED_HDRS := $(wildcard shared/*.h)
SHARED_OBJS := $(patsubst shared/%.c,$(B)/obj/shared/%.o,$(SHARED_SRCS))
RECON_SRCS  := $(wildcard reconsvc/*.c)
RECON_HDRS  := $(wildcard reconsvc/*.h)
RECON_OBJS  := $(patsubst reconsvc/%.c,$(B)/obj/reconsvc/%.o,$(RECON_SRCS))
# reconsvc without main(), as an archive for the test_recon_* unit tests
RECON_LIB   := $(B)/obj/reconsvc.a
UNIT_SRCS   := $(wildcard t/unit/*.c)
UNIT_BINS   := $(patsubst t/unit/%.c,$(B)/t/%,$(UNIT_SRCS))

# Fuzz harnesses (fuzz/): each also builds with $(CC) as a replay of its
# seed corpus (fuzz/replay.c), run by t/10-unit.t like the unit tests.
FUZZ_TARGETS := keys armor form hashquery recon_msg json ed25519
FUZZ_REPLAY  := $(patsubst %,$(B)/t/fuzz_%,$(FUZZ_TARGETS))

all: $(B)/reconsvc $(UNIT_BINS) $(FUZZ_REPLAY) $(B)/mkcorpus $(B)/synth-keys

$(B)/obj/shared/%.o: shared/%.c $(SHARED_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Ishared -c -o $@ $<

$(B)/obj/reconsvc/%.o: reconsvc/%.c $(SHARED_HDRS) $(RECON_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Ishared -Ireconsvc -c -o $@ $<

$(B)/reconsvc: $(RECON_OBJS) $(SHARED_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/t/%: t/unit/%.c $(SHARED_OBJS) $(wildcard t/unit/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Ishared -It/unit -o $@ $< $(SHARED_OBJS) $(LDFLAGS) $(LIBS)

$(RECON_LIB): $(filter-out $(B)/obj/reconsvc/main.o,$(RECON_OBJS))
	rm -f $@
	ar rcs $@ $^

$(B)/t/test_recon_%: t/unit/test_recon_%.c $(RECON_LIB) $(SHARED_OBJS) $(RECON_HDRS) $(wildcard t/unit/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Ishared -Ireconsvc -It/unit -o $@ $< $(RECON_LIB) $(SHARED_OBJS) $(LDFLAGS) $(LIBS)

# reconsvc to $(DESTDIR)$(BINDIR); the nginx module, if ./build.sh built it,
# to $(DESTDIR)$(NGX_MODDIR) where Debian's nginx loads modules from.
install: $(B)/reconsvc
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(B)/reconsvc $(DESTDIR)$(BINDIR)/reconsvc
	if [ -f build/ngx_hkp_module.so ]; then \
		install -d $(DESTDIR)$(NGX_MODDIR); \
		install -m 0644 build/ngx_hkp_module.so $(DESTDIR)$(NGX_MODDIR)/ngx_hkp_module.so; \
	fi

$(FUZZ_REPLAY): $(B)/t/fuzz_%: fuzz/fuzz_%.c fuzz/replay.c fuzz/fuzz.h $(RECON_LIB) $(SHARED_OBJS) $(SHARED_HDRS) $(RECON_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -DFUZZ_TARGET='"$*"' -Ishared -Ireconsvc -Ifuzz -o $@ fuzz/fuzz_$*.c fuzz/replay.c $(RECON_LIB) $(SHARED_OBJS) $(LDFLAGS) $(LIBS)

# The benchmark key generator (bench/synth-keys.c, the C twin of
# bench/synth-keys.py, on every core).
$(B)/synth-keys: bench/synth-keys.c
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -o $@ $< $(LDFLAGS) -lcrypto -lpthread

# Writes the seed corpora (fuzz/mkcorpus.c).
$(B)/mkcorpus: fuzz/mkcorpus.c $(RECON_LIB) $(SHARED_OBJS) $(SHARED_HDRS) $(RECON_HDRS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -Ishared -Ireconsvc -o $@ $< $(RECON_LIB) $(SHARED_OBJS) $(LDFLAGS) $(LIBS)

# `make fuzz`: the libFuzzer binaries (clang, ASan+UBSan) in build/fuzz/bin.
FUZZ_CC     ?= clang
FUZZ_B      := build/fuzz
FUZZ_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJS   := $(patsubst shared/%.c,$(FUZZ_B)/obj/shared/%.o,$(SHARED_SRCS)) $(FUZZ_B)/obj/reconsvc/msg.o $(FUZZ_B)/obj/reconsvc/buf.o $(FUZZ_B)/obj/reconsvc/msg_config.o

$(FUZZ_B)/obj/%.o: %.c $(SHARED_HDRS) $(RECON_HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(WARN) -Ishared -Ireconsvc -c -o $@ $<

$(FUZZ_B)/bin/%: fuzz/fuzz_%.c fuzz/fuzz.h $(FUZZ_OBJS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(WARN) -Ishared -Ireconsvc -Ifuzz -o $@ $< $(FUZZ_OBJS) $(LIBS)

fuzz: $(patsubst %,$(FUZZ_B)/bin/%,$(FUZZ_TARGETS))

clean:
	rm -rf build/obj build/asan build/t build/reconsvc build/fuzz build/synth-keys

.PHONY: all clean install fuzz
