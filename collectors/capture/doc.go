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
// Files: decode.go (per-packet decoding), stats.go (aggregation),
// store.go (the last packets; layer-by-layer decoding), pcapng.go (files in
// and out), filter.go (the tcpdump expression parser), bpf.go (its
// compiler to classic BPF), live.go (the AF_PACKET ring), collector.go (the
// collectors.Collector for the TUI) and cli.go (`netlens capture`).
package capture
