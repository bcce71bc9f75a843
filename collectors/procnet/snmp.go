package procnet

import (
	"bytes"
	"io"

	"netlens/model"
)

// Canonical sources, as they appear in RawCounter.Source.
const (
	SourceSNMP     = "/proc/net/snmp"
	SourceNetstat  = "/proc/net/netstat"
	SourceSNMP6    = "/proc/net/snmp6"
	SourceSoftnet  = "/proc/net/softnet_stat"
	SourceDev      = "/proc/net/dev"
	SourceSockstat = "/proc/net/sockstat"
	// SourceSockstat6 is the IPv6 socket gauges file.
	SourceSockstat6 = "/proc/net/sockstat6"
	SourceXfrmStat  = "/proc/net/xfrm_stat"
)

// NetSNMP reads /proc/net/snmp under procRoot: the IPv4 MIB counters of
// the reader's network namespace (groups Ip, Icmp, IcmpMsg, Tcp, Udp,
// UdpLite). It is safe for concurrent use.
func NetSNMP(procRoot string) ([]model.RawCounter, error) {
	return readOne(procRoot, "net/snmp", parseSNMPBytes)
}

// NetNetstat reads /proc/net/netstat under procRoot: the kernel's extended
// counters (groups TcpExt, IpExt, MPTcpExt, and whatever a newer kernel
// adds). It is safe for concurrent use.
func NetNetstat(procRoot string) ([]model.RawCounter, error) {
	return readOne(procRoot, "net/netstat", parseNetstatBytes)
}

// parseNetSNMP parses the text of /proc/net/snmp.
func parseNetSNMP(r io.Reader) ([]model.RawCounter, error) {
	return parseReader(r, parseSNMPBytes)
}

// parseNetNetstat parses the text of /proc/net/netstat.
func parseNetNetstat(r io.Reader) ([]model.RawCounter, error) {
	return parseReader(r, parseNetstatBytes)
}

func parseSNMPBytes(p *parser, b []byte, out []model.RawCounter) ([]model.RawCounter, error) {
	return p.parseGroups(SourceSNMP, b, out)
}

func parseNetstatBytes(p *parser, b []byte, out []model.RawCounter) ([]model.RawCounter, error) {
	return p.parseGroups(SourceNetstat, b, out)
}

// parseGroups parses the two-line format of snmp and netstat: a line
// "Group: Name1 Name2 ..." followed by "Group: value1 value2 ...".
// Negative values (Tcp MaxConn -1, "no limit") are skipped.
func (p *parser) parseGroups(source string, b []byte, out []model.RawCounter) ([]model.RawCounter, error) {
	start := len(out)
	fail := func(err error) ([]model.RawCounter, error) { return out[:start], err }
	ls := lines{b: b}
	seen := false
	for {
		hline, ok := ls.next()
		if !ok {
			break
		}
		if len(bytes.TrimSpace(hline)) == 0 {
			continue
		}
		hn := ls.n
		p.header = splitFields(p.header, hline)
		prefix := p.header[0]
		if len(prefix) < 2 || prefix[len(prefix)-1] != ':' {
			return fail(parseErr(source, hn, "header %q does not start with \"Group:\"", truncate(hline)))
		}
		vline, ok := ls.next()
		if !ok {
			return fail(parseErr(source, hn, "group %s has a header but no values line", prefix[:len(prefix)-1]))
		}
		p.fields = splitFields(p.fields, vline)
		if len(p.fields) == 0 || !bytes.Equal(p.fields[0], prefix) {
			return fail(parseErr(source, ls.n, "values line does not start with %q", prefix))
		}
		if len(p.fields) != len(p.header) {
			return fail(parseErr(source, ls.n, "group %s has %d names but %d values", prefix[:len(prefix)-1], len(p.header)-1, len(p.fields)-1))
		}
		seen = true
		group := p.intern(prefix[:len(prefix)-1])
		for i := 1; i < len(p.header); i++ {
			v, neg, err := parseValue(p.fields[i])
			if err != nil {
				return fail(parseErr(source, ls.n, "%s %s: %v", group, p.header[i], err))
			}
			if neg {
				continue
			}
			name := p.intern(p.header[i])
			out = append(out, model.RawCounter{
				Layer:  layerOf(group, name),
				Source: source,
				Group:  group,
				Name:   name,
				Kind:   kindOf(group, name),
				Value:  v,
			})
		}
	}
	if !seen {
		return out, errEmpty(source)
	}
	return out, nil
}

// truncate shortens a line quoted in an error.
func truncate(b []byte) []byte {
	if len(b) > 60 {
		return b[:60]
	}
	return b
}
