package model

import (
	"encoding/json"
	"net/netip"
)

// socketJSON is Socket as JSON has it: the fields in JSON's order, which
// is not Socket's (Socket packs its small fields first).
type socketJSON struct {
	Proto     Proto          `json:"proto"`
	Family    Family         `json:"family"`
	Local     netip.AddrPort `json:"local"`
	Remote    netip.AddrPort `json:"remote"`
	State     SockState      `json:"state"`
	SendQ     uint32         `json:"send_q"`
	RecvQ     uint32         `json:"recv_q"`
	UID       uint32         `json:"uid"`
	Inode     uint64         `json:"inode"`
	Cookie    uint64         `json:"cookie,omitempty"`
	Interface string         `json:"interface,omitempty"`
	Procs     []Proc         `json:"procs,omitempty"`
	Drops     uint64         `json:"drops"`
	HasDrops  bool           `json:"drops_known"`
	NetNS     uint64         `json:"netns,omitempty"`
	Namespace string         `json:"namespace,omitempty"`
	TCP       *TCPInfo       `json:"tcp,omitzero"`
	Rate      *SocketRate    `json:"rate,omitzero"`
}

// MarshalJSON writes the socket's fields in JSON's order. Decoding needs
// no counterpart: fields are matched by name.
func (s Socket) MarshalJSON() ([]byte, error) {
	return json.Marshal(socketJSON{
		Proto: s.Proto, Family: s.Family, Local: s.Local, Remote: s.Remote,
		State: s.State, SendQ: s.SendQ, RecvQ: s.RecvQ, UID: s.UID,
		Inode: s.Inode, Cookie: s.Cookie, Interface: s.Interface, Procs: s.Procs,
		Drops: s.Drops, HasDrops: s.HasDrops, NetNS: s.NetNS,
		Namespace: s.Namespace, TCP: s.TCP, Rate: s.Rate,
	})
}
