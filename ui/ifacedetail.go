package ui

import (
	"strconv"
	"strings"

	"netlens/model"
)

// ifaceDetail is the Interfaces tab's full view of one interface, in w
// cells: what it is, its addresses and rates, every counter of struct
// rtnl_link_stats64 (ip -s -s link), the driver's statistics (ethtool
// -S), its qdiscs and classes with their statistics (tc -s qdisc, tc -s
// class), and its sysctls from sysctls (net.ipv4.conf.IF.*,
// net.ipv6.conf.IF.*). Section titles start with "--".
func ifaceDetail(l *model.Interface, sysctls []model.Sysctl, w int) []string {
	var out []string
	add := func(s string) { out = append(out, s) }
	name := sanitize(l.Name)

	// What it is.
	b := strings.Builder{}
	b.WriteString(name + "  index " + strconv.Itoa(int(l.Index)) + "  " + sanitize(ifKindName(l)))
	if l.VLANID != 0 {
		b.WriteString(" id " + strconv.Itoa(int(l.VLANID)))
	}
	b.WriteString("  " + ifStateWord(l) + " (admin " + upDown(l.Up) + ", carrier " + onOff(l.Carrier) + ", operstate " + sanitize(l.OperState) + ")")
	add(b.String())
	b.Reset()
	b.WriteString("mtu " + strconv.FormatUint(uint64(l.MTU), 10) + "  txqueuelen " + strconv.FormatUint(uint64(l.TxQueueLen), 10))
	if l.MAC != "" {
		b.WriteString("  link/" + sanitize(l.LinkType) + " " + sanitize(l.MAC))
	} else {
		b.WriteString("  link/" + sanitize(l.LinkType))
	}
	if l.Master != "" {
		b.WriteString("  master " + sanitize(l.Master))
	}
	if l.LinkIndex != 0 {
		b.WriteString("  link ifindex " + strconv.Itoa(int(l.LinkIndex)))
	}
	if l.Qdisc != "" {
		b.WriteString("  qdisc " + sanitize(l.Qdisc))
	}
	b.WriteString("  carrier changes " + strconv.FormatUint(uint64(l.CarrierChanges), 10))
	out = append(out, wrap(b.String(), w)...)
	if len(l.Addresses) == 0 {
		add("addresses: none")
	} else {
		as := make([]string, len(l.Addresses))
		for i, a := range l.Addresses {
			as[i] = a.Address + "/" + strconv.Itoa(a.PrefixLen) + " (" + a.Scope + ")"
		}
		out = append(out, wrap("addresses: "+strings.Join(as, ", "), w)...)
	}
	if r := &l.Rate; r.Known {
		add("rate: rx " + fmtRate(r.RxBitsPerSec) + " b/s " + fmtRate(r.RxPacketsPerSec) + " p/s  tx " + fmtRate(r.TxBitsPerSec) + " b/s " +
			fmtRate(r.TxPacketsPerSec) + " p/s  (over " + r.Interval.Round(1e6).String() + ")")
	} else {
		add("rate: from the next refresh")
	}

	// Counters.
	add("")
	add("-- counters (ip -s -s link) --")
	kv := make([][2]string, 0, len(model.LinkStatNames))
	for i, n := range model.LinkStatNames {
		kv = append(kv, [2]string{n, strconv.FormatUint(*l.Stats.Field(i), 10)})
	}
	out = append(out, kvColumns(kv, w)...)

	// Driver statistics.
	add("")
	add("-- driver statistics (ethtool -S " + name + ") --")
	if len(l.Ethtool) == 0 {
		note := l.EthtoolNote
		if note == "" {
			note = "none"
		}
		add(sanitize(note))
	} else {
		kv = kv[:0]
		for _, e := range l.Ethtool {
			kv = append(kv, [2]string{sanitize(e.Name), strconv.FormatUint(e.Value, 10)})
		}
		out = append(out, kvColumns(kv, w)...)
	}

	// Traffic control.
	add("")
	add("-- qdiscs and classes (tc -s qdisc/class show dev " + name + ") --")
	if len(l.TC) == 0 {
		add("none")
	}
	for _, t := range l.TC {
		what := "qdisc"
		if t.Class {
			what = "class"
		}
		parent := "parent " + t.Parent
		if t.Parent == "root" {
			parent = "root"
		}
		add(what + " " + sanitize(t.Kind) + " " + t.Handle + " " + parent)
		// As tc -s prints them.
		add(" Sent " + strconv.FormatUint(t.Bytes, 10) + " bytes " + strconv.FormatUint(t.Packets, 10) + " pkt (dropped " +
			strconv.FormatUint(t.Drops, 10) + ", overlimits " + strconv.FormatUint(t.Overlimits, 10) + " requeues " +
			strconv.FormatUint(t.Requeues, 10) + ")")
		add(" backlog " + strconv.FormatUint(t.Backlog, 10) + "b " + strconv.FormatUint(t.Qlen, 10) + "p requeues " + strconv.FormatUint(t.Requeues, 10))
	}

	// Sysctls.
	add("")
	add("-- sysctls (net.ipv4.conf." + name + ".*, net.ipv6.conf." + name + ".*) --")
	kv = kv[:0]
	// Named by family: both have accept_redirects, forwarding, mtu...
	for _, fam := range []string{"ipv4", "ipv6"} {
		prefix := "net." + fam + ".conf." + l.Name + "."
		for _, s := range sysctls {
			if strings.HasPrefix(s.Name, prefix) {
				kv = append(kv, [2]string{fam + "." + sanitize(strings.TrimPrefix(s.Name, prefix)), strings.Join(strings.Fields(sanitize(s.Value)), " ")})
			}
		}
	}
	if len(kv) == 0 {
		add("none read (the sysctl collector has not run, or the interface has no IP configuration)")
	} else {
		out = append(out, kvColumns(kv, w)...)
	}
	for i := range out {
		out[i] = fitString(out[i], w)
	}
	return out
}

func upDown(b bool) string {
	if b {
		return "up"
	}
	return "down"
}

func onOff(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// kvColumns lays name-value pairs out in as many columns as fit in w
// cells, filled down then across: "rx_packets 12  tx_packets 9".
func kvColumns(kv [][2]string, w int) []string {
	if len(kv) == 0 {
		return nil
	}
	kw, vw := 0, 0
	for _, p := range kv {
		kw, vw = max(kw, width(p[0])), max(vw, width(p[1]))
	}
	cell := kw + 1 + vw
	const gap = 3
	ncol := max((w+gap)/(cell+gap), 1)
	rows := (len(kv) + ncol - 1) / ncol
	out := make([]string, rows)
	for r := range rows {
		var b strings.Builder
		for c := range ncol {
			i := c*rows + r
			if i >= len(kv) {
				break
			}
			if c > 0 {
				b.WriteString(strings.Repeat(" ", gap))
			}
			b.WriteString(kv[i][0])
			b.WriteString(strings.Repeat(" ", kw-width(kv[i][0])+1+vw-width(kv[i][1])))
			b.WriteString(kv[i][1])
		}
		out[r] = strings.TrimRight(b.String(), " ")
	}
	return out
}
