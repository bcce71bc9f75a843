package droptrace

import (
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/google/go-cmp/cmp"

	"netlens/collectors"
	"netlens/internal/netnstest"
	"netlens/model/drops"
)

func TestSelect(t *testing.T) {
	ok := func() error { return nil }
	noPerm := func() error { return fmt.Errorf("x: %w", errPerm) }
	noDM := func() error { return fmt.Errorf("no NET_DM: %w", collectors.ErrNotSupported) }
	tests := []struct {
		name string
		want Source
		p    Probes
		got  Choice
	}{
		{"auto ebpf", SourceAuto, Probes{EBPF: ok, NetDM: ok}, Choice{SourceEBPF, "eBPF: permitted (auto)"}},
		{"auto ebpf root", SourceAuto, Probes{EBPF: ok, NetDM: ok, Grant: func() string { return "root" }}, Choice{SourceEBPF, "eBPF: root (auto)"}},
		{"auto netdm", SourceAuto, Probes{EBPF: noPerm, NetDM: ok}, Choice{SourceNetDM, "NET_DM: eBPF needs CAP_BPF and CAP_PERFMON (or root) (auto)"}},
		{"auto counters", SourceAuto, Probes{EBPF: noPerm, NetDM: noDM}, Choice{SourceCounters, "counters: eBPF needs CAP_BPF and CAP_PERFMON (or root); NET_DM absent (CONFIG_NET_DROP_MONITOR) (auto)"}},
		{"forced", SourceNetDM, Probes{EBPF: ok, NetDM: noDM}, Choice{SourceNetDM, "NET_DM: --drop-source netdm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.got, Select(tt.want, tt.p)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	for _, s := range []string{"ebpf", "NETDM", "counters", "auto", ""} {
		if _, err := ParseSource(s); err != nil {
			t.Errorf("ParseSource(%q): %v", s, err)
		}
	}
	if _, err := ParseSource("pwru"); err == nil {
		t.Error("ParseSource(pwru) accepted")
	}
}

// TestIntegrationProbes: as root on this kernel (BTF, no drop monitor)
// auto picks eBPF.
func TestIntegrationProbes(t *testing.T) {
	netnstest.RequireRoot(t)
	if err := ProbeEBPF(); err != nil {
		t.Fatalf("ProbeEBPF as root: %v", err)
	}
	if got := Select(SourceAuto, DefaultProbes); got.Source != SourceEBPF || got.Why != "eBPF: root (auto)" {
		t.Errorf("auto as root: %+v", got)
	}
	if err := ProbeNetDM(); err != nil && !errors.Is(err, collectors.ErrNotSupported) {
		t.Errorf("ProbeNetDM: %v", err)
	}
}

// TestIntegrationReasonsFromKernelBTF compares the reasons read from the
// running kernel's BTF with bpftool's C dump of the same BTF.
func TestIntegrationReasonsFromKernelBTF(t *testing.T) {
	if _, err := exec.LookPath("bpftool"); err != nil {
		t.Skip("needs bpftool (apt-get install -y bpftool)")
	}
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatalf("kernel BTF: %v", err)
	}
	r, err := reasonsFromBTF(spec)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c").Output()
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)enum skb_drop_reason \{(.*?)\};`).FindSubmatch(out)
	if block == nil {
		t.Fatal("bpftool: no enum skb_drop_reason")
	}
	want := map[uint32]string{}
	for _, m := range regexp.MustCompile(`(SKB_\w+) = (\d+),`).FindAllSubmatch(block[1], -1) {
		n, _ := strconv.ParseUint(string(m[2]), 10, 32)
		if string(m[1]) != "SKB_DROP_REASON_MAX" {
			if _, dup := want[uint32(n)]; !dup {
				want[uint32(n)] = trimReason(string(m[1]))
			}
		}
	}
	if diff := cmp.Diff(want, r.names); diff != "" {
		t.Errorf("reasons (-bpftool +netlens)\n%s", diff)
	}
	if r.Name(r.consumed) != "CONSUMED" || r.Name(r.notDropped) != "NOT_DROPPED_YET" {
		t.Errorf("consumed %d, not dropped %d", r.consumed, r.notDropped)
	}
	// The knowledge file explains every reason this kernel has.
	for _, name := range r.names {
		switch name {
		case "NOT_DROPPED_YET", "CONSUMED", "SUBSYS_MASK":
			continue
		}
		if _, ok := drops.Default().Reason(name); !ok {
			t.Errorf("model/drops/knowledge.json has no reason %s", name)
		}
	}
	rx, err := hasRxSk(spec)
	t.Logf("%d reasons; tracepoint has rx_sk: %v (%v)", r.Len(), rx, err)
}
