// SPDX-License-Identifier: GPL-2.0
/*
 * droptrace.c: netlens's drop tracer.
 *
 * It runs on the skb:kfree_skb tracepoint (include/trace/events/skb.h:
 * kfree_skb(skb, location, reason[, rx_sk])), which the kernel fires for
 * every packet it frees as dropped, with the drop reason (5.17+) and the
 * address of the code that freed it. For each drop in the namespace in
 * scope it counts the drop in a per-CPU counter and adds it to a hash
 * keyed by (netns, reason, location, interface, tuple, socket cookie);
 * user space drains it every refresh. Nothing is streamed per
 * packet by default: the cost stays a hash lookup and two atomic adds.
 * With sample_every set, one drop in sample_every per CPU (at most
 * sample_max a second per CPU) is also written, with its first
 * SAMPLE_BYTES of headers, to the samples ring buffer.
 *
 * Accounting (each drop in scope lands in CTR_SEEN and then either in
 * the flows map or in CTR_NOT_AGGREGATED):
 *   CTR_SEEN           drops in scope
 *   CTR_NOT_AGGREGATED the map refused the insert (full: no free element)
 *   CTR_NOT_PARSED     drops whose headers could not be read (still
 *                      aggregated, with an empty tuple)
 *   CTR_OTHER_NETNS    drops outside the namespace in scope (not counted
 *                      in CTR_SEEN)
 *   CTR_SAMPLED        drops chosen for the samples ring: each is then in
 *   CTR_EMITTED        written to the ring, or in
 *   CTR_LOST           not written: the ring was full or the per-second
 *                      cap was reached (CTR_LOST_LIMIT counts the latter)
 *
 * The flows are counted in one of two preallocated hashes (not LRUs: an
 * insert fails only when all max_entries elements are in use, and the
 * drop is then counted in CTR_NOT_AGGREGATED, so nothing is lost
 * silently, where an LRU evicts in batches, unread). The program finds
 * the one in use in the one-slot array of maps "flows"; user space
 * drains by putting the other, empty, hash in the slot, which waits for
 * every program still running with the old one to finish (the kernel's
 * synchronize_rcu for a map-in-map update from user space), and then
 * reads and empties the old hash, which no program writes any more.
 * Each drop is therefore read exactly once, and the program keeps the
 * cheap path: one lookup, then atomic adds through the pointer.
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char __license[] SEC("license") = "GPL";

/* Set by the loader before the program is loaded (.rodata is frozen, so
 * the verifier prunes the branches these decide). */
volatile const __u32 target_netns;    /* netns inode in scope; 0: all */
volatile const __u32 skip_reason_a = ~0U; /* SKB_NOT_DROPPED_YET on this kernel */
volatile const __u32 skip_reason_b = ~0U; /* SKB_CONSUMED on this kernel */
volatile const bool has_rx_sk;        /* the tracepoint has rx_sk (6.12+) */
volatile const __u32 sample_every;    /* sample one drop in this many per CPU; 0: off */
volatile const __u32 sample_max;      /* at most this many samples a second per CPU; 0: no cap */

enum counter {
	CTR_SEEN,
	CTR_NOT_AGGREGATED,
	CTR_NOT_PARSED,
	CTR_OTHER_NETNS,
	CTR_SAMPLED,
	CTR_EMITTED,
	CTR_LOST,
	CTR_LOST_LIMIT,
	CTR_MAX,
};

enum flow_flags {
	FLOW_PARSED = 1 << 0,   /* the tuple was read */
	FLOW_FRAGMENT = 1 << 1, /* an IP fragment */
	FLOW_L4 = 1 << 2,       /* ports or ICMP type/code were read */
};

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ICMPV6 58
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH 51
#define NEXTHDR_DEST 60
#define MAX_EXT_HDRS 8

/* flow_key is the aggregation key. No implicit padding: the verifier
 * wants every byte of a map key written, and user space decodes it by
 * offset (key.go). */
struct flow_key {
	__u64 location; /* address that freed the skb */
	__u64 cookie;   /* socket cookie, 0 without a socket */
	__u32 netns;    /* network namespace inode */
	__u32 reason;   /* enum skb_drop_reason */
	__u32 ifindex;  /* skb->dev, else skb->skb_iif */
	__u16 l3proto;  /* ethertype, host order */
	__u8 l4proto;   /* IPPROTO_* */
	__u8 flags;     /* enum flow_flags */
	__u8 saddr[16]; /* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u16 sport;    /* host order; ICMP: type */
	__u16 dport;    /* host order; ICMP: code */
	__u32 _pad;
};

struct flow_val {
	__u64 packets;
	__u64 bytes;    /* IP length when parsed, else skb->len */
	__u64 first_ns; /* bpf_ktime_get_ns at creation: tells incarnations apart */
	__u64 last_ns;
};

/* Never read: they make clang emit the full key and value types into the
 * object's BTF (referenced only from the inner map below, two pointers
 * deep, they would be forward declarations, which the loader cannot
 * size). They sit in .rodata, which the program has anyway. */
volatile const struct flow_key btf_flow_key;
volatile const struct flow_val btf_flow_val;

/* flows holds the hash in use, one of the two the flows are counted in
 * (the loader makes them, of the inner type below). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_HASH);
		__uint(max_entries, 16384); /* the loader sets the size */
		__type(key, struct flow_key);
		__type(value, struct flow_val);
	});
} flows SEC(".maps");

#define SAMPLE_BYTES 128

/* sample is one sampled drop in the samples ring. */
struct sample {
	__u64 ns;       /* bpf_ktime_get_ns */
	struct flow_key key;
	__u32 len;      /* the packet's length (as flow_val.bytes) */
	__u32 caplen;   /* bytes of data[] read, from the network header */
	__u8 data[SAMPLE_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024); /* the loader sets the size */
} samples SEC(".maps");

/* sample_state is one CPU's sampling state. */
struct sample_state {
	__u64 tick;      /* drops since the last sample */
	__u64 win_start; /* start of the current one-second window */
	__u64 win_count; /* samples taken in it */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sample_state);
} sample_states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CTR_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += 1; /* per-CPU: no other writer */
}

/* add_drop adds one drop to its flow in the hash in use. It returns 0,
 * or -1 when the hash is full (or, never in practice, none is in use). */
static __always_inline int add_drop(struct flow_key *k, __u64 len, __u64 now)
{
	__u32 zero = 0;
	void *m = bpf_map_lookup_elem(&flows, &zero);
	if (!m)
		return -1;
	struct flow_val *v = bpf_map_lookup_elem(m, k);
	if (!v) {
		struct flow_val nv = {.packets = 1, .bytes = len, .first_ns = now, .last_ns = now};
		long ret = bpf_map_update_elem(m, k, &nv, BPF_NOEXIST);
		if (ret != -EEXIST)
			return ret ? -1 : 0;
		/* Another CPU made it first. */
		v = bpf_map_lookup_elem(m, k);
		if (!v)
			return -1;
	}
	__sync_fetch_and_add(&v->packets, 1);
	__sync_fetch_and_add(&v->bytes, len);
	v->last_ns = now;
	return 0;
}

/* sample_drop decides whether this drop is sampled and writes it to the
 * samples ring with up to SAMPLE_BYTES from the network header. */
static __always_inline void sample_drop(struct flow_key *k, __u64 len, __u64 now,
					unsigned char *head, __u32 nhoff, __u32 tail)
{
	__u32 zero = 0;
	struct sample_state *st = bpf_map_lookup_elem(&sample_states, &zero);
	if (!st)
		return;
	if (++st->tick < sample_every)
		return;
	st->tick = 0;
	count(CTR_SAMPLED);
	if (sample_max) {
		if (now - st->win_start >= 1000000000ULL) {
			st->win_start = now;
			st->win_count = 0;
		}
		if (st->win_count >= sample_max) {
			count(CTR_LOST);
			count(CTR_LOST_LIMIT);
			return;
		}
		st->win_count++;
	}
	struct sample *e = bpf_ringbuf_reserve(&samples, sizeof(*e), 0);
	if (!e) {
		count(CTR_LOST);
		return;
	}
	e->ns = now;
	__builtin_memcpy(&e->key, k, sizeof(*k));
	e->len = len;
	__u32 n = 0;
	if (head && tail > nhoff)
		n = tail - nhoff;
	if (n > SAMPLE_BYTES)
		n = SAMPLE_BYTES;
	if (n && bpf_probe_read_kernel(e->data, n & (SAMPLE_BYTES * 2 - 1), head + nhoff))
		n = 0;
	e->caplen = n;
	count(CTR_EMITTED); /* before the sample can be read: Read <= Emitted */
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int read_l4(struct flow_key *k, unsigned char *p)
{
	__u16 ports[2];

	switch (k->l4proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		if (bpf_probe_read_kernel(ports, sizeof(ports), p))
			return -1;
		k->sport = bpf_ntohs(ports[0]);
		k->dport = bpf_ntohs(ports[1]);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		__u8 tc[2];
		if (bpf_probe_read_kernel(tc, sizeof(tc), p))
			return -1;
		k->sport = tc[0];
		k->dport = tc[1];
		break;
	}
	default:
		return 0;
	}
	k->flags |= FLOW_L4;
	return 0;
}

static __always_inline int parse_ipv4(struct flow_key *k, unsigned char *nh, __u64 *len)
{
	struct iphdr ip;

	if (bpf_probe_read_kernel(&ip, sizeof(ip), nh))
		return -1;
	__u32 ihl = (ip.ihl_version & 0x0f) * 4;
	if ((ip.ihl_version >> 4) != 4 || ihl < sizeof(ip))
		return -1;
	k->l3proto = ETH_P_IP;
	k->l4proto = ip.protocol;
	__builtin_memcpy(k->saddr, &ip.saddr, 4);
	__builtin_memcpy(k->daddr, &ip.daddr, 4);
	*len = bpf_ntohs(ip.tot_len);
	k->flags |= FLOW_PARSED;
	__u16 frag = bpf_ntohs(ip.frag_off);
	if (frag & 0x3fff) /* more fragments, or an offset */
		k->flags |= FLOW_FRAGMENT;
	if (frag & 0x1fff) /* not the first fragment: no L4 header */
		return 0;
	return read_l4(k, nh + ihl);
}

static __always_inline int parse_ipv6(struct flow_key *k, unsigned char *nh, __u64 *len)
{
	struct ipv6hdr ip;

	if (bpf_probe_read_kernel(&ip, sizeof(ip), nh))
		return -1;
	if ((bpf_ntohl(ip.vtc_flow) >> 28) != 6)
		return -1;
	k->l3proto = ETH_P_IPV6;
	__builtin_memcpy(k->saddr, ip.saddr, 16);
	__builtin_memcpy(k->daddr, ip.daddr, 16);
	*len = bpf_ntohs(ip.payload_len) + sizeof(ip);
	k->flags |= FLOW_PARSED;

	__u8 next = ip.nexthdr;
	__u32 off = sizeof(ip);
	for (int i = 0; i < MAX_EXT_HDRS; i++) {
		__u8 h[8];
		switch (next) {
		case NEXTHDR_HOP:
		case NEXTHDR_ROUTING:
		case NEXTHDR_DEST:
			if (bpf_probe_read_kernel(h, 2, nh + off))
				return -1;
			next = h[0];
			off += ((__u32)h[1] + 1) * 8;
			continue;
		case NEXTHDR_AUTH:
			if (bpf_probe_read_kernel(h, 2, nh + off))
				return -1;
			next = h[0];
			off += ((__u32)h[1] + 2) * 4;
			continue;
		case NEXTHDR_FRAGMENT: {
			if (bpf_probe_read_kernel(h, 8, nh + off))
				return -1;
			k->flags |= FLOW_FRAGMENT;
			k->l4proto = h[0];
			if ((((__u16)h[2] << 8) | h[3]) & 0xfff8)
				return 0; /* not the first fragment */
			next = h[0];
			off += 8;
			continue;
		}
		}
		break;
	}
	k->l4proto = next;
	return read_l4(k, nh + (off & 0xffff));
}

#define HANDLE handle_btf
#define RD(p, f) ((p)->f)
#define RD_NETNS(p, nf) ((p)->nf.net->ns.inum)
#include "handle.h"
#undef HANDLE
#undef RD
#undef RD_NETNS

#define HANDLE handle_raw
#define RD(p, f) BPF_CORE_READ(p, f)
#define RD_NETNS(p, nf) BPF_CORE_READ(p, nf.net, ns.inum)
#include "handle.h"
#undef HANDLE
#undef RD
#undef RD_NETNS

/* kfree_skb_btf: BTF-typed tracepoint (5.5+ with CONFIG_DEBUG_INFO_BTF). */
SEC("tp_btf/kfree_skb")
int kfree_skb_btf(__u64 *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx[0];
	struct sock *sk = 0;
	if (has_rx_sk)
		sk = (struct sock *)ctx[3];
	if (!sk)
		sk = skb->sk;
	return handle_btf(ctx, skb, sk);
}

/* kfree_skb_raw: raw tracepoint, for kernels without BTF of their own
 * (CO-RE then needs the BTF from elsewhere). */
SEC("raw_tp/kfree_skb")
int kfree_skb_raw(struct bpf_raw_tracepoint_args *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx->args[0];
	struct sock *sk = 0;
	if (has_rx_sk)
		sk = (struct sock *)ctx->args[3];
	if (!sk)
		sk = BPF_CORE_READ(skb, sk);
	return handle_raw(ctx->args, skb, sk);
}
