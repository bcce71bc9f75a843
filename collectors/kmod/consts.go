package kmod

// Protocol identifiers, mirrored from kernelmod/uapi/netlens.h.
const (
	familyName    = "netlens" // NETLENS_GENL_NAME
	familyVersion = 1         // NETLENS_GENL_VERSION
	groupEvents   = "events"  // NETLENS_GENL_MCGRP_EVENTS
	groupPackets  = "packets" // NETLENS_GENL_MCGRP_PACKETS

	// LogRateDefault is a logging rule's events per second unless set.
	LogRateDefault = 10 // NETLENS_LOG_RATE_DEFAULT
	// LogRateMax is the highest log rate.
	LogRateMax = 100000 // NETLENS_LOG_RATE_MAX

	// LabelMax is the longest label a rule can carry, in bytes.
	LabelMax = 64 // NETLENS_LABEL_MAX
	// RevertMax is the longest revert deadline the kernel accepts.
	revertMSMax = 3600000 // NETLENS_REVERT_MS_MAX
)

// command is a generic netlink command of the netlens family.
type command uint8

const (
	cmdUnspec   command = iota // NETLENS_CMD_UNSPEC
	cmdCreate                  // NETLENS_CMD_CREATE
	cmdDelete                  // NETLENS_CMD_DELETE
	cmdChange                  // NETLENS_CMD_CHANGE
	cmdGet                     // NETLENS_CMD_GET
	cmdCounters                // NETLENS_CMD_COUNTERS
	cmdFlush                   // NETLENS_CMD_FLUSH
	cmdConfirm                 // NETLENS_CMD_CONFIRM
	cmdEvent                   // NETLENS_CMD_EVENT
	cmdPolicy                  // NETLENS_CMD_POLICY
	cmdGetSet                  // NETLENS_CMD_GET_SET
	cmdPacket                  // NETLENS_CMD_PACKET
)

// attr is a top-level attribute type.
type attr uint16

const (
	attrUnspec          attr = iota // NETLENS_A_UNSPEC
	attrPad                         // NETLENS_A_PAD
	attrRuleID                      // NETLENS_A_RULE_ID
	attrEnabled                     // NETLENS_A_RULE_ENABLED
	attrHooks                       // NETLENS_A_RULE_HOOKS
	attrFamily                      // NETLENS_A_RULE_FAMILY
	attrProto                       // NETLENS_A_RULE_PROTO
	attrSrcAddr                     // NETLENS_A_RULE_SRC_ADDR
	attrSrcPlen                     // NETLENS_A_RULE_SRC_PLEN
	attrDstAddr                     // NETLENS_A_RULE_DST_ADDR
	attrDstPlen                     // NETLENS_A_RULE_DST_PLEN
	attrSportMin                    // NETLENS_A_RULE_SPORT_MIN
	attrSportMax                    // NETLENS_A_RULE_SPORT_MAX
	attrDportMin                    // NETLENS_A_RULE_DPORT_MIN
	attrDportMax                    // NETLENS_A_RULE_DPORT_MAX
	attrIifname                     // NETLENS_A_RULE_IIFNAME
	attrOifname                     // NETLENS_A_RULE_OIFNAME
	attrAction                      // NETLENS_A_RULE_ACTION
	attrPriority                    // NETLENS_A_RULE_PRIORITY
	attrLabel                       // NETLENS_A_RULE_LABEL
	attrPackets                     // NETLENS_A_RULE_PACKETS
	attrBytes                       // NETLENS_A_RULE_BYTES
	attrLastHitNS                   // NETLENS_A_RULE_LAST_HIT_NS
	attrRevertMS                    // NETLENS_A_REVERT_MS
	attrTxnID                       // NETLENS_A_TXN_ID
	attrEvent                       // NETLENS_A_EVENT
	attrHookStats                   // NETLENS_A_HOOK_STATS
	attrRuleCount                   // NETLENS_A_RULE_COUNT
	attrHooksRegistered             // NETLENS_A_HOOKS_REGISTERED
	attrRejectWith                  // NETLENS_A_RULE_REJECT_WITH
	attrRejectCode                  // NETLENS_A_RULE_REJECT_CODE
	attrICMPType                    // NETLENS_A_RULE_ICMP_TYPE
	attrICMPCode                    // NETLENS_A_RULE_ICMP_CODE
	attrTCPFlags                    // NETLENS_A_RULE_TCP_FLAGS
	attrTCPFlagsMask                // NETLENS_A_RULE_TCP_FLAGS_MASK
	attrNegate                      // NETLENS_A_RULE_NEGATE
	attrCTState                     // NETLENS_A_RULE_CT_STATE
	attrPolicyFamily                // NETLENS_A_POLICY_FAMILY
	attrPolicyHook                  // NETLENS_A_POLICY_HOOK
	attrPolicyVerdict               // NETLENS_A_POLICY_VERDICT
	attrSrcSet                      // NETLENS_A_RULE_SRC_SET
	attrDstSet                      // NETLENS_A_RULE_DST_SET
	attrSportSet                    // NETLENS_A_RULE_SPORT_SET
	attrDportSet                    // NETLENS_A_RULE_DPORT_SET
	attrSrcSetSize                  // NETLENS_A_RULE_SRC_SET_SIZE
	attrDstSetSize                  // NETLENS_A_RULE_DST_SET_SIZE
	attrSportSetSize                // NETLENS_A_RULE_SPORT_SET_SIZE
	attrDportSetSize                // NETLENS_A_RULE_DPORT_SET_SIZE
	attrSetField                    // NETLENS_A_SET_FIELD
	attrLog                         // NETLENS_A_RULE_LOG
	attrLogRate                     // NETLENS_A_RULE_LOG_RATE
	attrLogDropped                  // NETLENS_A_RULE_LOG_DROPPED
	attrPktHook                     // NETLENS_A_PKT_HOOK
	attrPktIIF                      // NETLENS_A_PKT_IIF
	attrPktOIF                      // NETLENS_A_PKT_OIF
	attrPktVerdict                  // NETLENS_A_PKT_VERDICT
	attrPktFamily                   // NETLENS_A_PKT_FAMILY
	attrPktProto                    // NETLENS_A_PKT_PROTO
	attrPktSrc                      // NETLENS_A_PKT_SRC
	attrPktDst                      // NETLENS_A_PKT_DST
	attrPktSport                    // NETLENS_A_PKT_SPORT
	attrPktDport                    // NETLENS_A_PKT_DPORT
	attrPktLen                      // NETLENS_A_PKT_LEN
	attrPktTCPFlags                 // NETLENS_A_PKT_TCP_FLAGS
	attrPktCTState                  // NETLENS_A_PKT_CT_STATE
	attrPktTimeNS                   // NETLENS_A_PKT_TIME_NS
	attrPktICMPType                 // NETLENS_A_PKT_ICMP_TYPE
	attrPktICMPCode                 // NETLENS_A_PKT_ICMP_CODE
)

// SetMax is the most elements one set can hold.
const SetMax = 65536 // NETLENS_SET_MAX

// setAttr is an attribute nested in a rule's set.
type setAttr uint16

const (
	setUnspec setAttr = iota // NETLENS_A_SET_UNSPEC
	setPrefix                // NETLENS_A_SET_PREFIX
	setPort                  // NETLENS_A_SET_PORT
)

// pfxAttr is an attribute nested in NETLENS_A_SET_PREFIX.
type pfxAttr uint16

const (
	pfxUnspec pfxAttr = iota // NETLENS_A_PFX_UNSPEC
	pfxAddr                  // NETLENS_A_PFX_ADDR
	pfxPlen                  // NETLENS_A_PFX_PLEN
)

// SetField names one of the sets a rule can have.
type SetField uint8

const (
	SetSrc      SetField = iota // NETLENS_SET_SRC: source address in a set of prefixes
	SetDst                      // NETLENS_SET_DST: destination address in a set of prefixes
	SetSrcPorts                 // NETLENS_SET_SPORT: source port in a set of ports
	SetDstPorts                 // NETLENS_SET_DPORT: destination port in a set of ports
	numSetFields
)

// setAttrs are the rule attributes of each set and of its size.
var setAttrs = [numSetFields]struct{ set, size attr }{
	SetSrc:      {attrSrcSet, attrSrcSetSize},
	SetDst:      {attrDstSet, attrDstSetSize},
	SetSrcPorts: {attrSportSet, attrSportSetSize},
	SetDstPorts: {attrDportSet, attrDportSetSize},
}

// hsAttr is an attribute nested in NETLENS_A_HOOK_STATS.
type hsAttr uint16

const (
	hsUnspec   hsAttr = iota // NETLENS_A_HS_UNSPEC
	hsPad                    // NETLENS_A_HS_PAD
	hsFamily                 // NETLENS_A_HS_FAMILY
	hsHook                   // NETLENS_A_HS_HOOK
	hsSeen                   // NETLENS_A_HS_SEEN
	hsAccepted               // NETLENS_A_HS_ACCEPTED
	hsDropped                // NETLENS_A_HS_DROPPED
	hsExamined               // NETLENS_A_HS_EXAMINED
	hsPolicy                 // NETLENS_A_HS_POLICY
	hsTxnID                  // NETLENS_A_HS_TXN_ID
	hsRevertMS               // NETLENS_A_HS_REVERT_MS
)

// Family is the address family a rule applies to.
type Family uint8

const (
	FamilyUnspec Family = iota // NETLENS_FAMILY_UNSPEC
	FamilyIPv4                 // NETLENS_FAMILY_IPV4
	FamilyIPv6                 // NETLENS_FAMILY_IPV6
	FamilyBoth                 // NETLENS_FAMILY_BOTH
)

// Action is what a matching rule does with a packet.
type Action uint8

const (
	ActionUnspec Action = iota // NETLENS_ACTION_UNSPEC
	ActionAccept               // NETLENS_ACTION_ACCEPT: stop, let the packet through
	ActionDrop                 // NETLENS_ACTION_DROP: stop, drop the packet
	ActionCount                // NETLENS_ACTION_COUNT: count and go on
	ActionReject               // NETLENS_ACTION_REJECT: stop, drop and answer (TCP reset or ICMP unreachable)
)

// RejectWith is how a REJECT rule answers the packets it drops.
type RejectWith uint8

const (
	RejectUnspec      RejectWith = iota // NETLENS_REJECT_UNSPEC: the default, ICMP unreachable
	RejectICMPUnreach                   // NETLENS_REJECT_ICMP_UNREACH: ICMP/ICMPv6 destination unreachable
	RejectTCPReset                      // NETLENS_REJECT_TCP_RESET: a TCP RST (the rule must match tcp)
)

const (
	// RejectCodeDefault4 and RejectCodeDefault6 are the codes of a REJECT
	// rule that names none: port unreachable.
	RejectCodeDefault4 = 3 // NETLENS_REJECT_CODE_DEFAULT4
	RejectCodeDefault6 = 4 // NETLENS_REJECT_CODE_DEFAULT6
	// HooksRejectOK are the hooks where a REJECT rule may be.
	HooksRejectOK Hooks = 0x0f // NETLENS_HOOK_REJECT_OK
)

// EventType says what an Event announces.
type EventType uint8

const (
	EventUnspec    EventType = iota // NETLENS_EVENT_UNSPEC
	EventCreated                    // NETLENS_EVENT_CREATED
	EventDeleted                    // NETLENS_EVENT_DELETED
	EventChanged                    // NETLENS_EVENT_CHANGED
	EventFlushed                    // NETLENS_EVENT_FLUSHED
	EventConfirmed                  // NETLENS_EVENT_CONFIRMED
	EventReverted                   // NETLENS_EVENT_REVERTED
	EventPolicy                     // NETLENS_EVENT_POLICY: a default policy changed
)

// Negation is a set of a rule's matches that hold when they do not match.
type Negation uint32

const (
	NegSrc      Negation = 1 << 0 // NETLENS_NEG_SRC
	NegDst      Negation = 1 << 1 // NETLENS_NEG_DST
	NegSrcPorts Negation = 1 << 2 // NETLENS_NEG_SPORT
	NegDstPorts Negation = 1 << 3 // NETLENS_NEG_DPORT
	NegInIface  Negation = 1 << 4 // NETLENS_NEG_IIF
	NegOutIface Negation = 1 << 5 // NETLENS_NEG_OIF
	NegICMP     Negation = 1 << 6 // NETLENS_NEG_ICMP
	NegTCPFlags Negation = 1 << 7 // NETLENS_NEG_TCP_FLAGS
	NegCT       Negation = 1 << 8 // NETLENS_NEG_CT
	NegAll      Negation = 0x1ff  // NETLENS_NEG_ALL
)

// CTState is a set of conntrack states a rule matches.
type CTState uint8

const (
	CTNew         CTState = 1 << 0 // NETLENS_CT_NEW
	CTEstablished CTState = 1 << 1 // NETLENS_CT_ESTABLISHED
	CTRelated     CTState = 1 << 2 // NETLENS_CT_RELATED
	CTInvalid     CTState = 1 << 3 // NETLENS_CT_INVALID
	CTUntracked   CTState = 1 << 4 // NETLENS_CT_UNTRACKED
	CTAll         CTState = 0x1f   // NETLENS_CT_ALL
)

// TCP flags, as in the TCP header's flags byte.
const (
	TCPFin uint8 = 0x01
	TCPSyn uint8 = 0x02
	TCPRst uint8 = 0x04
	TCPPsh uint8 = 0x08
	TCPAck uint8 = 0x10
	TCPUrg uint8 = 0x20
	TCPEce uint8 = 0x40
	TCPCwr uint8 = 0x80
)

// Hooks is a set of netfilter hooks (bit n is hook NF_INET_* n).
type Hooks uint32

const (
	HookPreRouting  Hooks = 1 << 0 // NETLENS_HOOK_PRE_ROUTING
	HookLocalIn     Hooks = 1 << 1 // NETLENS_HOOK_LOCAL_IN
	HookForward     Hooks = 1 << 2 // NETLENS_HOOK_FORWARD
	HookLocalOut    Hooks = 1 << 3 // NETLENS_HOOK_LOCAL_OUT
	HookPostRouting Hooks = 1 << 4 // NETLENS_HOOK_POST_ROUTING
	HookAll         Hooks = 0x1f   // NETLENS_HOOK_ALL
)

// String returns the short name of an action.
func (a Action) String() string {
	switch a {
	case ActionAccept:
		return "accept"
	case ActionDrop:
		return "drop"
	case ActionCount:
		return "count"
	case ActionReject:
		return "reject"
	}
	return "unspec"
}

// String returns the short name of a family.
func (f Family) String() string {
	switch f {
	case FamilyIPv4:
		return "ipv4"
	case FamilyIPv6:
		return "ipv6"
	case FamilyBoth:
		return "both"
	}
	return "unspec"
}

// String returns the short name of an event type.
func (e EventType) String() string {
	switch e {
	case EventCreated:
		return "created"
	case EventDeleted:
		return "deleted"
	case EventChanged:
		return "changed"
	case EventFlushed:
		return "flushed"
	case EventConfirmed:
		return "confirmed"
	case EventReverted:
		return "reverted"
	}
	return "unspec"
}

var hookNames = [...]string{"prerouting", "input", "forward", "output", "postrouting"}

// HookName returns the short name of hook number n (NF_INET_*).
func HookName(n uint8) string {
	if int(n) < len(hookNames) {
		return hookNames[n]
	}
	return "unknown"
}

// String lists the hooks of the set, comma separated.
func (h Hooks) String() string {
	s := ""
	for i, n := range hookNames {
		if h&(1<<i) != 0 {
			if s != "" {
				s += ","
			}
			s += n
		}
	}
	if s == "" {
		return "none"
	}
	return s
}
