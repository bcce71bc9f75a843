// Package rtnltest helps tests of the rtnetlink collectors answer dumps
// from a fake kernel (nltest). It is for tests only.
package rtnltest

import (
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
)

// DumpReply is the kernel's reply to the dump request req: msgs, then
// the empty NLMSG_DONE that ends a dump, each with req's sequence number
// and port ID, as one multipart reply.
func DumpReply(req netlink.Message, msgs []netlink.Message) ([]netlink.Message, error) {
	msgs = append(msgs, netlink.Message{Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi}})
	for i := range msgs {
		msgs[i].Header.Sequence = req.Header.Sequence
		msgs[i].Header.PID = req.Header.PID
	}
	return nltest.Multipart(msgs)
}
