# netlens — see README.md.
#   make run    build and start the TUI
#   make test   install what the tests need, then run all of them

SHELL        := /bin/bash
export PATH  := $(PATH):/usr/local/go/bin
GO           ?= go
VERSION      ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN          := bin/netlens
LDFLAGS      := -s -w -X main.version=$(VERSION)
FUZZTIME     ?= 60s
GOTESTFLAGS  ?= -count=1

# Debian packages the tests use: peer tools as oracles (ss, nstat, conntrack,
# nft, tshark, tcpdump), tmux and sshd for end-to-end runs, traffic tools
# (netsniff-ng's trafgen: the live-capture sender of bench/whole/run.sh),
# chattr (e2fsprogs: an immutable state directory in the nft revert test),
# and ethtool (the oracle of the links collector's driver statistics).
TEST_PKGS := iproute2 tmux openssh-server openssh-client nftables conntrack \
	tshark tcpdump python3-scapy iputils-ping socat util-linux procps jq hyperfine bc time e2fsprogs \
	prometheus prometheus-node-exporter curl ethtool netsniff-ng

# Debian packages that build the eBPF objects of collectors/droptrace
# (make bpf): one pinned clang major, its llvm-strip, libbpf's headers,
# and bpftool (the drop tracer's tests use it as the oracle).
BPF_CLANG := clang-19
BPF_PKGS  := $(BPF_CLANG) llvm-19 libbpf-dev bpftool

.PHONY: all build run test test-deps vet unit kmod kmod-test test-summary bench lint fuzz clean bpf bpf-check

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

run: build
	./$(BIN)

# test-deps installs the missing test packages (needs root, as in CI).
test-deps:
	@missing=$$(for p in $(TEST_PKGS) $(BPF_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

vet:
	$(GO) vet ./...
	$(GO) vet -tags kmodvm ./collectors/droptrace
	# The static binary is copied to other machines: it must build for
	# arm64 and for 32-bit (a constant that overflows int fails here).
	GOARCH=arm64 $(GO) vet ./...
	GOARCH=386 $(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi

lint: vet

# SERIAL tests change machine-wide state (the global nf_conntrack_max) and
# run alone, after the others.
SERIAL := TestIntegrationTableFull

# Test results: `go test -json` of each run and the console of each VM
# suite go to TESTOUT; internal/testsum counts passes, failures and skips
# and fails on any skip not on SKIP_ALLOW (a commented list, empty in this
# repository: CI runs as root with every capability).
TESTOUT      := bin/test
SKIP_ALLOW   ?= .ci/skip-allow
TESTSUM      := bin/testsum

$(TESTSUM): internal/testsum/main.go
	$(GO) build -o $@ ./internal/testsum

# unit runs every Go test: unit tests, fuzz seed corpora, and, as root, the
# privileged integration and end-to-end tests (each in its own netns).
unit: build $(TESTSUM)
	@rm -rf $(TESTOUT) && mkdir -p $(TESTOUT)
	set -o pipefail; CGO_ENABLED=1 $(GO) test -json $(GOTESTFLAGS) -race -skip '^($(SERIAL))$$' ./... | \
		$(TESTSUM) -stream -save $(TESTOUT)/unit.json -allow $(SKIP_ALLOW)
	set -o pipefail; CGO_ENABLED=1 $(GO) test -json $(GOTESTFLAGS) -race -run '^($(SERIAL))$$' ./... | \
		$(TESTSUM) -stream -save $(TESTOUT)/serial.json -allow $(SKIP_ALLOW)

# kmod-test builds netlens.ko warning-free (W=1, and sparse with C=2) and
# runs its suite in Debian's own kernel under qemu (TCG), then the filter
# backend against the real module, the drop-monitor tests, the drop
# tracer's portable incident test and its kmod rule attribution test
# (netlens.ko loaded; -tags kmodvm) and the IPsec collector's ESP tunnel
# test in the same kind of VM (this machine's kernel has neither loadable
# modules, nor a drop monitor, nor ESP; the tracer is proven on a second
# kernel version there). Each suite's console goes to
# TESTOUT, where test-summary counts its results.
kmod-test:
	@mkdir -p $(TESTOUT)
	sh kernelmod/test/deps.sh
	TESTOUT=$(abspath $(TESTOUT)) bash kernelmod/test/run-qemu.sh
	TESTOUT=$(abspath $(TESTOUT)) bash control/filter/kmodbackend/vmcheck/run.sh
	TESTOUT=$(abspath $(TESTOUT)) bash collectors/dropmon/vmtest/run.sh
	TESTOUT=$(abspath $(TESTOUT)) bash collectors/droptrace/vmtest/run.sh
	TESTOUT=$(abspath $(TESTOUT)) bash collectors/xfrm/vmtest/run.sh

# test-summary prints the totals of every suite (Go and VM) and fails on
# any failure or skip not on SKIP_ALLOW, or on a VM suite with no results.
test-summary: $(TESTSUM)
	$(TESTSUM) -allow $(SKIP_ALLOW) $(wildcard $(TESTOUT)/*.json) $(wildcard $(TESTOUT)/*.txt)

# bpf regenerates the BPF objects (bpfel and bpfeb, committed) of the drop
# tracer (collectors/droptrace/bpf/*.c) and of the socket owners' fd
# iterator (collectors/sockets/bpf/*.c) with bpf2go and $(BPF_CLANG).
bpf:
	$(GO) generate ./collectors/droptrace ./collectors/sockets

# bpf-check fails when the committed objects differ from what the source
# compiles to.
bpf-check: bpf
	@git diff --quiet -- collectors/droptrace collectors/sockets || { git diff --stat -- collectors/droptrace collectors/sockets; \
		echo "BPF objects differ from their source: run make bpf and commit"; exit 1; }

test: test-deps vet bpf-check unit kmod-test test-summary

kmod:
	$(MAKE) -C kernelmod

# bench runs every Go benchmark (parsers, decoders, the UI, and in the
# top-level package the TUI's CPU and screen bytes at 120x40, and the TUI
# at 100k sockets and flows) and the side-by-side runs against the peer
# tools, among them bench/whole: whole netlens processes against tcpdump,
# conntrack and ss with hyperfine -N. Needs root. Results and method:
# docs/performance.md.
bench: build test-deps
	$(GO) test -run '^$$' -bench . -benchmem ./...
	bash collectors/sockets/bench/run.sh
	bash collectors/drops/bench/run.sh
	bash collectors/drops/bench/process.sh
	bash collectors/conntrack/bench/run.sh
	bash collectors/capture/bench/run.sh
	bash collectors/netns/bench/run.sh
	bash collectors/links/bench/run.sh
	bash bench/whole/run.sh
	# Guest instructions, not host time: figures that do not move with the host's load (docs/kernelmod.md).
	QEMU_EXTRA="-icount shift=0,sleep=off" TIMEOUT=3600 bash kernelmod/test/run-qemu.sh -bench
	STRESS_CYCLES=500 TIMEOUT=3600 bash kernelmod/test/run-qemu.sh -only='^rmmod-flood$$'
	bash collectors/droptrace/bench/run.sh
	bash collectors/droptrace/vmtest/bench.sh
	bash exporter/bench/run.sh

fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "== $$pkg $$f ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

clean:
	rm -rf bin
	-$(MAKE) -C kernelmod clean
