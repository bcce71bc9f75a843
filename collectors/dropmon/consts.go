package dropmon

// Family and group names (net/core/drop_monitor.c).
const (
	familyName  = "NET_DM"
	familyVer   = 2
	eventsGroup = "events"
)

// command is a NET_DM_CMD_* (include/uapi/linux/net_dropmon.h).
type command uint8

const (
	cmdAlert       command = 1 // NET_DM_CMD_ALERT
	cmdConfig      command = 2 // NET_DM_CMD_CONFIG
	cmdStart       command = 3 // NET_DM_CMD_START
	cmdStop        command = 4 // NET_DM_CMD_STOP
	cmdPacketAlert command = 5 // NET_DM_CMD_PACKET_ALERT
	cmdConfigGet   command = 6 // NET_DM_CMD_CONFIG_GET
	cmdConfigNew   command = 7 // NET_DM_CMD_CONFIG_NEW
	cmdStatsGet    command = 8 // NET_DM_CMD_STATS_GET
	cmdStatsNew    command = 9 // NET_DM_CMD_STATS_NEW
)

// attr is a NET_DM_ATTR_* (enum net_dm_attr).
type attr uint16

const (
	attrAlertMode        attr = 1  // NET_DM_ATTR_ALERT_MODE, u8
	attrPC               attr = 2  // NET_DM_ATTR_PC, u64
	attrSymbol           attr = 3  // NET_DM_ATTR_SYMBOL, string
	attrInPort           attr = 4  // NET_DM_ATTR_IN_PORT, nested
	attrTimestamp        attr = 5  // NET_DM_ATTR_TIMESTAMP, u64
	attrProto            attr = 6  // NET_DM_ATTR_PROTO, u16
	attrPayload          attr = 7  // NET_DM_ATTR_PAYLOAD, binary
	attrPad              attr = 8  // NET_DM_ATTR_PAD
	attrTruncLen         attr = 9  // NET_DM_ATTR_TRUNC_LEN, u32
	attrOrigLen          attr = 10 // NET_DM_ATTR_ORIG_LEN, u32
	attrQueueLen         attr = 11 // NET_DM_ATTR_QUEUE_LEN, u32
	attrStats            attr = 12 // NET_DM_ATTR_STATS, nested
	attrHWStats          attr = 13 // NET_DM_ATTR_HW_STATS, nested
	attrOrigin           attr = 14 // NET_DM_ATTR_ORIGIN, u16
	attrHWTrapGroupName  attr = 15 // NET_DM_ATTR_HW_TRAP_GROUP_NAME, string
	attrHWTrapName       attr = 16 // NET_DM_ATTR_HW_TRAP_NAME, string
	attrHWEntries        attr = 17 // NET_DM_ATTR_HW_ENTRIES, nested
	attrHWEntry          attr = 18 // NET_DM_ATTR_HW_ENTRY, nested
	attrHWTrapCount      attr = 19 // NET_DM_ATTR_HW_TRAP_COUNT, u32
	attrSWDrops          attr = 20 // NET_DM_ATTR_SW_DROPS, flag
	attrHWDrops          attr = 21 // NET_DM_ATTR_HW_DROPS, flag
	attrFlowActionCookie attr = 22 // NET_DM_ATTR_FLOW_ACTION_COOKIE, binary
	attrReason           attr = 23 // NET_DM_ATTR_REASON, string
)

// statsDropped is NET_DM_ATTR_STATS_DROPPED (u64), nested in
// NET_DM_ATTR_STATS.
const statsDropped = 0

// alertMode is an enum net_dm_alert_mode.
type alertMode uint8

const (
	alertModeSummary alertMode = 0 // NET_DM_ALERT_MODE_SUMMARY
	alertModePacket  alertMode = 1 // NET_DM_ALERT_MODE_PACKET
)

// origin is an enum net_dm_origin.
type origin uint16

const (
	originSW origin = 0 // NET_DM_ORIGIN_SW
	originHW origin = 1 // NET_DM_ORIGIN_HW
)

// Summary alerts: struct net_dm_alert_msg { __u32 entries; struct
// net_dm_drop_point points[]; } with struct net_dm_drop_point { __u8
// pc[8]; __u32 count; } (12 bytes), carried in an attribute of type 0.
const (
	sizeofAlertHeader = 4
	sizeofDropPoint   = 12
)
