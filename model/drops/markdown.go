package drops

import (
	"bytes"
	"fmt"
	"strings"

	"netlens/model"
)

// Markdown renders the knowledge as docs/drops.md.
func (k *Knowledge) Markdown() []byte {
	var b bytes.Buffer
	b.WriteString("<!-- Generated from model/drops/knowledge.json by `go generate ./model/drops`. Do not edit. -->\n\n")
	b.WriteString("# Drop counters\n\n")
	b.WriteString(k.About + "\n\n")
	b.WriteString("netlens shows these counters in the Drops tab and `netlens drops`, layer by layer in the order a received\n")
	b.WriteString("packet meets them. Each section says what increments the counter, its usual causes, the settings that\n")
	b.WriteString("govern it, and the traps in reading it. Counters are named as the kernel names them; where they are\n")
	b.WriteString("read from is given as `source group`.\n\n")
	b.WriteString("## Contents\n\n")
	byLayer := k.byLayer()
	for _, l := range model.Layers {
		es := byLayer[l]
		if len(es) == 0 {
			continue
		}
		fmt.Fprintf(&b, "- %s:", layerTitle(l))
		for i, e := range es {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, " [%s](#%s)", e.Name, anchor(e))
		}
		b.WriteByte('\n')
	}
	b.WriteString("- [Drop reasons](#drop-reasons)\n\n")
	for _, l := range model.Layers {
		es := byLayer[l]
		if len(es) == 0 {
			continue
		}
		fmt.Fprintf(&b, "## %s\n\n", layerTitle(l))
		for _, e := range es {
			fmt.Fprintf(&b, "<a id=\"%s\"></a>\n### %s\n\n", anchor(e), e.Name)
			fmt.Fprintf(&b, "**%s.** Read from", e.Title)
			for i, key := range e.Keys {
				if i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, " `%s`", strings.TrimSpace(key.Source+" "+key.Group))
			}
			b.WriteString(".")
			if e.Fallback {
				b.WriteString(" Shown only for interfaces without the unsummed statistics.")
			}
			if e.Absent != "" {
				fmt.Fprintf(&b, " Not on every kernel: %s.", e.Absent)
			}
			b.WriteString("\n\n")
			fmt.Fprintf(&b, "- What increments it: %s\n", e.Increments)
			list(&b, "Usual causes", e.Causes)
			if len(e.Settings) > 0 {
				b.WriteString("- Governed by:\n")
				for _, s := range e.Settings {
					fmt.Fprintf(&b, "  - `%s`: %s\n", s.Name, s.Note)
				}
			}
			list(&b, "Traps", e.Traps)
			if len(e.Docs) > 0 {
				fmt.Fprintf(&b, "- Kernel documentation: %s\n", strings.Join(e.Docs, ", "))
			}
			b.WriteByte('\n')
		}
	}
	b.WriteString("## Drop reasons\n\n")
	b.WriteString("Where the kernel has a drop monitor (CONFIG_NET_DROP_MONITOR, the NET_DM generic netlink family), netlens\n")
	b.WriteString("counts every dropped packet by its drop reason (Linux 5.18 and later; include/net/dropreason-core.h) and\n")
	b.WriteString("code location, and shows each reason as a counter of its layer (source `drop_monitor`, group `reason`).\n")
	b.WriteString("Without a drop monitor the Drops tab says so; drops that no MIB counts (a netfilter DROP rule, most\n")
	b.WriteString("notably) are then visible only in the rule's own counter (`nft list ruleset` with a `counter`\n")
	b.WriteString("statement) or as a gap between Ip InReceives and InDelivers.\n\n")
	b.WriteString("The eBPF drop tracer (`--drop-source ebpf`, collectors/droptrace) counts the same reasons on kernels\n")
	b.WriteString("without a drop monitor, by the names of the running kernel's own `enum skb_drop_reason`.\n\n")
	b.WriteString("| reason | layer | meaning | also counted by | sysctl |\n|---|---|---|---|---|\n")
	for _, r := range k.Reasons {
		sysctl := ""
		if r.Sysctl != "" {
			sysctl = "`" + r.Sysctl + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", r.Name, r.Layer, r.Meaning, r.Counter, sysctl)
	}
	return b.Bytes()
}

// byLayer groups the entries by layer, in file order.
func (k *Knowledge) byLayer() map[model.Layer][]Entry {
	out := map[model.Layer][]Entry{}
	for _, e := range k.Counters {
		out[e.Layer] = append(out[e.Layer], e)
	}
	return out
}

func list(b *bytes.Buffer, title string, items []string) {
	switch len(items) {
	case 0:
	case 1:
		fmt.Fprintf(b, "- %s: %s\n", title, items[0])
	default:
		fmt.Fprintf(b, "- %s:\n", title)
		for _, s := range items {
			fmt.Fprintf(b, "  - %s\n", s)
		}
	}
}

func anchor(e Entry) string { return string(e.Layer) + "-" + e.In + "-" + strings.ToLower(e.Name) }

func layerTitle(l model.Layer) string {
	switch l {
	case model.LayerNIC:
		return "Device and driver (nic)"
	case model.LayerSoftnet:
		return "Per-CPU receive queues (softnet)"
	case model.LayerQdisc:
		return "Queueing disciplines (qdisc)"
	case model.LayerIP:
		return "IP, IPv4 and IPv6 (ip)"
	case model.LayerNetfilter:
		return "Netfilter and conntrack (netfilter)"
	case model.LayerTransport:
		return "TCP and UDP (transport)"
	case model.LayerSocket:
		return "Sockets (socket)"
	case model.LayerIPsec:
		return "IPsec (ipsec)"
	}
	return string(l)
}
