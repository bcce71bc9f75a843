package model

import (
	"net/netip"
	"time"
)

// IPsec is the kernel's IPsec state (xfrm), as `ip -s xfrm state` and
// `ip -s xfrm policy` list it: its security associations and policies.
// Key material is never part of it: the collector keeps only the names of
// the algorithms.
type IPsec struct {
	// At is when the tables were read.
	At       time.Time    `json:"at"`
	SAs      []XfrmSA     `json:"sas"`
	Policies []XfrmPolicy `json:"policies"`
}

// XfrmSelector is the traffic an SA or a policy applies to (struct
// xfrm_selector). An invalid prefix is "any".
type XfrmSelector struct {
	Src netip.Prefix `json:"src"`
	Dst netip.Prefix `json:"dst"`
	// Proto is the IP protocol, 0 for any.
	Proto uint8 `json:"proto"`
	// SrcPort and DstPort are 0 for any (the kernel's port mask is 0).
	SrcPort uint16 `json:"sport"`
	DstPort uint16 `json:"dport"`
	// Ifindex is the interface the selector is bound to, 0 for any.
	Ifindex int32 `json:"ifindex"`
}

// XfrmAlgorithm is one algorithm of an SA, named without its key.
type XfrmAlgorithm struct {
	// Kind is "aead", "enc", "auth" or "comp" (ip xfrm's words).
	Kind string `json:"kind"`
	Name string `json:"name"`
	// KeyBits is the length of the key (not the key).
	KeyBits uint32 `json:"key_bits"`
	// ICVBits is the integrity check value's length: an AEAD's ICV or an
	// authentication algorithm's truncation; 0 when it has none.
	ICVBits uint32 `json:"icv_bits"`
}

// XfrmLimits are the lifetime limits of an SA or a policy (struct
// xfrm_lifetime_cfg); 0 is no limit (the kernel's XFRM_INF).
type XfrmLimits struct {
	SoftBytes   uint64 `json:"soft_bytes"`
	HardBytes   uint64 `json:"hard_bytes"`
	SoftPackets uint64 `json:"soft_packets"`
	HardPackets uint64 `json:"hard_packets"`
	// SoftAdd and HardAdd count from when the SA was added, SoftUse and
	// HardUse from its first use.
	SoftAdd time.Duration `json:"soft_add_ns"`
	HardAdd time.Duration `json:"hard_add_ns"`
	SoftUse time.Duration `json:"soft_use_ns"`
	HardUse time.Duration `json:"hard_use_ns"`
}

// XfrmUse is what an SA or a policy has been used for (struct
// xfrm_lifetime_cur).
type XfrmUse struct {
	Bytes   uint64    `json:"bytes"`
	Packets uint64    `json:"packets"`
	Added   time.Time `json:"added"`
	// Used is the first use of an SA, the last use of a policy; zero
	// when never used.
	Used time.Time `json:"used,omitzero"`
}

// XfrmSA is one security association (struct xfrm_usersa_info and its
// attributes).
type XfrmSA struct {
	Src netip.Addr `json:"src"`
	Dst netip.Addr `json:"dst"`
	// Proto is "esp", "ah", "comp", "route2", "hao" or the number.
	Proto string `json:"proto"`
	SPI   uint32 `json:"spi"`
	// Mode is "transport", "tunnel", "ro", "in_trigger", "beet" or
	// "iptfs".
	Mode       string          `json:"mode"`
	ReqID      uint32          `json:"reqid"`
	Selector   XfrmSelector    `json:"selector"`
	Algorithms []XfrmAlgorithm `json:"algorithms"`
	Limits     XfrmLimits      `json:"limits"`
	Current    XfrmUse         `json:"current"`
	// LastUsed is the last packet through the SA (XFRMA_LASTUSED).
	LastUsed time.Time `json:"last_used,omitzero"`
	// ReplayWindow is the anti-replay window in packets (0: off).
	ReplayWindow uint32 `json:"replay_window"`
	// OutOfWindow counts packets dropped as older than the window,
	// Replay packets dropped as replays within it, IntegrityFailed
	// packets whose integrity check failed (struct xfrm_stats; ip xfrm's
	// "stats: replay-window N replay N failed N").
	OutOfWindow     uint32 `json:"out_of_window"`
	Replay          uint32 `json:"replay"`
	IntegrityFailed uint32 `json:"integrity_failed"`
	// Seq is the highest sequence number received, OSeq the last sent
	// (the anti-replay state; 64 bits with ESN).
	Seq  uint64 `json:"seq"`
	OSeq uint64 `json:"oseq"`
	ESN  bool   `json:"esn"`
}

// XfrmTemplate is one transform a policy asks for (struct xfrm_user_tmpl).
type XfrmTemplate struct {
	Src   netip.Addr `json:"src"`
	Dst   netip.Addr `json:"dst"`
	Proto string     `json:"proto"`
	SPI   uint32     `json:"spi"`
	ReqID uint32     `json:"reqid"`
	Mode  string     `json:"mode"`
	// Optional is the "level use" of ip xfrm: the transform may be
	// missing; otherwise it is required.
	Optional bool `json:"optional"`
}

// XfrmPolicy is one policy (struct xfrm_userpolicy_info and its
// attributes).
type XfrmPolicy struct {
	Selector XfrmSelector `json:"selector"`
	// Dir is "in", "out" or "fwd" (a socket policy adds "(sock)").
	Dir string `json:"dir"`
	// Action is "allow" or "block".
	Action   string `json:"action"`
	Priority uint32 `json:"priority"`
	Index    uint32 `json:"index"`
	// Type is "main" or "sub".
	Type      string         `json:"type"`
	Templates []XfrmTemplate `json:"templates"`
	Limits    XfrmLimits     `json:"limits"`
	Current   XfrmUse        `json:"current"`
}

// IPsecUpdate replaces the IPsec tables.
type IPsecUpdate struct {
	IPsec IPsec
}

func (u IPsecUpdate) apply(s *Store, snap *Snapshot) {
	if u.IPsec.SAs == nil {
		u.IPsec.SAs = []XfrmSA{}
	}
	if u.IPsec.Policies == nil {
		u.IPsec.Policies = []XfrmPolicy{}
	}
	snap.IPsec = u.IPsec
	snap.TakenAt = later(snap.TakenAt, u.IPsec.At)
}

// Expiry returns when an SA or policy with limits l and use u expires,
// soft and hard (zero: no time limit), from the add and use limits.
func (l XfrmLimits) Expiry(u XfrmUse) (soft, hard time.Time) {
	at := func(add, use time.Duration) time.Time {
		var t time.Time
		if add > 0 && !u.Added.IsZero() {
			t = u.Added.Add(add)
		}
		if use > 0 && !u.Used.IsZero() {
			if x := u.Used.Add(use); t.IsZero() || x.Before(t) {
				t = x
			}
		}
		return t
	}
	return at(l.SoftAdd, l.SoftUse), at(l.HardAdd, l.HardUse)
}
