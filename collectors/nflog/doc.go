// Package nflog reads packets that nftables' "log group N" statement sends
// to user space over nfnetlink_log (NETLINK_NETFILTER, subsystem
// NFNL_SUBSYS_ULOG; include/uapi/linux/netfilter/nfnetlink_log.h): a
// client that binds one group in a network namespace and decodes each
// NFULNL_MSG_PACKET into a Packet with the L3/L4 tuple of its payload.
// It only reads; the nft filter backend (control/filter/nft) writes the
// rules that log and maps the packets back to netlens rules.
package nflog
