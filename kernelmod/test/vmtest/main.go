// Command vmtest exercises netlens.ko through collectors/kmod inside the
// qemu VM that kernelmod/test/run-qemu.sh boots. It is a static binary
// (CGO_ENABLED=0) run as the VM's /init payload, as root. It prints one
// "--- PASS:" or "--- FAIL:" line per check and exits 1 if any failed.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"time"
)

var (
	modulePath = flag.String("module", "/netlens.ko", "path of netlens.ko")
	runBench   = flag.Bool("bench", false, "measure the per-packet cost table instead of running the checks")
	unprivMode = flag.Bool("unpriv", false, "internal: run the unprivileged half of the permission check")
	only       = flag.String("only", "", "run only the checks whose name matches this regular expression")
	pinHooks   = flag.Bool("pin-hooks", true, "before the first check (not with -bench, not for experiments), add an nftables table with base chains on all hooks and keep it, so no hook static key flips during the run (false: the open TCG soft lockup, docs/kernelmod.md)")
	scaleRules = flag.Int("scale-rules", 100000, "rules per shape of the scale benchmark")
	floodRules = flag.Bool("flood-rules", true, "rmmod-flood: make rules each cycle (false: load/unload only; with no rule the module registers no hook, the lockup experiment of docs/kernelmod.md)")
	stressN    = flag.Int("stress-cycles", 30, "load/unload cycles of the rmmod-flood check (30 in make test, 500 in make bench)")
	unprivRule = flag.Int("rule", 0, "internal: the rule id the unprivileged half expects")
	usernsMode = flag.Bool("userns-child", false, "internal: run the container half of the userns check")
)

// checkTimeout bounds one check; a hang fails the run instead of waiting
// for the harness's global timeout.
// The stress check gets 6 s a cycle more (3.3 s a cycle measured under TCG).
var checkTimeout = 240 * time.Second

func init() {
	// Keep the main goroutine, and so no other, on the main thread: a
	// goroutine that enters another network namespace (netns.do) must never
	// land on the thread group leader, whose namespace /proc/net shows.
	runtime.LockOSThread()
}

type check struct {
	name string
	fn   func() error
}

// experiments run only when -only names them.
var experiments = map[string]bool{"nft-toggle-flood": true, "hookonly-flood": true,
	"profile-syms": true, "profile-hooks": true, "profile-create": true, "profile-catchall": true}

func main() {
	flag.Parse()
	checkTimeout = max(checkTimeout, time.Duration(*stressN)*6*time.Second+time.Minute)
	if *runBench {
		checkTimeout = 30 * time.Minute // the scale benchmark creates 200,000 rules
	}
	if *unprivMode {
		os.Exit(unprivMain())
	}
	if *usernsMode {
		os.Exit(usernsChild())
	}
	checks := allChecks()
	if *runBench {
		checks = []check{{"load", checkLoad}, {"bench", benchCost}, {"set-vs-nft", benchSetVsNft}, {"scale", benchScale}}
	}
	var onlyRE *regexp.Regexp
	if *only != "" {
		var err error
		if onlyRE, err = regexp.Compile(*only); err != nil {
			fmt.Printf("vmtest: -only: %v\n", err)
			os.Exit(2)
		}
	}
	failed, ran := 0, 0
	start := time.Now()
	for _, c := range checks {
		if onlyRE != nil && !onlyRE.MatchString(c.name) || onlyRE == nil && experiments[c.name] {
			continue
		}
		ran++
		// the checks only: -bench compares per-packet costs with
		// nftables', and the experiments measure or flip the keys
		if *pinHooks && !*runBench && !experiments[c.name] {
			if err := pinHookKeys(); err != nil {
				failed++
				fmt.Printf("=== RUN %s\n--- FAIL: %s: %v\n", c.name, c.name, err)
				continue
			}
		}
		// a crash names the check that was running (run-qemu.sh reads it)
		fmt.Printf("=== RUN %s\n", c.name)
		t0 := time.Now()
		done := make(chan error, 1)
		go func() { done <- c.fn() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(checkTimeout):
			fmt.Printf("--- FAIL: %s: timeout after %v\n", c.name, checkTimeout)
			os.Exit(1)
		}
		if err != nil {
			failed++
			fmt.Printf("--- FAIL: %s (%.2fs): %v\n", c.name, time.Since(t0).Seconds(), err)
			continue
		}
		fmt.Printf("--- PASS: %s (%.2fs)\n", c.name, time.Since(t0).Seconds())
	}
	fmt.Printf("vmtest: %d checks, %d failed, %.1fs\n", ran, failed, time.Since(start).Seconds())
	if ran == 0 {
		fmt.Printf("vmtest: no check matches -only=%q\n", *only)
		os.Exit(1)
	}
	if failed > 0 {
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Printf("    "+format+"\n", args...)
}
