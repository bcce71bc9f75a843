// Package xfrm reads the kernel's IPsec state over NETLINK_XFRM, as
// `ip -s xfrm state` and `ip -s xfrm policy` list it, in the network
// namespace of the caller (or of Options.NetNS).
//
// One collection is two dumps on one NETLINK_XFRM socket:
//
//	XFRM_MSG_GETSA      every SA: struct xfrm_usersa_info (selector, id,
//	                    addresses, lifetime limits and current use,
//	                    xfrm_stats: replay window, replays, integrity
//	                    failures; reqid, mode) and its attributes
//	                    XFRMA_ALG_AEAD, _CRYPT, _AUTH, _AUTH_TRUNC, _COMP
//	                    (names and lengths only), XFRMA_REPLAY_VAL,
//	                    XFRMA_REPLAY_ESN_VAL, XFRMA_LTIME_VAL,
//	                    XFRMA_LASTUSED
//	XFRM_MSG_GETPOLICY  every policy: struct xfrm_userpolicy_info
//	                    (selector, lifetime, priority, index, dir, action)
//	                    and XFRMA_TMPL, XFRMA_POLICY_TYPE
//
// Keys: the kernel sends every SA's keys in its algorithm attributes.
// The decoder reads an algorithm's name and lengths and overwrites the
// key bytes with zeros in the received message before it returns, so no
// key outlives the decoding of its message; nothing the package returns
// holds one.
//
// Dumping the tables needs CAP_NET_ADMIN in the namespace's user
// namespace; without it Collect returns an error wrapping
// collectors.ErrPermission. A kernel without CONFIG_XFRM_USER (no
// NETLINK_XFRM) is collectors.ErrNotSupported. A dump the kernel flags
// NLM_F_DUMP_INTR (the tables changed while it ran) is redone a few
// times and then used as it is. Decoding is defensive: short or
// malformed messages are skipped and reported (ErrMalformed), never
// trusted; the decoders are fuzzed.
//
// The IPsec counters of /proc/net/xfrm_stat are the procnet collector's
// (layer ipsec); the UI shows them beside the tables.
package xfrm
