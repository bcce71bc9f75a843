package sockets

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"

	"netlens/model"
)

// procNetFile is one of the /proc/net socket tables.
type procNetFile struct {
	name  string // "tcp6"
	proto model.Proto
}

// procNetFiles are the tables the fallback reads, in the order sock_diag
// dumps are made. udplite and udplite6 may be absent (UDP-Lite removed or
// not built): they are skipped then.
var procNetFiles = []procNetFile{
	{"tcp", model.ProtoTCP}, {"tcp6", model.ProtoTCP},
	{"udp", model.ProtoUDP}, {"udp6", model.ProtoUDP},
	{"udplite", model.ProtoUDPLite}, {"udplite6", model.ProtoUDPLite},
	{"raw", model.ProtoRAW}, {"raw6", model.ProtoRAW},
}

// netFiles reads socket tables such as /proc/net/{tcp,tcp6,udp,udp6,
// udplite,udplite6,raw,raw6} under dir (normally /proc/net, or
// /proc/thread-self/net in another namespace) and appends their sockets to
// out. A missing tcp or udp table is an error wrapping os.ErrNotExist;
// missing udplite tables (UDP-Lite removed or not built) are skipped.
func netFiles(dir string, files []procNetFile, out []model.Socket) ([]model.Socket, error) {
	for _, f := range files {
		var err error
		out, err = netTable(filepath.Join(dir, f.name), f.proto, out)
		if err != nil {
			if os.IsNotExist(err) && f.proto == model.ProtoUDPLite {
				continue
			}
			return out, err
		}
	}
	return out, nil
}

// netTable reads one socket table such as /proc/net/tcp6 and appends its
// sockets to out.
func netTable(path string, proto model.Proto, out []model.Socket) ([]model.Socket, error) {
	f, err := os.Open(path)
	if err != nil {
		return out, err
	}
	defer f.Close()
	out, err = parseNetTCP(f, proto, out)
	if err != nil {
		return out, fmt.Errorf("parse %s: %w", path, err)
	}
	return out, nil
}

// parseNetTCP parses the text of a /proc/net/{tcp,udp,udplite,raw}{,6}
// table (all share the format of /proc/net/tcp) and appends a socket per
// line to out. The family follows from the address width; the drops
// column, which udp and raw tables have, fills Socket.Drops.
//
// The header must be there; an empty input is an error. A line with too
// few or malformed fields is an error naming the line.
func parseNetTCP(r io.Reader, proto model.Proto, out []model.Socket) ([]model.Socket, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return out, err
		}
		return out, fmt.Errorf("no header: %w", ErrMalformed)
	}
	header := sc.Bytes()
	if !bytes.Contains(header, []byte("local_address")) {
		return out, fmt.Errorf("line 1: not a socket table header: %w", ErrMalformed)
	}
	hasDrops := bytes.HasSuffix(bytes.TrimSpace(header), []byte("drops"))
	var fields [24][]byte
	for n := 2; sc.Scan(); n++ {
		line := sc.Bytes()
		nf := splitFields(line, fields[:])
		if nf == 0 {
			continue
		}
		var s model.Socket
		if err := parseNetLine(fields[:nf], hasDrops, &s); err != nil {
			return out, fmt.Errorf("line %d: %w", n, err)
		}
		s.Proto = proto
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return out, err
	}
	return out, nil
}

// splitFields splits line at runs of spaces into dst without allocating
// and returns how many fields it stored (at most len(dst)).
func splitFields(line []byte, dst [][]byte) int {
	n := 0
	for i := 0; i < len(line) && n < len(dst); {
		for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
			i++
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		if j > i {
			dst[n] = line[i:j]
			n++
		}
		i = j
	}
	return n
}

// Field indexes in a /proc/net/tcp line.
const (
	fieldLocal  = 1
	fieldRemote = 2
	fieldState  = 3
	fieldQueues = 4 // tx_queue:rx_queue
	fieldUID    = 7
	fieldInode  = 9
	minFields   = 10
)

func parseNetLine(f [][]byte, hasDrops bool, s *model.Socket) error {
	if len(f) < minFields {
		return fmt.Errorf("%d fields, want at least %d: %w", len(f), minFields, ErrMalformed)
	}
	local, err := parseHexAddrPort(f[fieldLocal])
	if err != nil {
		return fmt.Errorf("local address %q: %w", f[fieldLocal], err)
	}
	remote, err := parseHexAddrPort(f[fieldRemote])
	if err != nil {
		return fmt.Errorf("remote address %q: %w", f[fieldRemote], err)
	}
	if local.Addr().BitLen() != remote.Addr().BitLen() {
		return fmt.Errorf("local %s and remote %s differ in family: %w", local, remote, ErrMalformed)
	}
	s.Local, s.Remote = local, remote
	s.Family = model.FamilyIPv4
	if local.Addr().Is6() {
		s.Family = model.FamilyIPv6
	}
	st, ok := parseUint(f[fieldState], 16, 8)
	if !ok {
		return fmt.Errorf("state %q: %w", f[fieldState], ErrMalformed)
	}
	s.State = model.SockState(st)
	tx, rx, ok := bytes.Cut(f[fieldQueues], []byte(":"))
	if !ok {
		return fmt.Errorf("queues %q: %w", f[fieldQueues], ErrMalformed)
	}
	txq, ok1 := parseUint(tx, 16, 32)
	rxq, ok2 := parseUint(rx, 16, 32)
	if !ok1 || !ok2 {
		return fmt.Errorf("queues %q: %w", f[fieldQueues], ErrMalformed)
	}
	s.SendQ, s.RecvQ = uint32(txq), uint32(rxq)
	uid, ok := parseUint(f[fieldUID], 10, 32)
	if !ok {
		return fmt.Errorf("uid %q: %w", f[fieldUID], ErrMalformed)
	}
	s.UID = uint32(uid)
	ino, ok := parseUint(f[fieldInode], 10, 64)
	if !ok {
		return fmt.Errorf("inode %q: %w", f[fieldInode], ErrMalformed)
	}
	s.Inode = ino
	if hasDrops {
		d, ok := parseUint(f[len(f)-1], 10, 64)
		if !ok {
			return fmt.Errorf("drops %q: %w", f[len(f)-1], ErrMalformed)
		}
		s.Drops, s.HasDrops = d, true
	}
	return nil
}

// parseHexAddrPort parses "0100007F:0050" (IPv4) or a 32-digit IPv6
// address and port. The kernel prints each 32-bit word of the address in
// host byte order.
func parseHexAddrPort(b []byte) (netip.AddrPort, error) {
	a, p, ok := bytes.Cut(b, []byte(":"))
	if !ok {
		return netip.AddrPort{}, ErrMalformed
	}
	port, ok := parseUint(p, 16, 16)
	if !ok {
		return netip.AddrPort{}, ErrMalformed
	}
	switch len(a) {
	case 8:
		w, ok := parseUint(a, 16, 32)
		if !ok {
			return netip.AddrPort{}, ErrMalformed
		}
		var ip [4]byte
		binary.NativeEndian.PutUint32(ip[:], uint32(w))
		return netip.AddrPortFrom(netip.AddrFrom4(ip), uint16(port)), nil
	case 32:
		var ip [16]byte
		for i := range 4 {
			w, ok := parseUint(a[i*8:i*8+8], 16, 32)
			if !ok {
				return netip.AddrPort{}, ErrMalformed
			}
			binary.NativeEndian.PutUint32(ip[i*4:], uint32(w))
		}
		return netip.AddrPortFrom(netip.AddrFrom16(ip), uint16(port)), nil
	}
	return netip.AddrPort{}, ErrMalformed
}

// parseUint parses b as an unsigned number in base 10 or 16 that fits in
// bits, without allocating.
func parseUint(b []byte, base uint64, bits uint) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	limit := uint64(1)<<bits - 1
	if bits == 64 {
		limit = ^uint64(0)
	}
	var v uint64
	for _, c := range b {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if v > (limit-d)/base {
			return 0, false
		}
		v = v*base + d
	}
	return v, true
}

// sockCounts are the counts of /proc/net/sockstat and sockstat6: for
// each table ("tcp", "udp6", ... as procNetName names them) the sockets
// in use, and the TIME-WAIT sockets of both TCP tables. A dump finds
// those, and in a TCP table request (SYN-RECV) sockets too, which are
// not counted (Collector.tcpQuiet). A table not listed is not known.
type sockCounts struct {
	inuse map[string]uint64
	tw    uint64
}

// sockstatTables maps sockstat's line keys to table names.
var sockstatTables = map[string]string{
	"TCP:": "tcp", "TCP6:": "tcp6", "UDP:": "udp", "UDP6:": "udp6",
	"UDPLITE:": "udplite", "UDPLITE6:": "udplite6", "RAW:": "raw", "RAW6:": "raw6",
}

// parseSockstat adds the "inuse" counts of the TCP, UDP, UDPLITE and RAW
// lines of a /proc/net/sockstat{,6} text, and TCP's "tw", to c. A line
// whose count does not parse is left out (its table stays unknown).
func parseSockstat(r io.Reader, c *sockCounts) {
	sc := bufio.NewScanner(r)
	var f [16][]byte
	for sc.Scan() {
		nf := splitFields(sc.Bytes(), f[:])
		if nf == 0 {
			continue
		}
		table, ok := sockstatTables[string(f[0])]
		if !ok {
			continue
		}
		for i := 1; i+1 < nf; i += 2 {
			v, ok := parseUint(f[i+1], 10, 31)
			switch k := string(f[i]); {
			case !ok:
			case k == "inuse":
				c.inuse[table] = v
			case k == "tw" && table == "tcp":
				c.tw = v
			}
		}
	}
}

// hint is how many sockets a dump of every table should expect.
func (c sockCounts) hint() int {
	n := c.tw
	for _, v := range c.inuse {
		n += v
	}
	return int(min(n, 1<<24))
}

// empty reports whether table is known to hold no socket: its dump would
// find nothing (for a TCP table, but a request socket: see
// Collector.tcpQuiet). TIME-WAIT sockets are counted for both TCP tables
// together, so neither is empty while there are any.
func (c sockCounts) empty(table string) bool {
	v, ok := c.inuse[table]
	return ok && v == 0 && (table != "tcp" && table != "tcp6" || c.tw == 0)
}
