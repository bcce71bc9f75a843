// SPDX-License-Identifier: GPL-2.0
/*
 * tcpiter.c: every TCP socket of a network namespace with what sock_diag
 * reports of it (inet_diag_msg, INET_DIAG_INFO, INET_DIAG_CONG,
 * INET_DIAG_SKMEMINFO's drops), one fixed-size record per socket: a
 * struct tcprec, or with counters_only the smaller struct tcpcnt.
 *
 * A TCP iterator (iter/tcp, Linux 5.9+) runs the program for each socket
 * of the listening and established hash tables of the namespace the
 * reader opened it in (bpf_iter_init_seq_net): full sockets, TIME-WAIT
 * and request (NEW_SYN_RECV) sockets, IPv4 and IPv6. The kernel holds the
 * socket's lock (lock_sock_fast) while the program runs, as tcp_get_info
 * does. The record is what inet_sk_diag_fill, inet_twsk_diag_fill,
 * inet_req_diag_fill and tcp_get_info (net/ipv4/inet_diag.c, tcp_diag.c,
 * tcp.c) would put in a sock_diag reply, except that times kept in
 * jiffies are written as jiffies: the Go side (tcpiter.go) converts them
 * with the kernel's HZ as jiffies_to_usecs and jiffies_to_msecs do, and
 * computes the delivery rate and the chrono times. User space reads the
 * records with read(2) in large chunks: no netlink message, no attribute
 * to walk.
 *
 * The fields follow tcp_get_info of Linux 6.x (6.18 here: tcpi_ato
 * clamped by tcp_delack_max, sk_ino, sk_drops_read); a kernel lacking a
 * field this program reads fails its CO-RE relocation at load, and the
 * collector then reads TCP from sock_diag.
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char __license[] SEC("license") = "GPL";

/*
 * counters_only, set at load (tcpiter.go, Options.TCPCountersOnly), fills
 * of a full socket's tcp_info only what rates need: the byte and
 * retransmit counters and the chrono times. The rest of tcp_info lies on
 * a dozen more cache lines of the socket (icsk, the route, the pacing and
 * window fields): skipping them takes about a quarter off the kernel's
 * walk of a cold table (docs/performance.md, "Counters-only reads"). Its
 * records are struct tcpcnt (120 bytes, FLAG_COUNTERS), not struct
 * tcprec (280): the kernel copies less than half as much to the seq_file
 * buffer and then to user space.
 */
volatile const __u32 counters_only = 0;

#define AF_INET6 10
#define TCP_SYN_RECV 3
#define TCP_TIME_WAIT 6
#define TCP_LISTEN 10
#define TCP_NEW_SYN_RECV 12

#define RTAX_LOCK 1
#define RTAX_RTO_MIN 13
#define DST_METRICS_FLAGS 0x3UL

/* Kinds of socket (struct rechdr.kind). */
#define KIND_FULL 0 /* a full socket (struct sock) */
#define KIND_TW 1   /* a TIME-WAIT socket (struct inet_timewait_sock) */
#define KIND_REQ 2  /* a request socket (struct request_sock) */

/* struct rechdr.flags */
#define FLAG_TCP 1         /* a tcp_sock: the tcp_info fields are set */
#define FLAG_DST_RTO_MIN 2 /* its route locks rto_min: dst_rto_min_ms */
#define FLAG_COUNTERS 4    /* counters_only: a struct tcpcnt, not a struct tcprec */

/*
 * struct rechdr begins every record: the socket's identity, state and
 * queues. The Go side (tcpiter.go, tcpRecLen and decodeRec) reads it in
 * native byte order at the same offsets in both layouts below, and tells
 * them apart by FLAG_COUNTERS in flags.
 */
struct rechdr {
	__u64 cookie;
	__u64 ino;
	__u32 saddr[4]; /* network order; IPv4 in saddr[0] */
	__u32 daddr[4];
	__u16 sport; /* host order */
	__be16 dport;
	__u8 family;
	__u8 state; /* as sock_diag reports it */
	__u8 kind;
	__u8 flags;
	__u32 uid;
	__s32 ifindex;
	__u32 rqueue;
	__u32 wqueue;
	__u32 drops;
} __attribute__((packed, aligned(4))); /* 76 bytes, not padded to 80 */

/* struct chrono is tcp_sock's chrono times, in both records. */
struct chrono {
	__u32 stat[3]; /* jiffies: chrono_stat */
	__u32 since;   /* jiffies since chrono_start */
	__u32 type;    /* chrono_type */
};

/*
 * struct tcprec is the record of the full iterator (counters_only unset):
 * the header, then tcp_info. Times marked "jiffies" are raw; "since"
 * ones are tcp_jiffies32 minus the kernel's time stamp.
 */
struct tcprec {
	struct rechdr h;
	/* tcp_info */
	__u8 ca_state;
	__u8 retransmits;
	__u8 backoff;
	__u8 app_limited;
	__u32 rto;        /* jiffies */
	__u32 ato;        /* jiffies: icsk_ack.ato */
	__u32 delack_max; /* jiffies */
	__u32 rto_min;    /* jiffies */
	__u32 dst_rto_min_ms;
	__u32 snd_mss;
	__u32 rcv_mss;
	__u32 unacked;
	__u32 sacked;
	__u32 lost;
	__u32 retrans;
	__u32 data_sent_since; /* jiffies */
	__u32 data_recv_since; /* jiffies */
	__u32 pmtu;
	__u32 rtt; /* us */
	__u32 rttvar;
	__u32 snd_ssthresh;
	__u32 snd_cwnd;
	__u32 reordering;
	__u32 total_retrans;
	__u64 pacing_rate;
	__u64 max_pacing_rate;
	__u64 bytes_acked;
	__u64 bytes_received;
	__u32 segs_out;
	__u32 segs_in;
	__u32 notsent_bytes;
	__u32 min_rtt;
	__u32 data_segs_in;
	__u32 data_segs_out;
	__u32 rate_delivered;
	__u32 rate_interval_us;
	struct chrono chrono;
	__u32 pad;
	__u64 bytes_sent;
	__u64 bytes_retrans;
	char cong[16];
};

/*
 * struct tcpcnt is the record of the counters-only iterator, every one
 * of its sockets' (FLAG_COUNTERS set in h.flags): the header, then what
 * rates need. Less than half of struct tcprec: the kernel copies, and
 * user space reads, that much less per socket.
 */
struct tcpcnt {
	struct rechdr h;
	__u32 total_retrans;
	__u64 bytes_acked;
	__u64 bytes_received;
	struct chrono chrono;
};

/* The offsets tcpiter.go reads the records at (TestTCPRecLayout reads
 * these lines). */
#define RECORD_OFFSET(f, off) _Static_assert(__builtin_offsetof(struct tcprec, f) == off, #f)
#define RECORD_SIZE(n) _Static_assert(sizeof(struct tcprec) == n, "sizeof")
RECORD_OFFSET(h.cookie, 0);
RECORD_OFFSET(h.ino, 8);
RECORD_OFFSET(h.saddr, 16);
RECORD_OFFSET(h.daddr, 32);
RECORD_OFFSET(h.sport, 48);
RECORD_OFFSET(h.dport, 50);
RECORD_OFFSET(h.family, 52);
RECORD_OFFSET(h.state, 53);
RECORD_OFFSET(h.kind, 54);
RECORD_OFFSET(h.flags, 55);
RECORD_OFFSET(h.uid, 56);
RECORD_OFFSET(h.ifindex, 60);
RECORD_OFFSET(h.rqueue, 64);
RECORD_OFFSET(h.wqueue, 68);
RECORD_OFFSET(h.drops, 72);
RECORD_OFFSET(ca_state, 76);
RECORD_OFFSET(retransmits, 77);
RECORD_OFFSET(backoff, 78);
RECORD_OFFSET(app_limited, 79);
RECORD_OFFSET(rto, 80);
RECORD_OFFSET(ato, 84);
RECORD_OFFSET(delack_max, 88);
RECORD_OFFSET(rto_min, 92);
RECORD_OFFSET(dst_rto_min_ms, 96);
RECORD_OFFSET(snd_mss, 100);
RECORD_OFFSET(rcv_mss, 104);
RECORD_OFFSET(unacked, 108);
RECORD_OFFSET(sacked, 112);
RECORD_OFFSET(lost, 116);
RECORD_OFFSET(retrans, 120);
RECORD_OFFSET(data_sent_since, 124);
RECORD_OFFSET(data_recv_since, 128);
RECORD_OFFSET(pmtu, 132);
RECORD_OFFSET(rtt, 136);
RECORD_OFFSET(rttvar, 140);
RECORD_OFFSET(snd_ssthresh, 144);
RECORD_OFFSET(snd_cwnd, 148);
RECORD_OFFSET(reordering, 152);
RECORD_OFFSET(total_retrans, 156);
RECORD_OFFSET(pacing_rate, 160);
RECORD_OFFSET(max_pacing_rate, 168);
RECORD_OFFSET(bytes_acked, 176);
RECORD_OFFSET(bytes_received, 184);
RECORD_OFFSET(segs_out, 192);
RECORD_OFFSET(segs_in, 196);
RECORD_OFFSET(notsent_bytes, 200);
RECORD_OFFSET(min_rtt, 204);
RECORD_OFFSET(data_segs_in, 208);
RECORD_OFFSET(data_segs_out, 212);
RECORD_OFFSET(rate_delivered, 216);
RECORD_OFFSET(rate_interval_us, 220);
RECORD_OFFSET(chrono.stat, 224);
RECORD_OFFSET(chrono.since, 236);
RECORD_OFFSET(chrono.type, 240);
RECORD_OFFSET(bytes_sent, 248);
RECORD_OFFSET(bytes_retrans, 256);
RECORD_OFFSET(cong, 264);
RECORD_SIZE(280);

#define COUNTERS_OFFSET(f, off) _Static_assert(__builtin_offsetof(struct tcpcnt, f) == off, #f)
#define COUNTERS_SIZE(n) _Static_assert(sizeof(struct tcpcnt) == n, "sizeof")
COUNTERS_OFFSET(h, 0);
COUNTERS_OFFSET(total_retrans, 76);
COUNTERS_OFFSET(bytes_acked, 80);
COUNTERS_OFFSET(bytes_received, 88);
COUNTERS_OFFSET(chrono.stat, 96);
COUNTERS_OFFSET(chrono.since, 108);
COUNTERS_OFFSET(chrono.type, 112);
COUNTERS_SIZE(120);
_Static_assert(sizeof(struct rechdr) == 76, "sizeof(struct rechdr)");

/* sock_ino is sock_i_ino(sk): sk->sk_ino from Linux 6.18, before that the
 * inode allocated with the struct socket (one cache miss, where
 * sk_socket->file->f_inode would be three). */
static __always_inline __u64 sock_ino(struct sock *sk)
{
	struct socket_alloc *sa;
	__u64 ino = 0;

	if (bpf_core_field_exists(sk->sk_ino))
		return sk->sk_ino;
	sa = (struct socket_alloc *)sk->sk_socket;
	if (sa)
		bpf_probe_read_kernel(&ino, sizeof(ino), &sa->vfs_inode.i_ino);
	return ino;
}

/* sock_drops is sk_drops_read(sk), what INET_DIAG_SKMEMINFO reports. */
static __always_inline __u32 sock_drops(struct sock *sk)
{
	if (bpf_core_field_exists(sk->sk_drop_counters)) {
		struct numa_drop_counters *ndc = sk->sk_drop_counters;

		if (ndc)
			return ndc->drops0.counter + ndc->drops1.counter;
	}
	return sk->sk_drops.counter;
}

/* chrono_fill reads tp's chrono times at jiffies now. */
static __always_inline void chrono_fill(struct chrono *c, struct tcp_sock *tp, __u32 now)
{
	c->stat[0] = tp->chrono_stat[0];
	c->stat[1] = tp->chrono_stat[1];
	c->stat[2] = tp->chrono_stat[2];
	c->type = BPF_CORE_READ_BITFIELD(tp, chrono_type);
	c->since = now - tp->chrono_start;
}

/* tcp_fill is the part of tcp_get_info past the listener's fields. */
static __always_inline void tcp_fill(struct tcprec *r, struct sock *sk, struct tcp_sock *tp)
{
	struct inet_connection_sock *icsk = (struct inet_connection_sock *)tp;
	struct dst_entry *dst;
	__u32 now = (__u32)bpf_jiffies64();
	__u32 seq;

	r->h.rqueue = tp->rcv_nxt - tp->copied_seq;
	if ((__s32)r->h.rqueue < 0)
		r->h.rqueue = 0;
	r->h.wqueue = tp->write_seq - tp->snd_una;

	r->ca_state = BPF_CORE_READ_BITFIELD(icsk, icsk_ca_state);
	r->retransmits = icsk->icsk_retransmits;
	r->backoff = icsk->icsk_backoff;
	r->rto = icsk->icsk_rto;
	r->ato = BPF_CORE_READ_BITFIELD(icsk, icsk_ack.ato);
	r->delack_max = icsk->icsk_delack_max;
	r->rto_min = icsk->icsk_rto_min;
	/* tcp_rto_min: a route's locked rto_min metric overrides the socket's. */
	dst = sk->sk_dst_cache;
	if (dst) {
		unsigned long m = dst->_metrics & ~DST_METRICS_FLAGS;
		__u32 lock = 0;

		if (m && !bpf_probe_read_kernel(&lock, sizeof(lock), (void *)(m + 4 * (RTAX_LOCK - 1))) &&
		    (lock & (1 << RTAX_RTO_MIN)) &&
		    !bpf_probe_read_kernel(&r->dst_rto_min_ms, sizeof(__u32), (void *)(m + 4 * (RTAX_RTO_MIN - 1))))
			r->h.flags |= FLAG_DST_RTO_MIN;
	}
	r->snd_mss = tp->mss_cache;
	r->rcv_mss = icsk->icsk_ack.rcv_mss;
	r->unacked = tp->packets_out;
	r->sacked = tp->sacked_out;
	r->lost = tp->lost_out;
	r->retrans = tp->retrans_out;
	r->data_sent_since = now - tp->lsndtime;
	r->data_recv_since = now - icsk->icsk_ack.lrcvtime;
	r->pmtu = icsk->icsk_pmtu_cookie;
	r->rtt = tp->srtt_us >> 3;
	r->rttvar = tp->mdev_us >> 2;
	r->snd_ssthresh = tp->snd_ssthresh;
	r->total_retrans = tp->total_retrans;
	r->bytes_acked = tp->bytes_acked;
	r->bytes_received = tp->bytes_received;
	seq = tp->write_seq - tp->snd_nxt;
	r->notsent_bytes = (__s32)seq > 0 ? seq : 0;
	chrono_fill(&r->chrono, tp, now);
	r->segs_out = tp->segs_out;
	r->segs_in = tp->segs_in;
	r->data_segs_in = tp->data_segs_in;
	r->min_rtt = tp->rtt_min.s[0].v;
	r->data_segs_out = tp->data_segs_out;
	r->app_limited = BPF_CORE_READ_BITFIELD(tp, rate_app_limited);
	r->rate_delivered = tp->rate_delivered;
	r->rate_interval_us = tp->rate_interval_us;
	r->bytes_sent = tp->bytes_sent;
	r->bytes_retrans = tp->bytes_retrans;
}

/* full_fill is inet_sk_diag_fill's part of a full TCP socket past the
 * header: drops, congestion control, queues and tcp_info. */
static __always_inline void full_fill(struct tcprec *r, struct tcp_sock *tp)
{
	struct sock *sk = (struct sock *)tp;
	struct inet_connection_sock *icsk = (struct inet_connection_sock *)tp;
	const struct tcp_congestion_ops *ca;

	r->h.drops = sock_drops(sk);
	ca = icsk->icsk_ca_ops;
	if (ca)
		__builtin_memcpy(r->cong, ca->name, sizeof(r->cong));
	/* What tcp_get_info reports of every socket, listeners included. */
	r->pacing_rate = sk->sk_pacing_rate;
	r->max_pacing_rate = sk->sk_max_pacing_rate;
	r->reordering = tp->reordering;
	r->snd_cwnd = tp->snd_cwnd;
	if (r->h.state == TCP_LISTEN) {
		/* tcp_diag_get_info and tcp_get_info: the accept queue and its limit. */
		r->h.rqueue = sk->sk_ack_backlog;
		r->h.wqueue = sk->sk_max_ack_backlog;
		r->unacked = r->h.rqueue;
		r->sacked = r->h.wqueue;
		return;
	}
	tcp_fill(r, sk, tp);
}

/* counters_fill is full_fill of counters_only: the header's drops and
 * queues, the byte and retransmit counters and the chrono times. */
static __always_inline void counters_fill(struct tcpcnt *c, struct tcp_sock *tp)
{
	struct sock *sk = (struct sock *)tp;

	/* sk_drops_read for a TCP socket: only UDP and raw sockets have
	 * sk_drop_counters (Linux 6.18), so TCP's stay in sk_drops, and the
	 * pointer's cache line is not read. */
	c->h.drops = sk->sk_drops.counter;
	if (c->h.state == TCP_LISTEN) {
		c->h.rqueue = sk->sk_ack_backlog;
		c->h.wqueue = sk->sk_max_ack_backlog;
		return;
	}
	c->h.rqueue = tp->rcv_nxt - tp->copied_seq;
	if ((__s32)c->h.rqueue < 0)
		c->h.rqueue = 0;
	c->h.wqueue = tp->write_seq - tp->snd_una;
	c->total_retrans = tp->total_retrans;
	c->bytes_acked = tp->bytes_acked;
	c->bytes_received = tp->bytes_received;
	chrono_fill(&c->chrono, tp, (__u32)bpf_jiffies64());
}

/* header_fill fills the header of socket skc's record, h zeroed but for
 * its flags, and returns the socket's tcp_sock if it is a full one. */
static __always_inline struct tcp_sock *header_fill(struct rechdr *h, struct sock_common *skc, __u32 uid)
{
	struct tcp_timewait_sock *tw;
	struct tcp_sock *tp;

	h->cookie = bpf_get_socket_cookie(skc);
	h->family = skc->skc_family;
	h->state = skc->skc_state;
	h->sport = skc->skc_num;
	h->dport = skc->skc_dport;
	h->ifindex = skc->skc_bound_dev_if;
	if (h->family == AF_INET6) {
		__builtin_memcpy(h->saddr, &skc->skc_v6_rcv_saddr, 16);
		__builtin_memcpy(h->daddr, &skc->skc_v6_daddr, 16);
	} else {
		h->saddr[0] = skc->skc_rcv_saddr;
		h->daddr[0] = skc->skc_daddr;
	}

	switch (h->state) {
	case TCP_TIME_WAIT:
		/* inet_twsk_diag_fill: the substate, no uid, inode or queues. */
		h->kind = KIND_TW;
		tw = bpf_skc_to_tcp_timewait_sock(skc);
		if (tw)
			h->state = ((struct inet_timewait_sock *)tw)->tw_substate;
		return NULL;
	case TCP_NEW_SYN_RECV:
		/* inet_req_diag_fill: SYN-RECV, no uid, inode or queues. */
		h->kind = KIND_REQ;
		h->state = TCP_SYN_RECV;
		return NULL;
	}
	h->kind = KIND_FULL;
	h->uid = uid;
	tp = bpf_skc_to_tcp_sock(skc);
	if (tp) {
		h->flags |= FLAG_TCP;
		h->ino = sock_ino((struct sock *)tp);
	}
	return tp;
}

SEC("iter/tcp")
int tcpiter(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;

	if (!skc)
		return 0;
	if (counters_only) {
		/* Every record of counters_only is a struct tcpcnt, whatever
		 * its socket: FLAG_COUNTERS tells the reader its size. */
		struct tcpcnt c;

		__builtin_memset(&c, 0, sizeof(c));
		c.h.flags = FLAG_COUNTERS;
		tp = header_fill(&c.h, skc, ctx->uid);
		if (tp)
			counters_fill(&c, tp);
		bpf_seq_write(ctx->meta->seq, &c, sizeof(c));
		return 0;
	}
	struct tcprec r;

	__builtin_memset(&r, 0, sizeof(r));
	tp = header_fill(&r.h, skc, ctx->uid);
	if (tp)
		full_fill(&r, tp);
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
