package procnet

import "netlens/model"

// layerOf returns the layer of a counter in /proc/net/snmp, snmp6 or
// netstat from its group (and, for the few TcpExt counters that count
// drops made below TCP, its name). ICMP counts under ip: it is the IP
// layer's control protocol and its errors are IP-layer events.
func layerOf(group, name string) model.Layer {
	switch group {
	case "Ip", "IpExt", "Icmp", "IcmpMsg", "Ip6", "Icmp6":
		return model.LayerIP
	case "TcpExt":
		switch name {
		case "IPReversePathFilter": // rp_filter drops, counted by IPv4 routing
			return model.LayerIP
		case "ArpFilter": // arp_filter drops, made by the neighbour layer
			return model.LayerIP
		}
		return model.LayerTransport
	case "Tcp", "Udp", "UdpLite", "Udp6", "UdpLite6", "MPTcpExt", "Sctp":
		return model.LayerTransport
	}
	return model.LayerOther
}

// kindOf returns KindGauge for the fields of snmp and netstat that are
// settings or current levels rather than event counts.
func kindOf(group, name string) model.CounterKind {
	switch group {
	case "Ip":
		switch name {
		case "Forwarding", "DefaultTTL": // the ip_forward and ip_default_ttl settings
			return model.KindGauge
		}
	case "Tcp":
		switch name {
		case "RtoAlgorithm", "RtoMin", "RtoMax", "MaxConn", // RFC 4022 constants
			"CurrEstab": // connections now in ESTABLISHED or CLOSE-WAIT
			return model.KindGauge
		}
	case "MPTcpExt":
		if name == "MPCurrEstab" { // MPTCP connections now established
			return model.KindGauge
		}
	}
	return model.KindCounter
}
