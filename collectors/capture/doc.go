// Package capture is netlens's packet capture: an AF_PACKET TPACKET_V3 ring
// (github.com/gopacket/gopacket/afpacket) on one interface or all, or a pcap
// or pcapng file replayed; a capture filter in tcpdump syntax compiled to
// classic BPF in pure Go and attached to the socket (SO_ATTACH_FILTER) so
// that the kernel filters; decoding with gopacket's DecodingLayerParser with
// no allocation per packet; aggregation into packets and bits per second,
// per-protocol counts and bounded top flow and host tables; and a bounded
// store of the last packets, decoded on demand and written as pcapng.
//
// Capture is opt-in: it costs CPU. Everything it loses is counted: ring
// drops (tp_drops), decode errors, flows and hosts evicted from the
// bounded tables.
//
// Files: decode.go (per-packet decoding), stats.go (aggregation into
// bounded tables), store.go (the last packets; layer-by-layer decoding),
// pcapng.go (files in and out), filter.go (the tcpdump expression parser),
// bpf.go (its compiler to classic BPF), engine.go (the AF_PACKET ring and
// the read loop), collector.go (the collectors.Collector for the TUI) and
// cli.go (`netlens capture`).
//
// The filter compiler follows libpcap's code for a savefile: a packet is
// accepted exactly when tcpdump with the same expression accepts it
// (TestFilterMatchesTcpdump), including libpcap's rule that "vlan" shifts
// the offsets of every primitive after it. The kernel hands a socket filter
// frames with their 802.1Q tag taken off, so the program attached to the
// socket lets tagged frames through and the capture checks those again once
// gopacket has put the tag back.
package capture
