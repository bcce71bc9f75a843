/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kernel.h: the few kernel types the drop tracer reads, declared for CO-RE.
 *
 * Every struct carries preserve_access_index, so each field access is
 * relocated at load time against the running kernel's BTF
 * (/sys/kernel/btf/vmlinux): offsets here need not match any kernel, only
 * the field names and types must exist. This replaces a full vmlinux.h
 * (130k lines dumped by `bpftool btf dump file /sys/kernel/btf/vmlinux
 * format c`): the objects then do not depend on the kernel of the machine
 * that generates them, and CI can regenerate them bit for bit.
 */
#ifndef NETLENS_DROPTRACE_KERNEL_H
#define NETLENS_DROPTRACE_KERNEL_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_ARRAY_OF_MAPS = 12,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
};

#define EEXIST 17

struct bpf_raw_tracepoint_args {
	__u64 args[0];
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

struct net_device {
	int ifindex;
	possible_net_t nd_net;
};

typedef struct {
	__s64 counter;
} atomic64_t;

struct sock_common {
	possible_net_t skc_net;
	atomic64_t skc_cookie;
};

struct sock {
	struct sock_common __sk_common;
};

struct sk_buff {
	struct net_device *dev;
	struct sock *sk;
	unsigned int len;
	int skb_iif;
	__be16 protocol;
	__u16 network_header;
	unsigned int tail; /* sk_buff_data_t: an offset from head on 64-bit */
	unsigned char *head;
};

#pragma clang attribute pop

/* Wire headers: plain layouts, read with bpf_probe_read_kernel. */

struct iphdr {
	__u8 ihl_version; /* ihl in the low nibble on every byte order */
	__u8 tos;
	__be16 tot_len;
	__be16 id;
	__be16 frag_off;
	__u8 ttl;
	__u8 protocol;
	__u16 check;
	__be32 saddr;
	__be32 daddr;
};

struct ipv6hdr {
	__be32 vtc_flow;
	__be16 payload_len;
	__u8 nexthdr;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

#endif
