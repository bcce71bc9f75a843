package filter

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"netlens/collectors"
	"netlens/control/filter/kmodbackend"
	"netlens/control/filter/nft"
	"netlens/model"
	"netlens/model/rules"
)

// Backend holds filter rules: the kernel module (kmodbackend), the
// nftables table (nft), or nothing (read-only). Implementations are safe
// for concurrent use.
//
// A non-zero revert makes a change commit-confirmed: the rules it returns
// carry PendingTxn, and unless Confirm(txn) comes within revert, the
// change is undone — by the kernel (kmod) or by a helper process that
// outlives netlens (nft).
type Backend interface {
	// Name is "kmod", "nft" or "none".
	Name() string
	// ReadOnly says why changes are refused, or "".
	ReadOnly() string
	// List returns the rules in evaluation order with their counters.
	List() ([]model.Rule, error)
	// Verdicts returns the per-hook verdict counters (nil when the
	// backend has none).
	Verdicts() ([]model.HookVerdicts, error)
	Add(r model.Rule, revert time.Duration) (model.Rule, error)
	// Change sets every field of rule id to r's.
	Change(id uint32, r model.Rule, revert time.Duration) (model.Rule, error)
	SetEnabled(id uint32, enabled bool, revert time.Duration) (model.Rule, error)
	Delete(id uint32, revert time.Duration) error
	// Replace makes rules the whole rule set, all or nothing.
	Replace(rules []model.Rule, revert time.Duration) error
	Confirm(txn uint32) error
	// Watch calls changed after every change of the rules, whoever made
	// it, until ctx is done.
	Watch(ctx context.Context, changed func()) error
	Close() error
}

// PolicySetter is a backend with a default policy per hook and family
// (the kernel module): what a packet no rule decides gets, ACCEPT until
// set. Its Verdicts report the policies (model.HookVerdicts.Policy).
type PolicySetter interface {
	// SetPolicy sets the policy of one family (model.FamilyIPv4 or
	// FamilyIPv6) and hook. A non-zero revert makes it commit-confirmed:
	// unless Confirm(txn) comes before revertAt, the old verdict comes
	// back. A policy with an unconfirmed change cannot change again
	// until it is confirmed or reverted.
	SetPolicy(p rules.Policy, revert time.Duration) (txn uint32, revertAt time.Time, err error)
}

// bothFamilies is a PolicySetter whose SetPolicy takes
// model.RuleFamilyBoth and sets both families in one transaction (nft:
// one change is pending at a time, so two would not do).
type bothFamilies interface{ PolicyBothFamilies() }

// loadKeepsIDs is a Backend whose Replace keeps the non-zero ids of the
// rules it is given (nft: the ids live in the rules' comments), ids
// under the bound ReplaceKeepsIDs returns. The module's ids are its
// own: it makes a load's rules before it deletes the old ones, so they
// get new ids there.
type loadKeepsIDs interface{ ReplaceKeepsIDs() (bound uint32) }

// ErrNoPolicy is wrapped by a policy change on a backend without default
// policies.
var ErrNoPolicy = errors.New("this filter backend has no default policy")

// ErrReadOnly is wrapped by every change refused by a read-only backend.
var ErrReadOnly = errors.New("filter rules are read-only")

// Options choose and configure the backend.
type Options struct {
	// Backend is BackendAuto (the default: kmod when the netlens module
	// is loaded, else nft when permitted, else read-only), rules.BackendKmod,
	// rules.BackendNFT or rules.BackendNone.
	Backend string
	// NFT configures the nftables backend.
	NFT nft.Options
	// NetNS, when not 0, is an open network namespace file whose rules
	// both backends read and change (it overrides NFT.NetNS).
	NetNS int
}

// Open selects the backend. With rules.BackendAuto it never fails: when
// no backend can be used it returns a read-only one whose ReadOnly says
// why (shown in the Filters tab and by `netlens rules`). A backend asked
// for by name (rules.BackendKmod, rules.BackendNFT) that cannot be used is
// an error with the reason and the fix (exit 1); a bad Options.Backend is
// a rules.InvalidError.
func Open(opt Options) (Backend, error) {
	admin := HasNetAdmin()
	noAdmin := ""
	if !admin {
		noAdmin = "read-only: changing rules needs CAP_NET_ADMIN (run as root)"
	}
	var reasons []string
	switch opt.Backend {
	case "", rules.BackendAuto, rules.BackendKmod:
		b, err := kmodbackend.DialNetNS(noAdmin, opt.NetNS)
		if err == nil {
			return b, nil
		}
		reasons = append(reasons, err.Error()) // "kmod: ..."
		if opt.Backend == rules.BackendKmod {
			// Asked for by name: not having it is an error, not a
			// silent fall back to read-only.
			return nil, fmt.Errorf("--filter-backend kmod: %w (load the module: sudo modprobe netlens, or sudo insmod kernelmod/netlens.ko from a build; docs/kernelmod.md), or use --filter-backend auto", err)
		}
		fallthrough
	case rules.BackendNFT:
		if !admin {
			if opt.Backend == rules.BackendNFT {
				return nil, fmt.Errorf("--filter-backend nft: needs CAP_NET_ADMIN (run as root, or use --filter-backend auto for read-only rules): %w", collectors.ErrPermission)
			}
			reasons = append(reasons, "nft: needs CAP_NET_ADMIN")
			break
		}
		if opt.NetNS != 0 {
			opt.NFT.NetNS = opt.NetNS
		}
		b, err := nft.New(opt.NFT)
		if err == nil {
			return b, nil
		}
		if opt.Backend == rules.BackendNFT {
			return nil, fmt.Errorf("--filter-backend nft: %w", err)
		}
		reasons = append(reasons, err.Error())
	case rules.BackendNone:
		reasons = append(reasons, "backend none chosen")
	default:
		return nil, rules.InvalidError{Err: fmt.Errorf("unknown filter backend %q (auto, kmod, nft or none)", opt.Backend)}
	}
	return readOnly{name: rules.BackendNone, reason: strings.Join(reasons, "; ")}, nil
}

// HasNetAdmin reports whether this process has CAP_NET_ADMIN in its
// effective set (/proc/self/status CapEff).
func HasNetAdmin() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return os.Geteuid() == 0
	}
	return capNetAdmin(string(b))
}

func capNetAdmin(status string) bool {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<12) != 0 // CAP_NET_ADMIN
		}
	}
	return false
}

// readOnly is the backend of last resort: no rules, every change refused
// with the reason.
type readOnly struct {
	name, reason string
}

func (r readOnly) Name() string     { return r.name }
func (r readOnly) ReadOnly() string { return r.reason }
func (r readOnly) err() error {
	return fmt.Errorf("%w: %s", ErrReadOnly, r.reason)
}
func (r readOnly) List() ([]model.Rule, error)             { return nil, nil }
func (r readOnly) Verdicts() ([]model.HookVerdicts, error) { return nil, nil }
func (r readOnly) Add(model.Rule, time.Duration) (model.Rule, error) {
	return model.Rule{}, r.err()
}
func (r readOnly) Change(uint32, model.Rule, time.Duration) (model.Rule, error) {
	return model.Rule{}, r.err()
}
func (r readOnly) SetEnabled(uint32, bool, time.Duration) (model.Rule, error) {
	return model.Rule{}, r.err()
}
func (r readOnly) Delete(uint32, time.Duration) error        { return r.err() }
func (r readOnly) Replace([]model.Rule, time.Duration) error { return r.err() }
func (r readOnly) Confirm(uint32) error                      { return r.err() }
func (r readOnly) Close() error                              { return nil }
func (r readOnly) Watch(ctx context.Context, _ func()) error {
	<-ctx.Done()
	return nil
}

var (
	_ Backend = (*nft.Backend)(nil)
	_ Backend = (*kmodbackend.Backend)(nil)
	_ Backend = readOnly{}

	_ PolicySetter = (*kmodbackend.Backend)(nil)
	_ PolicySetter = (*nft.Backend)(nil)
	_ bothFamilies = (*nft.Backend)(nil)
	_ PacketLogger = (*nft.Backend)(nil)
)
