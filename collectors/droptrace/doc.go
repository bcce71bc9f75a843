// Package droptrace is the eBPF drop tracer: a BPF program on the
// skb:kfree_skb tracepoint that counts every packet the kernel frees as
// dropped, in the kernel, per (namespace, drop reason, location,
// interface, L3/L4 tuple, socket cookie), and the "droptrace" collector
// that drains those counts every refresh and publishes them as a
// model.DropTrace.
//
// It works on kernels without the drop monitor (CONFIG_NET_DROP_MONITOR)
// and needs 5.17 or later (the tracepoint's reason argument). The program
// is C under bpf/, compiled by bpf2go with clang-19 into the committed
// droptrace_bpfel.o / droptrace_bpfeb.o; it reads kernel structures
// through CO-RE relocations against the running kernel's BTF
// (/sys/kernel/btf/vmlinux). It attaches as tp_btf/kfree_skb where the
// kernel has BTF for its tracepoints, else as raw_tp/kfree_skb; on
// tp_btf it loads the packet's headers directly where the verifier
// allows it (kfree_skb_btf_direct: recent kernels, 6.18 here), else
// copies them with one bpf_probe_read_kernel (kfree_skb_btf).
//
// Reason names come from the running kernel's own enum skb_drop_reason
// in its BTF (reasons.go), so they follow the kernel version; where BTF
// has no name for a number, the number is shown. Locations are resolved
// to function+offset through /proc/kallsyms.
//
// Nothing is pinned: the program, maps and link belong to the process's
// file descriptors, so the kernel detaches and frees everything when the
// process exits, however it exits (SIGKILL included). Close detaches at
// once.
//
// Accounting is described in bpf/droptrace.c and aggregate.go: every drop
// in scope is Seen; a drop is Attributed once its flow has been drained
// from the map; Unattributed = Seen - Attributed is what the full map
// refused (NotAggregated). The optional sampled stream (SampleEvery)
// sends one drop in N with its first 128 header bytes through a ring
// buffer: Sampled = Emitted + Lost (ring full, or over the per-CPU
// cap of SampleMax a second).
package droptrace
