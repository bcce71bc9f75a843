// SPDX-License-Identifier: GPL-2.0
/*
 * sockfds.c: every descriptor of every process, sockets with their
 * inode, in one read.
 *
 * A task_file iterator (iter/task_file, Linux 5.8+) runs the program for
 * each open file of each process (threads sharing the fd table are
 * visited once), in PID order and ascending fd order within a process.
 * It writes (tgid, fd, inode) to the iterator's seq_file, the inode of a
 * socket (an inode of type S_IFSOCK: the "socket:[INODE]" link of
 * /proc/PID/fd/N) and 0 for any other file. User space reads the whole
 * table with read(2) instead of a getdents64 per process and a readlink
 * per descriptor.
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>

char __license[] SEC("license") = "GPL";

#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* struct sockfd is one record; the Go side reads the same layout. */
struct sockfd {
	__u32 tgid;
	__u32 fd;
	__u64 ino;
};

SEC("iter/task_file")
int sockfds(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct inode *inode;
	struct sockfd r;

	if (!task || !file)
		return 0;
	inode = file->f_inode;
	r.tgid = task->tgid;
	r.fd = ctx->fd;
	r.ino = 0;
	if (inode && (inode->i_mode & S_IFMT) == S_IFSOCK)
		r.ino = inode->i_ino;
	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}
