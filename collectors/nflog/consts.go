package nflog

// Netlink numbers of nfnetlink_log, mirrored from
// include/uapi/linux/netfilter/nfnetlink.h and nfnetlink_log.h.
const (
	subsysULOG = 4 // NFNL_SUBSYS_ULOG

	msgPacket = 0 // NFULNL_MSG_PACKET
	msgConfig = 1 // NFULNL_MSG_CONFIG

	nfnetlinkV0 = 0 // NFNETLINK_V0
)

// Attributes of NFULNL_MSG_PACKET (enum nfulnl_attr_type).
const (
	attrPacketHdr   = 1  // NFULA_PACKET_HDR: struct nfulnl_msg_packet_hdr
	attrMark        = 2  // NFULA_MARK: __be32
	attrTimestamp   = 3  // NFULA_TIMESTAMP: struct nfulnl_msg_packet_timestamp
	attrIfindexIn   = 4  // NFULA_IFINDEX_INDEV: __be32
	attrIfindexOut  = 5  // NFULA_IFINDEX_OUTDEV: __be32
	attrPayload     = 9  // NFULA_PAYLOAD: the packet from its network header
	attrPrefix      = 10 // NFULA_PREFIX: string, NUL-terminated
	attrUID         = 11 // NFULA_UID
	attrSeq         = 12 // NFULA_SEQ: __be32, per instance
	attrSeqGlobal   = 13 // NFULA_SEQ_GLOBAL: __be32
	attrCT          = 18 // NFULA_CT: nested ctnetlink attributes
	attrCTInfo      = 19 // NFULA_CT_INFO: __be32 enum ip_conntrack_info
	attrConfigCmd   = 1  // NFULA_CFG_CMD: struct nfulnl_msg_config_cmd
	attrConfigMode  = 2  // NFULA_CFG_MODE: struct nfulnl_msg_config_mode
	attrConfigBuf   = 3  // NFULA_CFG_NLBUFSIZ: __be32
	attrConfigTime  = 4  // NFULA_CFG_TIMEOUT: __be32, in 1/100 s
	attrConfigQThr  = 5  // NFULA_CFG_QTHRESH: __be32, packets
	attrConfigFlags = 6  // NFULA_CFG_FLAGS: __be16
)

// Config commands (enum nfulnl_msg_config_cmds).
const (
	cmdBind   = 1 // NFULNL_CFG_CMD_BIND
	cmdUnbind = 2 // NFULNL_CFG_CMD_UNBIND
	cmdPFBind = 3 // NFULNL_CFG_CMD_PF_BIND (a no-op since Linux 3.17)
)

// Copy modes and flags.
const (
	copyPacket   = 2 // NFULNL_COPY_PACKET
	flagSeq      = 1 // NFULNL_CFG_F_SEQ
	flagConntrak = 4 // NFULNL_CFG_F_CONNTRACK
)

// enum ip_conntrack_info, as NFULA_CT_INFO carries it.
const (
	ctEstablished      = 0 // IP_CT_ESTABLISHED
	ctRelated          = 1 // IP_CT_RELATED
	ctNew              = 2 // IP_CT_NEW
	ctEstablishedReply = 3 // IP_CT_ESTABLISHED_REPLY
	ctRelatedReply     = 4 // IP_CT_RELATED_REPLY
	ctUntracked        = 7 // IP_CT_UNTRACKED
)
