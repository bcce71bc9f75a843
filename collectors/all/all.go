// Package all lists the collectors netlens runs and their intervals. It is
// the one place main.go learns what there is to collect.
package all

import (
	"time"

	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/collectors/procnet"
	"netlens/collectors/sockets"
	"netlens/collectors/sysctl"
)

// Config selects and tunes the collectors.
type Config struct {
	// Refresh is the base interval; fast-moving sources run at it.
	Refresh time.Duration
	// Owners maps sockets to the processes holding them (costs a walk of
	// /proc/*/fd, cached).
	Owners bool
}

// Specs returns the collectors to run for cfg.
func Specs(cfg Config) []collectors.Spec {
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Second
	}
	return []collectors.Spec{
		{Collector: sockets.New(sockets.Options{NoOwners: !cfg.Owners}), Interval: cfg.Refresh},
		{Collector: counters(), Interval: cfg.Refresh},
		// Sysctls change rarely and a full walk reads ~1,000 files.
		{Collector: sysctl.NewCollector("/proc/sys"), Interval: max(5*time.Second, cfg.Refresh)},
	}
}

// KernelRelease returns uname -r, or "unknown".
func KernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// counters returns the /proc/net counters collector, with the per-interface
// error counters of /sys/class/net/*/statistics that /proc/net/dev only
// prints summed (rx_missed_errors, rx_crc_errors, rx_nohandler, ...).
func counters() *procnet.Collector {
	c := procnet.NewCollector("/proc")
	c.SysRoot = "/sys"
	return c
}
