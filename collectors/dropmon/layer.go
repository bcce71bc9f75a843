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
	"NO_SOCKET":                model.LayerTransport,
	"UDP_CSUM":                 model.LayerTransport,
	"PROTO_MEM":                model.LayerTransport,
	"NETFILTER_DROP":           model.LayerNetfilter,
	"BPF_CGROUP_EGRESS":        model.LayerSocket,
	"PACKET_SOCK_ERROR":        model.LayerSocket,
	"OTHERHOST":                model.LayerIP,
	"PKT_TOO_SMALL":            model.LayerIP,
	"PKT_TOO_BIG":              model.LayerIP,
	"UNICAST_IN_L2_MULTICAST":  model.LayerIP,
	"DUP_FRAG":                 model.LayerIP,
	"INVALID_PROTO":            model.LayerIP,
	"CPU_BACKLOG":              model.LayerSoftnet,
	"XDP":                      model.LayerNIC,
	"UNHANDLED_PROTO":          model.LayerNIC,
	"FULL_RING":                model.LayerNIC,
	"TAP_FILTER":               model.LayerNIC,
	"TAP_TXFILTER":             model.LayerNIC,
	"QUEUE_PURGE":              model.LayerQdisc,
	"UNIX_DISCONNECT":          model.LayerSocket,
	"UNIX_SKIP_OOB":            model.LayerSocket,
	"CAKE_FLOOD":               model.LayerQdisc,
	"FQ_BAND_LIMIT":            model.LayerQdisc,
	"FQ_HORIZON_LIMIT":         model.LayerQdisc,
	"FQ_FLOW_LIMIT":            model.LayerQdisc,
	"DUALPI2_STEP_DROP":        model.LayerQdisc,
	"VXLAN_INVALID_HDR":        model.LayerNIC,
	"VXLAN_VNI_NOT_FOUND":      model.LayerNIC,
	"VXLAN_ENTRY_EXISTS":       model.LayerNIC,
	"MAC_INVALID_SOURCE":       model.LayerNIC,
	"NO_TX_TARGET":             model.LayerNIC,
	"TUNNEL_TXINFO":            model.LayerNIC,
	"LOCAL_MAC":                model.LayerNIC,
	"MAC_IEEE_MAC_CONTROL":     model.LayerNIC,
	"BRIDGE_INGRESS_STP_STATE": model.LayerNIC,
	"CAN_RX_INVALID_FRAME":     model.LayerNIC,
	"CANFD_RX_INVALID_FRAME":   model.LayerNIC,
	"CANXL_RX_INVALID_FRAME":   model.LayerNIC,
	"ARP_PVLAN_DISABLE":        model.LayerIP,
	"PSP_INPUT":                model.LayerIPsec,
	"PSP_OUTPUT":               model.LayerIPsec,
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
