// Package conntrack collects the netfilter connection tracking table over
// ctnetlink (NETLINK_NETFILTER), what conntrack(8) shows: every flow with
// its tuples, NAT, state, mark, zone and counters, the per-CPU statistics
// of `conntrack -S`, and the table's fill (nf_conntrack_count against
// nf_conntrack_max).
//
// Messages are decoded with github.com/ti-mo/conntrack; the sockets are
// driven here, because ti-mo's Dump holds a whole dump in memory and its
// Listen stops on the first ENOBUFS:
//
//   - A full dump runs on the first Collect, on RequestDump, every
//     Config.Refresh (conntrack events carry no byte counts) and after
//     events were lost. It is streamed and holds at most Config.MaxFlows
//     flows (DefaultMaxFlows): past that, the flows with the most bytes.
//   - NEW/UPDATE/DESTROY events arrive on a separate socket with a large
//     receive buffer (SO_RCVBUFFORCE, else SO_RCVBUF) and are applied to
//     the table as they come; events that arrive during a dump are queued
//     and applied after it.
//   - A slow consumer: when the socket buffer fills, the kernel drops
//     events and the next read fails with ENOBUFS. netlens counts the
//     overrun, reads the exact number of dropped messages from the
//     socket's drop counter (SO_MEMINFO, SK_MEMINFO_DROPS), shows both in
//     model.ConntrackStats, and repairs the table with a re-dump. It does
//     not ask for reliable delivery (NETLINK_BROADCAST_ERROR), which would
//     make the kernel hold on to dying entries on its behalf.
//
// Everything needs CAP_NET_ADMIN in the namespace; without it Collect
// returns an error wrapping collectors.ErrPermission, after publishing the
// count and max that /proc/sys/net/netfilter still shows. Without
// nf_conntrack (no /proc/sys/net/netfilter/nf_conntrack_max) it returns
// collectors.ErrNotSupported.
package conntrack
