package kmod

import (
	"time"

	"github.com/mdlayher/netlink"
)

// HookCounters are the verdict counters of one hook of one family in a
// namespace.
type HookCounters struct {
	Family   Family // FamilyIPv4 or FamilyIPv6
	Hook     uint8  // NF_INET_* hook number; see HookName
	Seen     uint64 // packets that entered the hook
	Accepted uint64 // packets let through (no rule, ACCEPT, COUNT only, or bypassed)
	Dropped  uint64 // packets dropped by a DROP rule
	// Examined counts the rules the lookup looked at: Examined/Seen is the
	// per-packet lookup cost, a few probes for indexed rules and one per
	// rule for rules that fit no index.
	Examined uint64
	// Policy is the hook's default verdict (ActionAccept or ActionDrop).
	Policy Action
	// PolicyTxn is the unconfirmed change of Policy (0: none); unless
	// confirmed it is reverted in PolicyRevertIn.
	PolicyTxn      uint32
	PolicyRevertIn time.Duration
}

// Counters is the reply of the COUNTERS command.
type Counters struct {
	Rules uint32 // rules in the namespace
	// HooksRegistered is how many netfilter hooks the module has in the
	// namespace now: they come with its first rule and go with its last,
	// so a namespace without rules has 0 and pays nothing per packet.
	HooksRegistered uint32
	Hooks           []HookCounters
}

func parseHookStats(ad *netlink.AttributeDecoder) HookCounters {
	var h HookCounters
	for ad.Next() {
		switch hsAttr(ad.Type()) {
		case hsFamily:
			h.Family = Family(ad.Uint8())
		case hsHook:
			h.Hook = ad.Uint8()
		case hsSeen:
			h.Seen = ad.Uint64()
		case hsAccepted:
			h.Accepted = ad.Uint64()
		case hsDropped:
			h.Dropped = ad.Uint64()
		case hsExamined:
			h.Examined = ad.Uint64()
		case hsPolicy:
			h.Policy = Action(ad.Uint8())
		case hsTxnID:
			h.PolicyTxn = ad.Uint32()
		case hsRevertMS:
			h.PolicyRevertIn = time.Duration(ad.Uint32()) * time.Millisecond
		}
	}
	return h
}
