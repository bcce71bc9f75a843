// Package bench times a full drop-funnel sample against the peer tools
// an engineer would run instead (nstat -az, ip -s link, tc -s qdisc), in
// a network namespace with 32 veth pairs (64 interfaces, each with a
// qdisc) on this machine's CPUs' softnet. It holds only benchmarks; run
// them with run.sh, which writes RESULTS.md.
package bench
