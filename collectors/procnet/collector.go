package procnet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"netlens/collectors"
	"netlens/model"
)

// Name is the name the counters collector reports under.
const Name = model.CollectorCounters

// file is one /proc/net file the Collector reads.
type file struct {
	rel    string // path under the proc root: "net/snmp"
	source string
	parse  parseFunc // nil for the files procfs parses
}

var files = []file{
	{"net/dev", SourceDev, parseDevBytes},
	{"net/softnet_stat", SourceSoftnet, parseSoftnetBytes},
	{"net/snmp", SourceSNMP, parseSNMPBytes},
	{"net/snmp6", SourceSNMP6, parseSNMP6Bytes},
	{"net/netstat", SourceNetstat, parseNetstatBytes},
	{"net/sockstat", SourceSockstat, nil},
	{"net/sockstat6", SourceSockstat6, nil},
	{"net/xfrm_stat", SourceXfrmStat, parseXfrmStatBytes},
}

// Collector is the "counters" collector: on each Collect it reads every
// /proc/net counter file (dev, softnet_stat, snmp, snmp6, netstat,
// sockstat, sockstat6, xfrm_stat) and publishes them in one
// model.CountersUpdate.
//
// A file this kernel lacks (snmp6 with IPv6 off, xfrm_stat without
// CONFIG_XFRM_STATISTICS) is left out and listed by Missing and Source;
// Collect fails with ErrNotSupported only if no file could be read. A
// file that cannot be parsed is left out of the update and its error is
// returned after the others are published.
//
// Collect must not be called concurrently with itself (the Runner never
// does); Missing and Source are safe to call at any time.
type Collector struct {
	procRoot string
	// SysRoot, when set (to "/sys"), adds ClassNetStatistics: the
	// unsummed per-interface fields /proc/net/dev folds together. Set it
	// before the first Collect.
	SysRoot string
	// Now returns the sample time; tests replace it.
	Now func() time.Time

	p    *parser
	buf  []byte
	last int // counters in the previous update, to size the next
	// spare is the list of the previous update when its publisher
	// copied it (collectors.CountersCopier): the next is filled in it.
	spare []model.RawCounter

	mu      sync.Mutex
	missing []string
}

// New returns a counters collector reading the files under
// procRoot ("/proc"; "/proc/thread-self" for the network namespace of the
// calling thread, which is what /proc/net points at).
func New(procRoot string) *Collector {
	return &Collector{procRoot: procRoot, Now: time.Now, p: newParser()}
}

// Name implements collectors.Collector.
func (c *Collector) Name() string { return Name }

// Missing returns the files the last Collect found missing ("/proc/net/xfrm_stat").
func (c *Collector) Missing() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.missing...)
}

// Source implements collectors.Sourcer: "/proc/net", followed by the
// files this kernel does not have.
func (c *Collector) Source() string {
	m := c.Missing()
	if len(m) == 0 {
		return "/proc/net"
	}
	for i := range m {
		m[i] = strings.TrimPrefix(m[i], "/proc/net/")
	}
	return "/proc/net (no " + strings.Join(m, ", ") + ")"
}

// Collect implements collectors.Collector.
func (c *Collector) Collect(ctx context.Context, pub collectors.Publisher) error {
	out, err := c.collect(ctx)
	if out == nil {
		return err
	}
	pub.Publish(model.CountersUpdate{Collector: Name, At: c.Now(), Counters: out})
	if _, ok := pub.(collectors.CountersCopier); ok {
		c.spare = out[:0] // the publisher kept nothing of it
	}
	return err
}

// collect reads every file. It returns nil counters when nothing could be
// read.
func (c *Collector) collect(ctx context.Context) ([]model.RawCounter, error) {
	out := c.spare
	c.spare = nil
	if out == nil {
		out = make([]model.RawCounter, 0, c.last)
	}
	var missing []string
	var errs []error
	read := 0
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var err error
		n := len(out)
		if f.parse != nil {
			c.buf, err = readFile(filepath.Join(c.procRoot, f.rel), c.buf)
			if err == nil {
				out, err = f.parse(c.p, c.buf, out)
			}
		} else {
			out, err = readSockstat(c.procRoot, f.source, out)
		}
		switch {
		case err == nil:
			read++
		case errors.Is(err, os.ErrNotExist):
			missing = append(missing, f.source)
		default:
			out = out[:n]
			errs = append(errs, err)
		}
	}
	if c.SysRoot != "" {
		var err error
		out, err = classNetStatistics(c.SysRoot, c.p, c.buf, out)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", SourceClassNet, err))
		}
	}
	c.mu.Lock()
	c.missing = missing
	c.mu.Unlock()
	if read == 0 {
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		return nil, fmt.Errorf("no counter file under %s: %w", filepath.Join(c.procRoot, "net"), collectors.ErrNotSupported)
	}
	c.last = len(out)
	if len(c.p.names) > 2*len(out)+1024 {
		// Interfaces come and go (container veths): forget the names no
		// longer printed rather than keep every one ever seen.
		c.p.names = make(map[string]string, len(out))
	}
	return out, errors.Join(errs...)
}
