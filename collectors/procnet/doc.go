// Package procnet reads the kernel's network counters from /proc/net and
// turns them into model.RawCounter values, each tagged with the layer of
// the stack it belongs to.
//
// Files and who parses them:
//
//	/proc/net/snmp          Ip, Icmp, IcmpMsg, Tcp, Udp, UdpLite   own parser
//	/proc/net/netstat       TcpExt, IpExt, MPTcpExt, ...           own parser
//	/proc/net/snmp6         Ip6, Icmp6, Udp6, UdpLite6             own parser
//	/proc/net/softnet_stat  per CPU                                own parser
//	/proc/net/dev           per interface                          own parser
//	/proc/net/sockstat(6)   socket and fragment gauges             prometheus/procfs
//	/proc/net/xfrm_stat     IPsec (when CONFIG_XFRM_STATISTICS)    own parser
//
// prometheus/procfs parses most of these files too, but into fixed structs:
// it drops every field it does not know (new kernels add fields often:
// Ip OutTransmits, MPTcpExt, XfrmOutNoQueueSpace, softnet input_qlen), keeps
// snmp and netstat values as float64 (exact only below 2^53), reports errors
// without the line, and its /proc/net/dev parser indexes fields without a
// bounds check (a short line panics). So it is used only for sockstat, where
// its structs hold every field current kernels print.
//
// Each file has a reader named after it that takes a proc root ("/proc" for
// the host's view, "/proc/thread-self" for the network namespace of the
// calling thread, a testdata directory in tests), and a pure
// parseX(io.Reader) that tests and fuzzers call. Counters keep the kernel's
// names: Source is the canonical path ("/proc/net/snmp", whatever the proc
// root), Group the kernel's group ("Udp", "TcpExt", "Ip6"), Name the field
// ("InErrors"), so Group+Name is the name nstat(8) prints.
//
// Layers: Ip, IpExt, Icmp, IcmpMsg, Ip6, Icmp6 and sockstat's FRAG lines
// are ip; Tcp, Udp, UdpLite, Udp6, UdpLite6, TcpExt and MPTcpExt are
// transport (except TcpExt IPReversePathFilter and ArpFilter, drops made
// by routing and ARP, at ip); the rest of sockstat is socket; dev is nic,
// softnet_stat softnet, xfrm_stat ipsec.
//
// Kinds: settings and current levels are gauges (Ip Forwarding and
// DefaultTTL; Tcp RtoAlgorithm, RtoMin, RtoMax, MaxConn and CurrEstab;
// MPTcpExt MPCurrEstab; softnet backlog_len, input_qlen, process_qlen;
// all of sockstat); everything else is a counter. A negative value is
// skipped: the kernel prints one only for Tcp MaxConn (-1, "no limit"),
// which a uint64 cannot hold and is not a quantity.
//
// Collector reads all of them on every tick and publishes one
// model.CountersUpdate.
package procnet
