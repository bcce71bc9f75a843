package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"

	"netlens/collectors/sockets"
)

// timeIt times, interleaved in the same run: a netlens socket collection
// without owners against `ss -tan`, and a steady-state netlens collection
// with owners (cache warm) against `ss -tanp`. It prints medians, ratios
// and a Markdown table row.
func timeIt(args []string) error {
	fs := flag.NewFlagSet("time", flag.ExitOnError)
	runs := fs.Int("runs", 7, "timed runs of each (the median is reported)")
	label := fs.String("label", "", "label of the Markdown row (e.g. 50k conns)")
	_ = fs.Parse(args)
	ctx := context.Background()

	noOwners := sockets.New(sockets.Options{NoOwners: true})
	defer noOwners.Close()
	withOwners := sockets.New(sockets.Options{})
	defer withOwners.Close()

	// Warm up: the first owner refresh reads every fd; later ones do not.
	t0 := time.Now()
	socks, st, err := withOwners.Sockets(ctx)
	if err != nil {
		return err
	}
	cold := time.Since(t0)
	owned := 0
	for _, s := range socks {
		if len(s.Procs) > 0 {
			owned++
		}
	}
	fmt.Fprintf(os.Stderr, "sockets %d (owned %d), source %s; first refresh with owners %v (%d readlinks)\n",
		len(socks), owned, st.Source, cold.Round(time.Millisecond), st.Owners.Readlinks)
	if _, _, err := noOwners.Sockets(ctx); err != nil {
		return err
	}

	var tNo, tSS, tOwn, tSSp []time.Duration
	var last sockets.Stats
	for i := range *runs {
		d, _, err := timed(func() (sockets.Stats, error) { _, st, err := noOwners.Sockets(ctx); return st, err })
		if err != nil {
			return err
		}
		tNo = append(tNo, d)
		d, err = timedCmd("ss", "-tan")
		if err != nil {
			return err
		}
		tSS = append(tSS, d)
		d, last, err = timed(func() (sockets.Stats, error) { _, st, err := withOwners.Sockets(ctx); return st, err })
		if err != nil {
			return err
		}
		tOwn = append(tOwn, d)
		d, err = timedCmd("ss", "-tanp")
		if err != nil {
			return err
		}
		tSSp = append(tSSp, d)
		fmt.Fprintf(os.Stderr, "run %d: netlens %v, ss -tan %v, netlens+owners %v (dump %v, owners %v, %d readlinks), ss -tanp %v\n", i+1,
			tNo[i].Round(time.Microsecond), tSS[i].Round(time.Microsecond), tOwn[i].Round(time.Microsecond),
			last.DumpDuration.Round(time.Microsecond), last.OwnerDuration.Round(time.Microsecond), last.Owners.Readlinks, tSSp[i].Round(time.Microsecond))
	}
	mNo, mSS, mOwn, mSSp := median(tNo), median(tSS), median(tOwn), median(tSSp)
	fmt.Printf("| %s | %d | %s | %s | **%.2fx** | %s | %s | %s | **%.3fx** |\n", *label, len(socks),
		ms(mNo), ms(mSS), float64(mNo)/float64(mSS), ms(cold), ms(mOwn), ms(mSSp), float64(mOwn)/float64(mSSp))
	return nil
}

func timed(f func() (sockets.Stats, error)) (time.Duration, sockets.Stats, error) {
	t := time.Now()
	st, err := f()
	return time.Since(t), st, err
}

// timedCmd runs a command with its output to /dev/null, as a user piping
// ss into less would pay for its formatting too.
func timedCmd(name string, args ...string) (time.Duration, error) {
	cmd := exec.Command(name, args...)
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd.Stdout = devnull
	t := time.Now()
	err = cmd.Run()
	return time.Since(t), err
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }
