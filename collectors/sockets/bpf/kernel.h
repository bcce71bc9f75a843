/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kernel.h: the few kernel types the socket-fd iterator reads, declared
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

#pragma clang attribute pop

#endif
