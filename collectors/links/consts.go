package links

// rtnetlink message types (include/uapi/linux/rtnetlink.h).
const (
	rtmNewLink   = 16 // RTM_NEWLINK
	rtmGetLink   = 18 // RTM_GETLINK
	rtmNewAddr   = 20 // RTM_NEWADDR
	rtmGetAddr   = 22 // RTM_GETADDR
	rtmNewQdisc  = 36 // RTM_NEWQDISC
	rtmGetQdisc  = 38 // RTM_GETQDISC
	rtmNewTclass = 40 // RTM_NEWTCLASS
	rtmGetTclass = 42 // RTM_GETTCLASS
)

// Sizes of the fixed headers that precede the attributes.
const (
	sizeofIfinfomsg = 16 // struct ifinfomsg
	sizeofIfaddrmsg = 8  // struct ifaddrmsg
	sizeofTcmsg     = 20 // struct tcmsg
)

// linkAttr is an IFLA_* attribute type (include/uapi/linux/if_link.h).
type linkAttr uint16

const (
	iflaAddress        linkAttr = 1  // IFLA_ADDRESS
	iflaIfname         linkAttr = 3  // IFLA_IFNAME
	iflaMTU            linkAttr = 4  // IFLA_MTU
	iflaLink           linkAttr = 5  // IFLA_LINK
	iflaQdisc          linkAttr = 6  // IFLA_QDISC
	iflaMaster         linkAttr = 10 // IFLA_MASTER
	iflaTxqlen         linkAttr = 13 // IFLA_TXQLEN
	iflaOperstate      linkAttr = 16 // IFLA_OPERSTATE
	iflaLinkinfo       linkAttr = 18 // IFLA_LINKINFO
	iflaStats64        linkAttr = 23 // IFLA_STATS64
	iflaCarrier        linkAttr = 33 // IFLA_CARRIER
	iflaCarrierChanges linkAttr = 35 // IFLA_CARRIER_CHANGES
)

// IFLA_INFO_* nested in IFLA_LINKINFO, and IFLA_VLAN_* in a VLAN's
// IFLA_INFO_DATA.
const (
	iflaInfoKind = 1 // IFLA_INFO_KIND
	iflaInfoData = 2 // IFLA_INFO_DATA
	iflaVlanID   = 1 // IFLA_VLAN_ID
)

// Interface flags (include/uapi/linux/if.h).
const (
	iffUp      = 0x1     // IFF_UP
	iffLowerUp = 0x10000 // IFF_LOWER_UP
)

// operStates are IF_OPER_* (RFC 2863) by value, as ip(8) names them.
var operStates = [...]string{
	0: "unknown",        // IF_OPER_UNKNOWN
	1: "notpresent",     // IF_OPER_NOTPRESENT
	2: "down",           // IF_OPER_DOWN
	3: "lowerlayerdown", // IF_OPER_LOWERLAYERDOWN
	4: "testing",        // IF_OPER_TESTING
	5: "dormant",        // IF_OPER_DORMANT
	6: "up",             // IF_OPER_UP
}

// linkTypes name the common ARPHRD_* hardware types
// (include/uapi/linux/if_arp.h) as ip(8) does.
var linkTypes = map[uint16]string{
	1:     "ether",    // ARPHRD_ETHER
	24:    "ieee1394", // ARPHRD_IEEE1394
	32:    "infiniband",
	512:   "ppp",      // ARPHRD_PPP
	768:   "ipip",     // ARPHRD_TUNNEL
	769:   "tunnel6",  // ARPHRD_TUNNEL6
	772:   "loopback", // ARPHRD_LOOPBACK
	776:   "sit",      // ARPHRD_SIT
	778:   "gre",      // ARPHRD_IPGRE
	823:   "ip6gre",   // ARPHRD_IP6GRE
	65534: "none",     // ARPHRD_NONE (tun, wireguard)
}

// ifaAttr is an IFA_* attribute type (include/uapi/linux/if_addr.h).
type ifaAttr uint16

const (
	ifaAddress ifaAttr = 1 // IFA_ADDRESS
	ifaLocal   ifaAttr = 2 // IFA_LOCAL
)

// Address families.
const (
	afInet  = 2  // AF_INET
	afInet6 = 10 // AF_INET6
)

// tcHRoot is TC_H_ROOT (include/uapi/linux/pkt_sched.h).
const tcHRoot = 0xFFFFFFFF

// ethtool ioctl commands (include/uapi/linux/ethtool.h) and the string
// set of the driver's statistics.
const (
	siocEthtool      = 0x8946 // SIOCETHTOOL
	ethtoolGSSetInfo = 0x37   // ETHTOOL_GSSET_INFO
	ethtoolGStrings  = 0x1b   // ETHTOOL_GSTRINGS
	ethtoolGStats    = 0x1d   // ETHTOOL_GSTATS
	ethSSStats       = 1      // ETH_SS_STATS
	ethGStringLen    = 32     // ETH_GSTRING_LEN
)

// maxEthtoolStats bounds the statistics read from one driver (the
// largest drivers have a few thousand).
const maxEthtoolStats = 1 << 16
