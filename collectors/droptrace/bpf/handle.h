/* SPDX-License-Identifier: GPL-2.0 */
/*
 * handle.h: the body of the drop tracer, included twice by droptrace.c:
 * as handle_btf, reading kernel structures by direct (BTF-checked,
 * CO-RE-relocated) loads, which the tp_btf program may do and which cost
 * no helper call; and as handle_raw, reading them with
 * bpf_probe_read_kernel (BPF_CORE_READ), as a raw tracepoint must.
 * HANDLE names the function, RD(p, field) reads p->field,
 * RD_NETNS(p, net_field) reads p->net_field.net->ns.inum and PARSE_IP
 * reads the packet's headers (parse_ip, or parse_ip_direct).
 */

/* handle counts and aggregates one drop. sk is the socket the drop
 * belongs to: rx_sk where the tracepoint has it, else skb->sk. */
static __always_inline int HANDLE(__u64 *ctx, struct sk_buff *skb, struct sock *sk)
{
	__u32 reason = (__u32)ctx[2];
	if (reason == skip_reason_a || reason == skip_reason_b)
		return 0;

	struct flow_key k;
	__builtin_memset(&k, 0, sizeof(k));

	struct net_device *dev = RD(skb, dev);
	if (dev) {
		k.netns = RD_NETNS(dev, nd_net);
		k.ifindex = RD(dev, ifindex);
	} else {
		k.ifindex = RD(skb, skb_iif);
		if (sk)
			k.netns = RD_NETNS(sk, __sk_common.skc_net);
	}
	if (target_netns && k.netns != target_netns) {
		count(CTR_OTHER_NETNS);
		return 0;
	}
	count(CTR_SEEN);

	k.location = ctx[1];
	k.reason = reason;
	/* The cookie the socket has been given: the kernel makes one the
	 * first time anyone asks (sock_diag, SO_COOKIE, BPF), so every socket
	 * netlens's sockets collector has dumped has one; 0 before that.
	 * (bpf_get_socket_cookie would make one, but tp_btf sees skb->sk as
	 * an RCU pointer the helper refuses.) */
	if (sk)
		k.cookie = RD(sk, __sk_common.skc_cookie.counter);

	__u64 len = RD(skb, len);
	unsigned char *head = RD(skb, head);
	__u16 nhoff = RD(skb, network_header);
	__u16 proto = bpf_ntohs(RD(skb, protocol));
	int err = -1;
	if (head)
		err = PARSE_IP(&k, head + nhoff, &proto, &len);
	if (err) {
		/* Keep the drop, without a tuple. */
		__u16 l3 = proto;
		__builtin_memset(&k.l3proto, 0, sizeof(k) - __builtin_offsetof(struct flow_key, l3proto));
		k.l3proto = l3;
		count(CTR_NOT_PARSED);
	}

	__u64 now = drop_time();
	if (sample_every)
		sample_drop(&k, len, now, head, nhoff, RD(skb, tail));
	if (add_drop(&k, len, now))
		count(CTR_NOT_AGGREGATED);
	return 0;
}

