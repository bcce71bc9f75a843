package nft

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/internal/atomicfile"
	"netlens/internal/reverthelper"
	"netlens/model"
)

// revertState is the revert helper's state file: the rule set to restore
// and when.
type revertState struct {
	Txn      uint32       `json:"txn"`
	Deadline time.Time    `json:"deadline"`
	Changed  []uint32     `json:"changed"`
	Prev     []model.Rule `json:"prev"`
	// PrevPolicies are the DROP default policies before the change (nil
	// in a state file written before netlens had them: left alone).
	PrevPolicies *[]policyKey `json:"prev_policies,omitempty"`
	HelperPID    int          `json:"helper_pid,omitempty"`
}

// statePath is the state file of the backend's namespace, named after
// the namespace's collectors.NetNSKey (inode and cookie) so that
// namespaces do not share it, not even one made after another is gone
// with its inode. The key is computed once per Backend (its namespace
// does not change).
func (b *Backend) statePath() (string, error) {
	b.keyMu.Lock()
	defer b.keyMu.Unlock()
	if b.key == "" {
		key, err := collectors.NetNSKey(b.opt.NetNS)
		if err != nil {
			return "", err
		}
		b.key = key
	}
	return filepath.Join(b.opt.StateDir, "netns-"+b.key+".json"), nil
}

// legacyStatePath is where netlens before ffc561d kept the state file of
// the namespace whose state file is path: named by the namespace's inode
// alone ("netns-INODE.json"); "" for a path without an inode.
func legacyStatePath(path string) string {
	name := strings.TrimSuffix(filepath.Base(path), ".json")
	ino, _, ok := strings.Cut(strings.TrimPrefix(name, "netns-"), "-")
	if !ok || ino == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(path), "netns-"+ino+".json")
}

// ErrLegacyState is a pending change an older netlens left under the
// inode-only name (legacyStatePath).
var ErrLegacyState = errors.New("a revert state an older netlens wrote is waiting")

func readState(path string) (*revertState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st revertState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("revert state %s: %w", path, err)
	}
	return &st, nil
}

// pending returns the pending change of the namespace, or nil.
func (b *Backend) pending() (*revertState, error) {
	path, err := b.statePath()
	if err != nil {
		return nil, err
	}
	st, err := readState(path)
	if errors.Is(err, fs.ErrNotExist) {
		// An older netlens named the file by the inode alone: its
		// change may still be pending, its helper (the older binary)
		// still waiting to put back the rules it holds, over any change
		// made now. It cannot be told whether the file is this
		// namespace's or one's gone before that had this inode, so it
		// is neither applied nor ignored: changes wait until it is
		// gone.
		if old := legacyStatePath(path); old != "" {
			if lst, lerr := readState(old); lerr == nil {
				return nil, fmt.Errorf("%w: %s (transaction %d, deadline %s, helper pid %d) is named by the namespace's inode alone, so it may be a namespace's that is gone: "+
					"if its helper still runs, it reverts at the deadline; otherwise check its prev rules against `netlens rules list`, put back what is missing by hand and remove the file",
					ErrLegacyState, old, lst.Txn, lst.Deadline.Format(time.DateTime), lst.HelperPID)
			} else if !errors.Is(lerr, fs.ErrNotExist) {
				return nil, lerr
			}
		}
		return nil, nil
	}
	if errors.Is(err, fs.ErrPermission) {
		// CAP_NET_ADMIN without root (setcap): the nftables change
		// would work, its revert state cannot be kept.
		return nil, fmt.Errorf("%w: %s is root's: changing rules keeps their revert state there (run as root)", err, b.opt.StateDir)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// claimedSuffix names a claimed state file: path+claimedSuffix is the
// state file a reverting process renamed away (claimAndRestore), kept
// until the rules are put back.
const claimedSuffix = ".reverting"

// claimFresh is how long a claimed state file still counts as its
// change pending for readers (pendingView): a revert takes milliseconds;
// a claimed file older than this is one whose claimer died.
const claimFresh = 10 * time.Second

// pendingView is the pending change as readers (List, Pending) report
// it: the state file's, or, while its revert is under way, the claimed
// file's. The state file is claimed before the rules are put back, so a
// reader between the two would otherwise see the change's rules with no
// change pending (the TUI said REVERTED beside the rule still on).
func (b *Backend) pendingView() (*revertState, error) {
	st, err := b.pending()
	if err != nil || st != nil {
		return st, err
	}
	path, err := b.statePath()
	if err != nil {
		return nil, err
	}
	return claimedState(path+claimedSuffix, time.Now()), nil
}

// claimedState returns the state in the claimed file at path when it
// was claimed (renamed: its ctime) within claimFresh of now, else nil.
func claimedState(path string, now time.Time) *revertState {
	var fst unix.Stat_t
	if err := unix.Stat(path, &fst); err != nil || now.Sub(time.Unix(fst.Ctim.Unix())) > claimFresh {
		return nil
	}
	st, err := readState(path)
	if err != nil {
		return nil
	}
	return st
}

// writeFileAtomic writes a state file (0600, in a 0700 directory made if
// missing) with atomicfile.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, data, atomicfile.Private)
}

// arm writes the state file and starts the revert helper, and returns
// once the helper has read it. The helper runs in its own session
// (setsid), outside this process's process group, so it survives this
// process being killed (SIGKILL) and the terminal hanging up.
func (b *Backend) arm(prev []model.Rule, policies []policyKey, changed []uint32, revert time.Duration) (*revertState, error) {
	path, err := b.statePath()
	if err != nil {
		return nil, err
	}
	if policies == nil {
		policies = []policyKey{}
	}
	st := &revertState{Txn: rand.Uint32()>>1 | 1, Deadline: time.Now().Add(revert), Changed: changed, Prev: prev, PrevPolicies: &policies}
	if err := b.writeState(st); err != nil {
		return nil, err
	}
	argv := b.opt.HelperCmd
	if len(argv) == 0 {
		if argv, err = reverthelper.Self("rules", "revert-watch"); err != nil {
			os.Remove(path)
			return nil, err
		}
	}
	argv = append(slices.Clone(argv), path)
	pid, err := reverthelper.Spawn(argv, b.opt.NetNS, logPath(path))
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	st.HelperPID = pid
	return st, nil
}

// writeState writes st to the namespace's state file atomically.
func (b *Backend) writeState(st *revertState) error {
	path, err := b.statePath()
	if err != nil {
		return err
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("write revert state: %w", err)
	}
	return nil
}

// disarm cancels an armed revert whose change failed to apply.
func (b *Backend) disarm(st *revertState) {
	if st == nil {
		return
	}
	if path, err := b.statePath(); err == nil {
		os.Remove(path)
	}
}

// Confirm keeps the pending change txn: the helper sees its state file
// gone and exits without reverting.
func (b *Backend) Confirm(txn uint32) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	path, err := b.statePath()
	if err != nil {
		return err
	}
	st, err := readState(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("nft confirm %d: %w", txn, ErrUnknownTxn)
	}
	if err != nil {
		return err
	}
	if st.Txn != txn {
		return fmt.Errorf("nft confirm %d: %w (pending is %d)", txn, ErrUnknownTxn, st.Txn)
	}
	if time.Now().After(st.Deadline) {
		return fmt.Errorf("nft confirm %d: too late, the deadline passed: %w", txn, ErrUnknownTxn)
	}
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("nft confirm %d: too late, being reverted: %w", txn, ErrUnknownTxn)
		}
		return err
	}
	return nil
}

// RevertWatch is the revert helper (`netlens rules revert-watch FILE`):
// it expects the ready pipe on fd 3 and the network namespace on fd 4,
// reads the state file, says it is ready, and waits for the deadline. If
// the state file is still there then (no confirm), it claims it and puts
// back the rule set it holds in one nftables transaction. Counters of
// rules that still exist are kept.
func RevertWatch(path string) error {
	st, err := readState(path)
	if err != nil {
		return err
	}
	b := &Backend{opt: Options{NetNS: reverthelper.NetNSFD, StateDir: filepath.Dir(path)}, reverted: map[uint32]bool{}}
	if err := reverthelper.Ready(); err != nil {
		return err
	}
	for {
		left := time.Until(st.Deadline)
		if left <= 0 {
			break
		}
		time.Sleep(min(left, 50*time.Millisecond))
		cur, err := readState(path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil // confirmed
		case err != nil:
			continue // keep waiting on what we know
		case cur.Txn != st.Txn:
			return nil
		}
		st.Deadline = cur.Deadline // moved once the change is applied
	}
	by := fmt.Sprintf("revert helper (pid %d)", os.Getpid())
	logf := func(e model.RulesEvent) {
		e.At, e.Txn, e.By = time.Now(), st.Txn, by
		if err := writeEvent(os.Stdout, e); err != nil {
			fmt.Fprintf(os.Stderr, "txn %d: %s\n", e.Txn, e.Message)
		}
	}
	_, err = b.claimAndRestore(path, st, logf, "reverted at the deadline")
	return err
}

// How a claim that fails for another reason than the state file being
// gone is retried before the revert goes ahead without it.
const (
	claimTries   = 5
	claimBackoff = 200 * time.Millisecond
)

// claimAndRestore claims the state file at path (a rename, so that one
// process only reverts) and puts back st.Prev. Only a state file that no
// longer exists means the change was confirmed (or another process is
// reverting it): any other error (EACCES, EROFS, EIO) is logged and
// retried, and then the revert is done anyway, without the claim: a
// lockout must not outlive its deadline because a directory turned
// read-only. Every outcome is logged with logf. It reports whether it
// reverted.
func (b *Backend) claimAndRestore(path string, st *revertState, logf func(model.RulesEvent), done string) (bool, error) {
	claimed := path + claimedSuffix
	var claimErr error
	for try := 1; try <= claimTries; try++ {
		claimErr = os.Rename(path, claimed)
		if claimErr == nil || errors.Is(claimErr, fs.ErrNotExist) {
			break
		}
		logf(model.RulesEvent{Message: fmt.Sprintf("cannot claim the state file %s (try %d of %d): %v", path, try, claimTries, unwrapLink(claimErr)), Error: true})
		if try < claimTries {
			time.Sleep(claimBackoff)
		}
	}
	switch {
	case errors.Is(claimErr, fs.ErrNotExist):
		return false, nil // confirmed at the last moment, or claimed by another process
	case claimErr == nil:
		defer os.Remove(claimed)
	}
	if err := b.restore(st.Prev, st.PrevPolicies); err != nil {
		logf(model.RulesEvent{Message: "revert failed: " + err.Error(), Error: true})
		return false, fmt.Errorf("nft: revert of transaction %d: %w", st.Txn, err)
	}
	if claimErr != nil {
		b.mu.Lock()
		b.reverted[st.Txn] = true
		b.mu.Unlock()
		logf(model.RulesEvent{Message: done + ", without claiming the state file (" + unwrapLink(claimErr).Error() +
			"): it stays until its directory is writable again", Error: true})
		return true, nil
	}
	logf(model.RulesEvent{Message: done})
	return true, nil
}

// unwrapLink drops the *os.LinkError around a rename's cause, whose
// paths the message already gives.
func unwrapLink(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// restore puts back the rule set prev and, when not nil, the DROP
// policies, in one transaction.
func (b *Backend) restore(prev []model.Rule, policies *[]policyKey) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	copies, err := b.readCopies()
	if err != nil {
		return err
	}
	now := group(copies)
	rules := slices.Clone(prev)
	for i := range rules {
		for _, n := range now {
			if n.ID == rules[i].ID && n.Packets >= rules[i].Packets {
				rules[i].Packets, rules[i].Bytes = n.Packets, n.Bytes
			}
		}
	}
	c := b.conn()
	ensure(c)
	if err := queueAll(c, copies, rules); err != nil {
		return err
	}
	if policies != nil {
		if err := queuePolicies(c, copies, *policies); err != nil {
			return err
		}
	}
	if err := flush(c, "nft revert"); err != nil {
		return err
	}
	b.gc()
	return nil
}

// Pending returns the change waiting for a confirm in the namespace, if
// any (a pending delete shows in no rule).
func (b *Backend) Pending() (txn uint32, revertAt time.Time, ok bool) {
	st, err := b.pendingView()
	if err != nil || st == nil {
		return 0, time.Time{}, false
	}
	return st.Txn, st.Deadline, true
}

// recoverGrace is how long past its deadline a pending change waits for
// its helper before Recover reverts it itself.
const recoverGrace = 3 * time.Second

// Recover reverts a pending change whose helper did not (it was killed,
// or the machine was too busy): a state file still unclaimed recoverGrace
// after its deadline. The claim (a rename) makes sure that only one of
// the helper and any number of recovering processes reverts. It reports
// whether it reverted. The filters collector calls it on every refresh.
func (b *Backend) Recover() (bool, error) {
	path, err := b.statePath()
	if err != nil {
		return false, err
	}
	st, err := readState(path)
	if err != nil || time.Since(st.Deadline) < recoverGrace {
		return false, nil
	}
	b.mu.Lock()
	done := b.reverted[st.Txn]
	b.mu.Unlock()
	if done {
		return false, nil // reverted already, its state file could not be removed
	}
	by := fmt.Sprintf("netlens (pid %d)", os.Getpid())
	logf := func(e model.RulesEvent) {
		e.At, e.Txn, e.By = time.Now(), st.Txn, by
		b.logEvent(e)
	}
	return b.claimAndRestore(path, st, logf, fmt.Sprintf("reverted %s after the deadline: its revert helper did not",
		time.Since(st.Deadline).Round(time.Second)))
}
