package droptrace

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mdlayher/genetlink"
	"golang.org/x/sys/unix"

	"netlens/collectors"
)

// Source is where the Drops tab's reasons come from (--drop-source).
type Source string

// Drop sources.
const (
	SourceAuto     Source = "auto"     // eBPF where permitted, else NET_DM, else counters
	SourceEBPF     Source = "ebpf"     // this package's tracer
	SourceNetDM    Source = "netdm"    // the kernel's drop monitor (collectors/dropmon)
	SourceCounters Source = "counters" // the counters only: no reasons
)

// ParseSource parses a --drop-source value.
func ParseSource(s string) (Source, error) {
	switch src := Source(strings.ToLower(s)); src {
	case SourceAuto, SourceEBPF, SourceNetDM, SourceCounters:
		return src, nil
	case "":
		return SourceAuto, nil
	}
	return "", fmt.Errorf("drop source %q: want ebpf, netdm, counters or auto", s)
}

// Choice is the drop source in use and why, for the header.
type Choice struct {
	Source Source
	// Why says why this source ("eBPF: root", "NET_DM: eBPF needs
	// CAP_BPF and CAP_PERFMON (or root)").
	Why string
}

// Probes test whether a source can be used; nil means it can. Tests
// replace them.
type Probes struct {
	EBPF  func() error
	NetDM func() error
	// Grant says what permits eBPF when EBPF passes ("root"); nil says
	// "permitted".
	Grant func() string
}

// DefaultProbes probe this machine: ProbeEBPF, ProbeNetDM and
// GrantEBPF.
var DefaultProbes = Probes{EBPF: ProbeEBPF, NetDM: ProbeNetDM, Grant: GrantEBPF}

// Select picks the drop source for want. An explicit choice is kept
// whatever the probes say (its collector then reports why it cannot
// run); auto takes the first of eBPF, NET_DM and counters whose probe
// passes.
func Select(want Source, p Probes) Choice {
	switch want {
	case SourceEBPF:
		return Choice{SourceEBPF, "eBPF: --drop-source ebpf"}
	case SourceNetDM:
		return Choice{SourceNetDM, "NET_DM: --drop-source netdm"}
	case SourceCounters:
		return Choice{SourceCounters, "counters: --drop-source counters"}
	}
	ebpfErr := p.EBPF()
	if ebpfErr == nil {
		grant := "permitted"
		if p.Grant != nil {
			grant = p.Grant()
		}
		return Choice{SourceEBPF, "eBPF: " + grant + " (auto)"}
	}
	netdmErr := p.NetDM()
	if netdmErr == nil {
		return Choice{SourceNetDM, "NET_DM: eBPF " + ReasonOf(ebpfErr) + " (auto)"}
	}
	return Choice{SourceCounters, "counters: eBPF " + ReasonOf(ebpfErr) + "; NET_DM " + netdmReason(netdmErr) + " (auto)"}
}

func netdmReason(err error) string {
	if errors.Is(err, collectors.ErrPermission) {
		return "needs CAP_NET_ADMIN"
	}
	if errors.Is(err, collectors.ErrNotSupported) {
		return "absent (CONFIG_NET_DROP_MONITOR)"
	}
	return err.Error()
}

// Capabilities (include/uapi/linux/capability.h).
const (
	capNetAdmin = 12 // CAP_NET_ADMIN
	capSysAdmin = 21 // CAP_SYS_ADMIN
	capPerfmon  = 38 // CAP_PERFMON
	capBPF      = 39 // CAP_BPF
)

// ProbeEBPF reports whether the tracer can load here without loading it:
// the effective capabilities (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN),
// the kernel's BTF, and a kfree_skb tracepoint with a drop reason.
func ProbeEBPF() error {
	caps, err := effectiveCaps()
	if err != nil {
		return err
	}
	if !hasCaps(caps, capBPF, capPerfmon) && !hasCaps(caps, capSysAdmin) {
		return errPerm
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		return errNoBTF
	}
	return nil
}

// GrantEBPF says what lets this process load the tracer: "root",
// "CAP_BPF and CAP_PERFMON" or "CAP_SYS_ADMIN" (ProbeEBPF having passed).
func GrantEBPF() string {
	caps, err := effectiveCaps()
	switch {
	case os.Geteuid() == 0:
		return "root"
	case err == nil && hasCaps(caps, capBPF, capPerfmon):
		return "CAP_BPF and CAP_PERFMON"
	case err == nil && hasCaps(caps, capSysAdmin):
		return "CAP_SYS_ADMIN"
	}
	return "permitted"
}

// effectiveCaps returns the process's effective capability set.
func effectiveCaps() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	return uint64(data[0].Effective) | uint64(data[1].Effective)<<32, nil
}

func hasCaps(set uint64, caps ...uint) bool {
	for _, c := range caps {
		if set&(1<<c) == 0 {
			return false
		}
	}
	return true
}

// ProbeNetDM reports whether the kernel has the drop monitor's generic
// netlink family (NET_DM). Using it needs CAP_NET_ADMIN, which the
// dropmon collector reports itself.
func ProbeNetDM() error {
	c, err := genetlink.Dial(nil)
	if err != nil {
		return fmt.Errorf("generic netlink: %w", err)
	}
	defer c.Close()
	if _, err := c.GetFamily("NET_DM"); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no NET_DM family: %w", collectors.ErrNotSupported)
		}
		return err
	}
	caps, err := effectiveCaps()
	if err == nil && !hasCaps(caps, capNetAdmin) {
		return fmt.Errorf("needs CAP_NET_ADMIN: %w", collectors.ErrPermission)
	}
	return nil
}
