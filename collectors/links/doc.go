// Package links reads every network interface of a namespace for the
// Interfaces tab: what `ip -s -s -d link`, `ip addr`, `ethtool -S`,
// `tc -s qdisc show` and `tc -s class show` print, in one model value
// per interface, with rates from one refresh to the next.
//
// One collection is, on one NETLINK_ROUTE socket opened in the
// namespace (Options.NetNS, else the caller's):
//
//	RTM_GETLINK    every link: IFLA_IFNAME, IFLA_LINKINFO (IFLA_INFO_KIND,
//	               a VLAN's IFLA_VLAN_ID), IFLA_OPERSTATE, IFLA_CARRIER,
//	               IFLA_MTU, IFLA_ADDRESS, IFLA_MASTER, IFLA_LINK,
//	               IFLA_QDISC, IFLA_TXQLEN and IFLA_STATS64
//	RTM_GETADDR    every IPv4 and IPv6 address with its prefix and scope
//	RTM_GETQDISC   every qdisc with TCA_STATS2
//	RTM_GETTCLASS  the classes of each interface whose root qdisc is
//	               not noqueue (the kernel dumps classes per interface)
//
// and, on a datagram socket opened in the same namespace, the driver's
// extended statistics over the SIOCETHTOOL ioctl (ETHTOOL_GSSET_INFO,
// ETHTOOL_GSTRINGS, ETHTOOL_GSTATS: what `ethtool -S` prints; the
// ethtool genetlink family has no message for the driver's own
// strings-and-values statistics, ETHTOOL_MSG_STATS covers only the
// standard groups). The names are kept per interface and read again when
// their count changes or every NamesEvery samples.
//
// Rates are bits and packets per second over the time between two
// samples of the same interface (same index and name); an interface seen
// for the first time, or whose counters went backwards, has no rate
// (InterfaceRate.Known false) rather than a spike.
//
// A dump the kernel flags NLM_F_DUMP_INTR is redone a few times and then
// used as it is. Attribute decoding is defensive: short or malformed
// attributes are skipped or reported, never trusted; the decoders are
// fuzzed.
package links
