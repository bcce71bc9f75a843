package procnet

import (
	"bytes"
	"io"

	"netlens/model"
)

// NetSNMP6 reads /proc/net/snmp6 under procRoot: the IPv6 MIB counters,
// one "Name value" per line. Names are split into the kernel's prefix as
// Group (Ip6, Icmp6, Udp6, UdpLite6) and the rest as Name, so that
// Group+Name is the kernel's (and nstat's) name. It is safe for
// concurrent use. The file is missing when IPv6 is disabled.
func NetSNMP6(procRoot string) ([]model.RawCounter, error) {
	return readOne(procRoot, "net/snmp6", parseSNMP6Bytes)
}

// NetXfrmStat reads /proc/net/xfrm_stat under procRoot: IPsec
// transformation errors, one "Name value" per line, kept whole as Name
// with no Group. The file exists only on kernels built with
// CONFIG_XFRM_STATISTICS. It is safe for concurrent use.
func NetXfrmStat(procRoot string) ([]model.RawCounter, error) {
	return readOne(procRoot, "net/xfrm_stat", parseXfrmStatBytes)
}

// parseNetSNMP6 parses the text of /proc/net/snmp6.
func parseNetSNMP6(r io.Reader) ([]model.RawCounter, error) {
	return parseReader(r, parseSNMP6Bytes)
}

// parseNetXfrmStat parses the text of /proc/net/xfrm_stat.
func parseNetXfrmStat(r io.Reader) ([]model.RawCounter, error) {
	return parseReader(r, parseXfrmStatBytes)
}

// snmp6Groups are the prefixes of snmp6 names (net/ipv6/proc.c). UdpLite6
// is listed before Udp6 only for clarity: neither is a prefix of the other.
var snmp6Groups = [][]byte{[]byte("Ip6"), []byte("Icmp6"), []byte("UdpLite6"), []byte("Udp6")}

func parseSNMP6Bytes(p *parser, b []byte, out []model.RawCounter) ([]model.RawCounter, error) {
	return p.parseNameValues(SourceSNMP6, b, out, func(name []byte) ([]byte, []byte) {
		for _, g := range snmp6Groups {
			if len(name) > len(g) && bytes.HasPrefix(name, g) {
				return name[:len(g)], name[len(g):]
			}
		}
		return nil, name
	}, func(group string) model.Layer { return layerOf(group, "") })
}

func parseXfrmStatBytes(p *parser, b []byte, out []model.RawCounter) ([]model.RawCounter, error) {
	return p.parseNameValues(SourceXfrmStat, b, out, func(name []byte) ([]byte, []byte) { return nil, name },
		func(string) model.Layer { return model.LayerIPsec })
}

// parseNameValues parses lines of "Name value" (snmp6, xfrm_stat). split
// splits each name into its group (nil if none) and field name; layer
// gives the layer of a group.
func (p *parser) parseNameValues(source string, b []byte, out []model.RawCounter, split func([]byte) ([]byte, []byte), layer func(group string) model.Layer) ([]model.RawCounter, error) {
	start := len(out)
	ls := lines{b: b}
	seen := false
	for {
		line, ok := p.nextFields(&ls)
		if !ok {
			break
		}
		if len(p.fields) != 2 {
			return out[:start], parseErr(source, ls.n, "want \"Name value\", got %d fields in %q", len(p.fields), truncate(line))
		}
		seen = true
		v, neg, err := parseValue(p.fields[1])
		if err != nil {
			return out[:start], parseErr(source, ls.n, "%s: %v", p.fields[0], err)
		}
		if neg {
			continue
		}
		g, n := split(p.fields[0])
		var group string
		if g != nil {
			group = p.intern(g)
		}
		out = append(out, model.RawCounter{
			Layer:  layer(group),
			Source: source,
			Group:  group,
			Name:   p.intern(n),
			Kind:   model.KindCounter,
			Value:  v,
		})
	}
	if !seen {
		return out, errEmpty(source)
	}
	return out, nil
}
