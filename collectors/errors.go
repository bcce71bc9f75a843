package collectors

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"netlens/model"
)

// ErrNotSupported is wrapped by errors for a capability this kernel lacks
// (a missing /proc file, an unknown netlink family).
var ErrNotSupported = errors.New("not supported by this kernel")

// ErrPermission is wrapped by errors for a capability the caller's
// privileges lack. The wrapping message names the capability:
// fmt.Errorf("needs CAP_NET_ADMIN: %w", ErrPermission).
var ErrPermission = errors.New("permission denied")

// Classify maps an error to the collector state it means.
func Classify(err error) model.CollectorState {
	switch {
	case err == nil:
		return model.StateOK
	case errors.Is(err, ErrPermission), errors.Is(err, os.ErrPermission),
		errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return model.StateNoPermission
	case errors.Is(err, ErrNotSupported), errors.Is(err, os.ErrNotExist),
		errors.Is(err, syscall.EPROTONOSUPPORT), errors.Is(err, syscall.ENOENT),
		errors.Is(err, syscall.EAFNOSUPPORT), errors.Is(err, syscall.EOPNOTSUPP):
		return model.StateNotSupported
	default:
		return model.StateError
	}
}

// NetlinkError wraps err, from netlink operation op (a request or a
// dump), so that Classify tells a missing CAP_NET_ADMIN (EPERM) and a
// kernel without the subsystem (EPROTONOSUPPORT, EAFNOSUPPORT; absent
// says what is missing: "no nf_tables in this kernel") from other
// failures, each named in the message.
func NetlinkError(op, absent string, err error) error {
	switch {
	case errors.Is(err, syscall.EPERM), errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%s: needs CAP_NET_ADMIN: %w: %w", op, ErrPermission, err)
	case errors.Is(err, syscall.EPROTONOSUPPORT), errors.Is(err, syscall.EAFNOSUPPORT):
		return fmt.Errorf("%s: %s: %w: %w", op, absent, ErrNotSupported, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}
