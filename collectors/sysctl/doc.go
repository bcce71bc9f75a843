// Package sysctl reads every network sysctl under /proc/sys/net and marks
// the ones worth watching when troubleshooting.
//
// Names are dotted as sysctl(8) prints them: the path below /proc/sys with
// '/' turned into '.', and a '.' inside a path element (an interface name
// such as eth0.100) turned into '/', so /proc/sys/net/ipv4/conf/eth0.100/
// rp_filter is net.ipv4.conf.eth0/100.rp_filter. Values have every run of
// whitespace (the tabs between tcp_rmem's three numbers, a newline)
// replaced by one space and the ends trimmed, so a value is one line of
// single-spaced words. (procps-ng 4.0 sysctl -a prints the tabs as they
// are; the words are the same.)
//
// Entries that cannot be read are skipped and counted, not errors:
// write-only ones (net.ipv4.route.flush), ones that fail by design
// (net.ipv6.conf.*.stable_secret gives EIO until set), and ones the
// caller's privileges do not allow. Unlike sysctl -a, the deprecated
// neigh base_reachable_time and retrans_time are kept (sysctl shows them
// with --deprecated).
//
// Collector publishes the table as a model.SysctlsUpdate.
package sysctl
