/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kernel.h: the few kernel types the socket-fd and TCP iterators read, declared
 * for CO-RE (as collectors/droptrace/bpf/kernel.h): every struct carries
 * preserve_access_index, so each field access is relocated at load time
 * against the running kernel's BTF; only the names and types must exist.
 */
#ifndef NETLENS_SOCKFDS_KERNEL_H
#define NETLENS_SOCKFDS_KERNEL_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct seq_file;

struct inode {
	unsigned short i_mode;
	unsigned long i_ino;
};

struct file {
	struct inode *f_inode;
};

struct task_struct {
	int tgid;
};

struct bpf_iter_meta {
	struct seq_file *seq;
	__u64 session_id;
	__u64 seq_num;
};

struct bpf_iter__task_file {
	union {
		struct bpf_iter_meta *meta;
	};
	union {
		struct task_struct *task;
	};
	__u32 fd;
	union {
		struct file *file;
	};
};


/* The TCP iterator's types (tcpiter.c). */

struct in6_addr {
	union {
		__u8 u6_addr8[16];
		__u32 u6_addr32[4];
	} in6_u;
};

struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	int skc_bound_dev_if;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct socket {
	struct file *file;
};

/* The inode of a socket is the one allocated with it (sock_alloc_inode). */
struct socket_alloc {
	struct socket socket;
	struct inode vfs_inode;
};

struct dst_entry {
	unsigned long _metrics;
};

typedef struct {
	int counter;
} atomic_t;

/* Linux 6.18+: UDP keeps its drops in per-NUMA-node counters. */
struct numa_drop_counters {
	atomic_t drops0;
	atomic_t drops1;
};

struct sock {
	struct sock_common __sk_common;
	atomic_t sk_drops;
	struct numa_drop_counters *sk_drop_counters;
	struct socket *sk_socket;
	unsigned long sk_ino; /* Linux 6.18+ */
	struct dst_entry *sk_dst_cache;
	unsigned long sk_pacing_rate;
	unsigned long sk_max_pacing_rate;
	__u32 sk_ack_backlog;
	__u32 sk_max_ack_backlog;
};

struct tcp_congestion_ops {
	char name[16];
};

struct inet_connection_sock {
	__u32 icsk_rto;
	__u32 icsk_rto_min;
	__u32 icsk_delack_max;
	__u32 icsk_pmtu_cookie;
	const struct tcp_congestion_ops *icsk_ca_ops;
	__u8 icsk_ca_state : 5;
	__u8 icsk_retransmits;
	__u8 icsk_backoff;
	struct {
		__u32 ato : 8; /* a __u8 before Linux 6.10 */
		__u32 lrcvtime;
		__u16 rcv_mss;
	} icsk_ack;
};

struct minmax_sample {
	__u32 t;
	__u32 v;
};

struct minmax {
	struct minmax_sample s[3];
};

struct tcp_sock {
	__u32 reordering;
	__u32 mss_cache;
	__u32 snd_cwnd;
	__u32 sacked_out;
	struct minmax rtt_min;
	__u32 segs_out;
	__u32 data_segs_out;
	__u64 bytes_sent;
	__u8 chrono_type; /* a 2-bit field before Linux 6.8 */
	__u32 chrono_start;
	__u32 chrono_stat[3];
	__u32 lsndtime;
	__u8 rate_app_limited : 1;
	__u32 snd_nxt;
	__u32 packets_out;
	__u32 segs_in;
	__u32 data_segs_in;
	__u32 rate_delivered;
	__u32 rate_interval_us;
	__u32 lost_out;
	__u32 copied_seq;
	__u32 retrans_out;
	__u32 snd_ssthresh;
	__u32 write_seq;
	__u32 mdev_us;
	__u32 rcv_nxt;
	__u32 snd_una;
	__u32 srtt_us;
	__u64 bytes_received;
	__u64 bytes_acked;
	__u32 total_retrans;
	__u64 bytes_retrans;
};

struct inet_timewait_sock {
	unsigned char tw_substate;
};

struct tcp_timewait_sock;
struct tcp_request_sock;

struct bpf_iter__tcp {
	union {
		struct bpf_iter_meta *meta;
	};
	union {
		struct sock_common *sk_common;
	};
	__u32 uid;
};

#pragma clang attribute pop

#endif
