// Package kmod is the Go side of the netlens kernel module (kernelmod/): a
// generic netlink client for the "netlens" family that creates, changes,
// deletes, lists and counts hook-level filter rules, confirms
// commit-confirmed changes and subscribes to the "events" multicast group.
//
// The module's uapi header, kernelmod/uapi/netlens.h, is the one source of
// truth for the protocol; the constants in consts.go mirror it with the C
// names in comments and TestConstantsMatchHeader keeps them equal.
//
// Errors carry the kernel's extended-ack message ("unknown rule id", "rule
// limit reached ...") and wrap collectors.ErrNotSupported when the module is
// not loaded and collectors.ErrPermission when the caller lacks
// CAP_NET_ADMIN for a command that changes state.
package kmod
