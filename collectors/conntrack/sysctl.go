package conntrack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"netlens/collectors"
)

// ErrParse is wrapped by errors about malformed text in a /proc file.
var ErrParse = errors.New("malformed kernel text")

// SysctlDir is where the conntrack sysctls live.
const SysctlDir = "/proc/sys/net/netfilter"

// sysctls are the conntrack settings netlens reads from SysctlDir.
type sysctls struct {
	count, max, buckets           uint64
	acct, timestamp, eventsOn     bool
	haveBuckets, haveAcct, haveTS bool
}

// parseSysctlUint parses the text of a /proc/sys file that holds one
// unsigned integer ("262144\n").
func parseSysctlUint(r io.Reader) (uint64, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64))
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrParse, b)
	}
	return v, nil
}

func readSysctlUint(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	v, err := parseSysctlUint(f)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return v, nil
}

// netfilterSysctls reads nf_conntrack_count, nf_conntrack_max,
// nf_conntrack_buckets, nf_conntrack_acct, nf_conntrack_timestamp and
// nf_conntrack_events from dir (SysctlDir) in the calling thread's network
// namespace. A missing nf_conntrack_max means nf_conntrack is not loaded:
// the error wraps collectors.ErrNotSupported.
func netfilterSysctls(dir string) (sysctls, error) {
	var s sysctls
	var err error
	maxPath := filepath.Join(dir, "nf_conntrack_max")
	if s.max, err = readSysctlUint(maxPath); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return s, fmt.Errorf("nf_conntrack is not loaded (no %s): %w", maxPath, collectors.ErrNotSupported)
		}
		return s, err
	}
	if s.count, err = readSysctlUint(filepath.Join(dir, "nf_conntrack_count")); err != nil {
		return s, err
	}
	var v uint64
	if v, err = readSysctlUint(filepath.Join(dir, "nf_conntrack_buckets")); err == nil {
		s.buckets, s.haveBuckets = v, true
	}
	if v, err = readSysctlUint(filepath.Join(dir, "nf_conntrack_acct")); err == nil {
		s.acct, s.haveAcct = v != 0, true
	}
	if v, err = readSysctlUint(filepath.Join(dir, "nf_conntrack_timestamp")); err == nil {
		s.timestamp, s.haveTS = v != 0, true
	}
	// nf_conntrack_events: 0 off, 1 on, 2 (default since 5.19) on when
	// a listener is subscribed. Missing: built without events.
	if v, err = readSysctlUint(filepath.Join(dir, "nf_conntrack_events")); err == nil {
		s.eventsOn = v != 0
	}
	return s, nil
}
