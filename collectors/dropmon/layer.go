package dropmon

import (
	"strings"

	"netlens/model"
)

// LayerOf returns the layer a drop reason (the kernel's name without
// SKB_DROP_REASON_, as NET_DM_ATTR_REASON carries it) belongs to, from
// the subsystem its name says it comes from (include/net/dropreason-core.h
// groups them so). Unknown and generic reasons (NOT_SPECIFIED, NOMEM,
// SKB_*) are other. It is safe for concurrent use.
func LayerOf(reason string) model.Layer {
	if l, ok := reasonLayers[reason]; ok {
		return l
	}
	for _, p := range reasonPrefixes {
		if strings.HasPrefix(reason, p.prefix) {
			return p.layer
		}
	}
	return model.LayerOther
}

var reasonLayers = map[string]model.Layer{
	"NO_SOCKET":               model.LayerTransport,
	"UDP_CSUM":                model.LayerTransport,
	"PROTO_MEM":               model.LayerTransport,
	"NETFILTER_DROP":          model.LayerNetfilter,
	"BPF_CGROUP_EGRESS":       model.LayerSocket,
	"PACKET_SOCK_ERROR":       model.LayerSocket,
	"OTHERHOST":               model.LayerIP,
	"PKT_TOO_SMALL":           model.LayerIP,
	"PKT_TOO_BIG":             model.LayerIP,
	"UNICAST_IN_L2_MULTICAST": model.LayerIP,
	"DUP_FRAG":                model.LayerIP,
	"INVALID_PROTO":           model.LayerIP,
	"CPU_BACKLOG":             model.LayerSoftnet,
	"XDP":                     model.LayerNIC,
	"UNHANDLED_PROTO":         model.LayerNIC,
	"FULL_RING":               model.LayerNIC,
	"TAP_FILTER":              model.LayerNIC,
	"TAP_TXFILTER":            model.LayerNIC,
	"QUEUE_PURGE":             model.LayerQdisc,
}

var reasonPrefixes = []struct {
	prefix string
	layer  model.Layer
}{
	{"SOCKET_", model.LayerSocket},
	{"TCP_", model.LayerTransport},
	{"UDP_", model.LayerTransport},
	{"IP_", model.LayerIP},
	{"IPV6", model.LayerIP},
	{"NEIGH_", model.LayerIP},
	{"FRAG_", model.LayerIP},
	{"ICMP", model.LayerIP},
	{"QDISC_", model.LayerQdisc},
	{"TC_", model.LayerQdisc},
	{"XFRM_", model.LayerIPsec},
	{"IPSEC_", model.LayerIPsec},
	{"NF_", model.LayerNetfilter},
	{"NETFILTER_", model.LayerNetfilter},
	{"DEV_", model.LayerNIC},
	{"SKB_", model.LayerOther},
}
