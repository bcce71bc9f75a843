package procnet

import (
	"errors"
	"fmt"

	"github.com/prometheus/procfs"

	"netlens/model"
)

// NetSockstat reads /proc/net/sockstat under procRoot with
// prometheus/procfs: gauges of IPv4 sockets in use, orphaned, in
// TIME-WAIT, allocated, and the memory they hold ("mem" is in pages,
// FRAG "memory" in bytes). Group is the kernel's line prefix ("sockets",
// "TCP", "UDP", "UDPLITE", "RAW", "FRAG"), Name the key ("inuse", "tw",
// "mem"). Every value is a gauge at the socket layer, except FRAG (IP
// reassembly queues) at the ip layer. It is safe for concurrent use.
func NetSockstat(procRoot string) ([]model.RawCounter, error) {
	return readSockstat(procRoot, SourceSockstat, nil)
}

// NetSockstat6 reads /proc/net/sockstat6 under procRoot, as NetSockstat
// does (groups TCP6, UDP6, UDPLITE6, RAW6, FRAG6). The file is missing
// when IPv6 is disabled. It is safe for concurrent use.
func NetSockstat6(procRoot string) ([]model.RawCounter, error) {
	return readSockstat(procRoot, SourceSockstat6, nil)
}

// readSockstat reads source (SourceSockstat or SourceSockstat6) under
// procRoot and appends its counters to out.
func readSockstat(procRoot, source string, out []model.RawCounter) ([]model.RawCounter, error) {
	fs, err := procfs.NewFS(procRoot)
	if err != nil {
		return out, err
	}
	var st *procfs.NetSockstat
	if source == SourceSockstat {
		st, err = fs.NetSockstat()
	} else {
		st, err = fs.NetSockstat6()
	}
	if err != nil {
		return out, wrapProcfs(source, err)
	}
	return sockstatCounters(source, st, out), nil
}

// wrapProcfs keeps a read error as it is (so os.ErrNotExist still
// matches) and marks what procfs says it could not parse as ErrParse
// (procfs wraps sockstat parse errors in its ErrFileRead).
func wrapProcfs(source string, err error) error {
	if errors.Is(err, procfs.ErrFileRead) || errors.Is(err, procfs.ErrFileParse) {
		return fmt.Errorf("parse %s: %w: %w", source, ErrParse, err)
	}
	return err
}

// sockstatCounters appends the values of st to out. Negative values
// (never printed by the kernel) are skipped.
func sockstatCounters(source string, st *procfs.NetSockstat, out []model.RawCounter) []model.RawCounter {
	add := func(group, name string, v *int) {
		if v == nil || *v < 0 {
			return
		}
		layer := model.LayerSocket
		if group == "FRAG" || group == "FRAG6" {
			layer = model.LayerIP
		}
		out = append(out, model.RawCounter{Layer: layer, Source: source, Group: group, Name: name, Kind: model.KindGauge, Value: uint64(*v)})
	}
	add("sockets", "used", st.Used)
	for _, p := range st.Protocols {
		inuse := p.InUse
		add(p.Protocol, "inuse", &inuse)
		add(p.Protocol, "orphan", p.Orphan)
		add(p.Protocol, "tw", p.TW)
		add(p.Protocol, "alloc", p.Alloc)
		add(p.Protocol, "mem", p.Mem)
		add(p.Protocol, "memory", p.Memory)
	}
	return out
}
