// SPDX-License-Identifier: GPL-2.0
/*
 * tbprof.c - a qemu TCG plugin that counts the guest instructions executed
 * in each translated block of guest kernel code (an inline counter per
 * block: no callback on the hot path).  Debian ships qemu without
 * qemu-plugin.h, so the few entry points of the plugin API (version 1,
 * qemu 7.2; stable since 4.2) are declared here.
 *
 *   -plugin tbprof.so,out=PREFIX,mark=ADDR
 *
 * At exit, and every time the guest executes the block at kernel address
 * ADDR (hex; e.g. __x64_sys_sync, so that sync(2) in the guest separates
 * phases), it writes PREFIX.N (N = 0, 1, ...) with one line per block
 * "vaddr instructions executions" and resets the counts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id,
	void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb,
	enum qemu_plugin_op op, void *ptr, uint64_t imm);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *tb,
	void (*cb)(unsigned int, void *), enum qemu_plugin_cb_flags flags,
	void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
	void (*cb)(qemu_plugin_id_t, void *), void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

#define KERNEL_START	0xffff800000000000ULL
#define NSLOTS		(1u << 22)	/* distinct (vaddr, length) blocks */

struct block {
	uint64_t vaddr, insns, execs;
};

static struct block *blocks;
static const char *prefix = "tbprof";
static uint64_t mark;
static int phase;

static void dump(void)
{
	char path[4096];
	FILE *f;
	uint32_t i;

	snprintf(path, sizeof(path), "%s.%d", prefix, phase++);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		return;
	}
	for (i = 0; i < NSLOTS; i++) {
		if (blocks[i].execs)
			fprintf(f, "%llx %llu %llu\n",
				(unsigned long long)blocks[i].vaddr,
				(unsigned long long)blocks[i].insns,
				(unsigned long long)blocks[i].execs);
		blocks[i].execs = 0;
	}
	fclose(f);
}

static void on_mark(unsigned int vcpu, void *unused)
{
	dump();
}

/* the run is single-vCPU (-smp 1): translation and execution never race */
static void on_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	uint64_t va = qemu_plugin_tb_vaddr(tb), n = qemu_plugin_tb_n_insns(tb);
	uint64_t h;

	if (va < KERNEL_START)
		return;
	if (mark && va == mark)
		qemu_plugin_register_vcpu_tb_exec_cb(tb, on_mark, 0, NULL);
	h = ((va ^ n * 0x9e3779b97f4a7c15ULL) * 0x9e3779b97f4a7c15ULL) >> 42;
	for (;; h++) {
		struct block *b = &blocks[h & (NSLOTS - 1)];

		if (!b->vaddr) {
			b->vaddr = va;
			b->insns = n;
		}
		if (b->vaddr == va && b->insns == n) {
			qemu_plugin_register_vcpu_tb_exec_inline(tb,
				QEMU_PLUGIN_INLINE_ADD_U64, &b->execs, 1);
			return;
		}
	}
}

static void on_exit_cb(qemu_plugin_id_t id, void *unused)
{
	dump();
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const struct qemu_info_t *info,
			int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		if (!strncmp(argv[i], "out=", 4))
			prefix = strdup(argv[i] + 4);
		else if (!strncmp(argv[i], "mark=", 5))
			mark = strtoull(argv[i] + 5, NULL, 16);
	}
	blocks = calloc(NSLOTS, sizeof(*blocks));
	if (!blocks)
		return -1;
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_trans);
	qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
	return 0;
}
