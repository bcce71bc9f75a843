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
volatile const __u32 sample_max;      /* at most this many samples a second per CPU; 0: no cap */

/* Set by user space at any time (.bss, mapped writable): the Drops tab
 * switches the sampled stream on and off while the program runs. Off,
 * it costs the program one load and a branch per drop. */
volatile __u32 sample_every;          /* sample one drop in this many per CPU; 0: off */

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
	__u64 first_ns; /* drop_time() at creation */
	__u64 last_ns;  /* drop_time() of the latest drop */
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

/* tick_clock is one CPU's clock of the current tick: the jiffy of this
 * CPU's first drop in it and bpf_ktime_get_ns read then. */
struct tick_clock {
	__u64 jiffies;
	__u64 ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tick_clock);
} tick_clocks SEC(".maps");

/* drop_time returns the time of a drop, CLOCK_MONOTONIC in ns, to a tick
 * (1-10 ms with the kernel's HZ): the bpf_ktime_get_ns of this CPU's
 * first drop in the current tick. Reading the clock source costs about
 * 80 ns a call in a VM (a quarter of the program, measured with the
 * kernel's BPF statistics); bpf_jiffies64 is a memory read, so under a
 * flood the clock is read once a tick per CPU. The coarse clock would do
 * the same, but tracing programs may not call bpf_ktime_get_coarse_ns. */
static __always_inline __u64 drop_time(void)
{
	__u32 zero = 0;
	struct tick_clock *c = bpf_map_lookup_elem(&tick_clocks, &zero);
	if (!c)
		return bpf_ktime_get_ns();
	__u64 j = bpf_jiffies64();
	if (c->jiffies != j || !c->ns) {
		c->jiffies = j;
		c->ns = bpf_ktime_get_ns();
	}
	return c->ns;
}

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
	e->ns = bpf_ktime_get_ns(); /* not now: a sample's time is exact */
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

/* HDR_BYTES is what the program reads of a packet in one
 * bpf_probe_read_kernel: an IPv6 header and the 8 bytes after it, or an
 * IPv4 header without options and 28 after it, so the common drop (TCP,
 * UDP, ICMP right after the IP header) costs one helper call. IP options
 * and IPv6 extension headers take more reads. The skb's data area is
 * followed by its skb_shared_info in the same allocation, so the read does
 * not leave it; should it fail, the program reads the 40 bytes of an IPv6
 * header (or an IPv4 header with up to 20 of options) alone. */
#define HDR_BYTES 48
#define IPV4_HLEN 20
#define IPV6_HLEN 40

/* l4_from fills the ports, or ICMP type and code, from the first bytes of
 * the L4 header at p. */
static __always_inline void l4_from(struct flow_key *k, const __u8 *p)
{
	switch (k->l4proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		k->sport = ((__u16)p[0] << 8) | p[1];
		k->dport = ((__u16)p[2] << 8) | p[3];
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		k->sport = p[0];
		k->dport = p[1];
		break;
	default:
		return;
	}
	k->flags |= FLOW_L4;
}

/* read_l4 reads the L4 header at p (beyond what was read with the IP
 * header) and fills the key from it. */
static __always_inline int read_l4(struct flow_key *k, unsigned char *p)
{
	__u8 b[4];

	switch (k->l4proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (bpf_probe_read_kernel(b, sizeof(b), p))
			return -1;
		l4_from(k, b);
	}
	return 0;
}

/* parse_ipv4 fills the key from the IPv4 header in b (avail bytes of it
 * read from nh). */
static __always_inline int parse_ipv4(struct flow_key *k, unsigned char *nh, const __u8 *b,
				      __u32 avail, __u64 *len)
{
	const struct iphdr *ip = (const void *)b;

	__u32 ihl = (ip->ihl_version & 0x0f) * 4;
	if ((ip->ihl_version >> 4) != 4 || ihl < IPV4_HLEN)
		return -1;
	k->l3proto = ETH_P_IP;
	k->l4proto = ip->protocol;
	__builtin_memcpy(k->saddr, &ip->saddr, 4);
	__builtin_memcpy(k->daddr, &ip->daddr, 4);
	*len = bpf_ntohs(ip->tot_len);
	k->flags |= FLOW_PARSED;
	__u16 frag = bpf_ntohs(ip->frag_off);
	if (frag & 0x3fff) /* more fragments, or an offset */
		k->flags |= FLOW_FRAGMENT;
	if (frag & 0x1fff) /* not the first fragment: no L4 header */
		return 0;
	if (ihl == IPV4_HLEN && avail >= IPV4_HLEN + 4) {
		l4_from(k, b + IPV4_HLEN);
		return 0;
	}
	return read_l4(k, nh + ihl);
}

/* parse_ipv6 fills the key from the IPv6 header in b (avail bytes read
 * from nh), walking extension headers with further reads. */
static __always_inline int parse_ipv6(struct flow_key *k, unsigned char *nh, const __u8 *b,
				      __u32 avail, __u64 *len)
{
	const struct ipv6hdr *ip = (const void *)b;

	if ((b[0] >> 4) != 6)
		return -1;
	k->l3proto = ETH_P_IPV6;
	__builtin_memcpy(k->saddr, ip->saddr, 16);
	__builtin_memcpy(k->daddr, ip->daddr, 16);
	*len = bpf_ntohs(ip->payload_len) + IPV6_HLEN;
	k->flags |= FLOW_PARSED;

	__u8 next = ip->nexthdr;
	switch (next) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_ICMPV6:
		/* No extension header: the L4 header was read with it. */
		k->l4proto = next;
		if (avail < HDR_BYTES)
			return read_l4(k, nh + IPV6_HLEN);
		l4_from(k, b + IPV6_HLEN);
		return 0;
	}
	__u32 off = IPV6_HLEN;
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

/* parse_hdr fills the key from the IP header at b, avail bytes of the
 * packet from nh (b is nh itself where the program may load from the
 * packet directly, else a copy on the stack); proto is skb->protocol in
 * host order. It returns 0, or -1 when the headers could not be read. */
static __always_inline int parse_hdr(struct flow_key *k, unsigned char *nh, const __u8 *b, __u32 avail,
				     __u16 *proto, __u64 *len)
{
	if (*proto != ETH_P_IP && *proto != ETH_P_IPV6) {
		/* Not set yet (an skb on its way out): the version nibble says. */
		__u8 v = b[0] >> 4;
		if (v == 4)
			*proto = ETH_P_IP;
		else if (v == 6)
			*proto = ETH_P_IPV6;
		else
			return -1;
	}
	if (*proto == ETH_P_IP)
		return parse_ipv4(k, nh, b, avail, len);
	return parse_ipv6(k, nh, b, avail, len);
}

/* parse_ip reads the IP header at nh (and the L4 header after it) into
 * the stack with one bpf_probe_read_kernel and fills the key from it. */
static __always_inline int parse_ip(struct flow_key *k, unsigned char *nh, __u16 *proto, __u64 *len)
{
	__u8 b[HDR_BYTES];
	__u32 avail = HDR_BYTES;

	if (bpf_probe_read_kernel(b, HDR_BYTES, nh)) {
		avail = IPV6_HLEN;
		if (bpf_probe_read_kernel(b, IPV6_HLEN, nh))
			return -1;
	}
	return parse_hdr(k, nh, b, avail, proto, len);
}

/* parse_ip_direct fills the key from the headers at nh, loaded directly:
 * recent kernels (6.18 here; not 6.1) type skb->head in a tp_btf program
 * as read-only untrusted memory, read with faulting loads (a fault reads
 * as 0), which costs no helper call. On older kernels the verifier
 * refuses it and the loader takes the program that copies with
 * bpf_probe_read_kernel. */
static __always_inline int parse_ip_direct(struct flow_key *k, unsigned char *nh, __u16 *proto, __u64 *len)
{
	return parse_hdr(k, nh, (const __u8 *)nh, HDR_BYTES, proto, len);
}

#define HANDLE handle_btf
#define RD(p, f) ((p)->f)
#define RD_NETNS(p, nf) ((p)->nf.net->ns.inum)
#define PARSE_IP parse_ip
#include "handle.h"
#undef HANDLE
#undef PARSE_IP

#define HANDLE handle_btf_direct
#define PARSE_IP parse_ip_direct
#include "handle.h"
#undef HANDLE
#undef PARSE_IP
#undef RD
#undef RD_NETNS

#define HANDLE handle_raw
#define PARSE_IP parse_ip
#define RD(p, f) BPF_CORE_READ(p, f)
#define RD_NETNS(p, nf) BPF_CORE_READ(p, nf.net, ns.inum)
#include "handle.h"
#undef HANDLE
#undef RD
#undef RD_NETNS

/* btf_sk returns the socket of a drop: rx_sk where the tracepoint has
 * it, else skb->sk. */
static __always_inline struct sock *btf_sk(__u64 *ctx, struct sk_buff *skb)
{
	struct sock *sk = 0;
	if (has_rx_sk)
		sk = (struct sock *)ctx[3];
	if (!sk)
		sk = skb->sk;
	return sk;
}

/* kfree_skb_btf_direct: BTF-typed tracepoint reading the packet's
 * headers with direct loads (recent kernels: see parse_ip_direct). */
SEC("tp_btf/kfree_skb")
int kfree_skb_btf_direct(__u64 *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx[0];
	return handle_btf_direct(ctx, skb, btf_sk(ctx, skb));
}

/* kfree_skb_btf: BTF-typed tracepoint (5.5+ with CONFIG_DEBUG_INFO_BTF). */
SEC("tp_btf/kfree_skb")
int kfree_skb_btf(__u64 *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx[0];
	return handle_btf(ctx, skb, btf_sk(ctx, skb));
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
