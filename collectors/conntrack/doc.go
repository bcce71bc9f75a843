// Package conntrack collects the netfilter connection tracking table over
// ctnetlink (NETLINK_NETFILTER), what conntrack(8) shows: every flow with
// its tuples, NAT, state, mark, zone and counters, the per-CPU statistics
// of `conntrack -S`, and the table's fill (nf_conntrack_count against
// nf_conntrack_max).
//
// Events are decoded with github.com/ti-mo/conntrack; the sockets are
// driven here, because ti-mo's Dump holds a whole dump in memory and its
// Listen stops on the first ENOBUFS. Dumps are decoded by decode.go, in
// place from a few reused buffers and with no allocation per entry
// (ti-mo's decoder made a 100,000-entry dump twice as slow as `conntrack
// -L`; a differential fuzz test keeps the two decoders equal), while a
// reader goroutine receives the next datagram (dump.go): the kernel's
// filling of the dump, most of its cost, overlaps the decoding.
//
//   - A full dump runs on the first Collect, on RequestDump, every
//     Config.Refresh (conntrack events carry no byte counts) and after
//     events were lost. With Config.Demand (the TUI), the dump of every
//     Refresh is made only while the counters are wanted, as long as
//     events keep the table current. It is streamed and holds at most Config.MaxFlows
//     flows (DefaultMaxFlows): past that, the flows with the most bytes.
//     It runs on the collector's own goroutine and socket: Collect waits
//     for it while its context lasts, and a dump that outlasts one run is
//     published by the next.
//   - NEW/UPDATE/DESTROY events arrive on a separate socket with a large
//     receive buffer (SO_RCVBUFFORCE, else SO_RCVBUF) and are applied to
//     the table as they come; events that arrive during a dump are queued
//     and applied after it, in order.
//   - A slow consumer: when the socket buffer fills, the kernel drops
//     events and the next read fails with ENOBUFS. netlens counts the
//     overrun, reads the exact number of dropped messages from the
//     socket's drop counter (SO_MEMINFO, SK_MEMINFO_DROPS), shows both in
//     model.ConntrackStats, and repairs the table with a re-dump. Loss is
//     also caught from the drop counter alone (the kernel reports ENOBUFS
//     once per congestion episode). Before that re-dump the event socket
//     is replaced: the events still queued on the old one are older than
//     the dump and, with gaps, would replay flows into stale states. It
//     does not ask for reliable delivery (NETLINK_BROADCAST_ERROR), which
//     would make the kernel hold on to dying entries on its behalf.
//
// Everything needs CAP_NET_ADMIN in the namespace; without it Collect
// returns an error wrapping collectors.ErrPermission, after publishing the
// count and max that /proc/sys/net/netfilter still shows. Without
// nf_conntrack (no /proc/sys/net/netfilter/nf_conntrack_max) it returns
// collectors.ErrNotSupported.
package conntrack
