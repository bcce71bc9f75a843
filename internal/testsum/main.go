// Command testsum counts test results for `make test`: passes, failures
// and skips, and fails when a test failed, a package failed to build, or
// a test skipped without being on the allow-list.
//
//	go test -json ./... | testsum -stream -save bin/test/unit.json
//	testsum -allow .ci/skip-allow bin/test/*.json bin/test/*.txt
//
// With -stream it reads `go test -json` on standard input, saves it (-save)
// and prints each package's result as it ends, with the output of the
// tests that failed or skipped. Otherwise it reads the files named: *.json
// as `go test -json` output, anything else as the text of a suite that
// prints "--- PASS: name", "--- FAIL: name" and "--- SKIP: name" lines
// (`go test -v`, and the kernel module's VM suites); a text file without
// any result line counts as a failure (the suite did not run).
//
// The allow-list (-allow) holds one test per line, "package TestName" or
// "suite TestName" (a subtest as TestName/sub), with a comment (# ...)
// on the line or above it saying why; CI keeps it empty.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

// result is what happened to one test.
type result struct {
	pkg, test, action string
	output            []string
}

type tally struct {
	results  map[string]*result // key: pkg + " " + test
	order    []string
	pkgFail  []string // packages that failed with no failing test (build errors, panics in TestMain)
	pkgOut   map[string][]string
	noResult []string // text suites without a result line
}

func newTally() *tally {
	return &tally{results: map[string]*result{}, pkgOut: map[string][]string{}}
}

func (t *tally) get(pkg, test string) *result {
	k := pkg + " " + test
	r := t.results[k]
	if r == nil {
		r = &result{pkg: pkg, test: test}
		t.results[k] = r
		t.order = append(t.order, k)
	}
	return r
}

// add takes one JSON event; it returns a line to print when streaming.
func (t *tally) add(e event) string {
	if e.Test == "" {
		switch e.Action {
		case "build-output":
			return e.Output
		case "output":
			t.pkgOut[e.Package] = append(t.pkgOut[e.Package], e.Output)
		case "fail":
			failed := false
			for _, k := range t.order {
				if r := t.results[k]; r.pkg == e.Package && r.action == "fail" {
					failed = true
				}
			}
			if !failed {
				t.pkgFail = append(t.pkgFail, e.Package)
			}
			return fmt.Sprintf("FAIL\t%s\t%.1fs\n", e.Package, e.Elapsed)
		case "pass":
			return fmt.Sprintf("ok  \t%s\t%.1fs\n", e.Package, e.Elapsed)
		}
		return ""
	}
	r := t.get(e.Package, e.Test)
	switch e.Action {
	case "output":
		if len(r.output) < 400 {
			r.output = append(r.output, e.Output)
		}
	case "pass", "fail", "skip":
		r.action = e.Action
		if e.Action != "pass" {
			return strings.Join(r.output, "")
		}
	}
	return ""
}

var textResult = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)

// addText reads a suite's text output.
func (t *tally) addText(suite string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var last []string
	n := 0
	for sc.Scan() {
		line := sc.Text()
		last = append(last, line+"\n")
		if len(last) > 40 {
			last = last[1:]
		}
		m := textResult.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		res := t.get(suite, m[2])
		res.action = strings.ToLower(m[1])
		if res.action != "pass" {
			res.output = append(res.output, line+"\n")
		}
	}
	if n == 0 {
		t.noResult = append(t.noResult, suite)
		t.pkgOut[suite] = last
	}
	return sc.Err()
}

// allowList reads "package Test" lines; # starts a comment.
func allowList(path string) (map[string]bool, error) {
	allowed := map[string]bool{}
	if path == "" {
		return allowed, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for i, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		f := strings.Fields(line)
		switch len(f) {
		case 0:
		case 2:
			allowed[f[0]+" "+f[1]] = true
		default:
			return nil, fmt.Errorf("%s line %d: want \"package TestName\"", path, i+1)
		}
	}
	return allowed, nil
}

// report prints the totals and what failed, and says whether all is well.
func (t *tally) report(w io.Writer, allowed map[string]bool) bool {
	var pass, fail, skip, skipAllowed int
	var failed, skipped []string
	for _, k := range t.order {
		r := t.results[k]
		switch r.action {
		case "pass":
			pass++
		case "fail":
			fail++
			failed = append(failed, k)
		case "skip":
			skip++
			if allowed[k] {
				skipAllowed++
			} else {
				skipped = append(skipped, k)
			}
		}
	}
	sort.Strings(failed)
	sort.Strings(skipped)
	for _, k := range skipped {
		fmt.Fprintf(w, "SKIP (not allowed) %s\n", k)
		for _, l := range t.results[k].output {
			if strings.Contains(l, ".go:") {
				fmt.Fprintf(w, "\t%s", strings.TrimSpace(l)+"\n")
			}
		}
	}
	for _, k := range failed {
		fmt.Fprintf(w, "FAIL %s\n", k)
	}
	for _, p := range t.pkgFail {
		fmt.Fprintf(w, "FAIL %s (the package failed outside any test)\n", p)
	}
	for _, s := range t.noResult {
		fmt.Fprintf(w, "FAIL %s: no test results (the suite did not run); its last lines:\n%s", s, strings.Join(t.pkgOut[s], ""))
	}
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped (%d on the allow-list)\n", pass, fail, skip, skipAllowed)
	ok := fail == 0 && len(skipped) == 0 && len(t.pkgFail) == 0 && len(t.noResult) == 0 && pass > 0
	if !ok {
		fmt.Fprintln(w, "testsum: FAIL")
	}
	return ok
}

func main() {
	stream := flag.Bool("stream", false, "read go test -json on stdin and print results as they come")
	save := flag.String("save", "", "with -stream, save the JSON read to this file")
	allow := flag.String("allow", "", "allow-list of skips (\"package TestName\" lines, # comments)")
	flag.Parse()
	allowed, err := allowList(*allow)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	t := newTally()
	if *stream {
		var in io.Reader = os.Stdin
		if *save != "" {
			f, err := os.Create(*save)
			if err != nil {
				fmt.Fprintln(os.Stderr, "testsum:", err)
				os.Exit(2)
			}
			defer f.Close()
			in = io.TeeReader(os.Stdin, f)
		}
		if err := readJSON(in, t, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "testsum:", err)
			os.Exit(2)
		}
	}
	for _, path := range flag.Args() {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testsum:", err)
			os.Exit(2)
		}
		if strings.HasSuffix(path, ".json") {
			err = readJSON(f, t, io.Discard)
		} else {
			err = t.addText(strings.TrimSuffix(filepath.Base(path), filepath.Ext(path)), f)
		}
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "testsum: %s: %v\n", path, err)
			os.Exit(2)
		}
	}
	if !t.report(os.Stdout, allowed) {
		os.Exit(1)
	}
}

// readJSON reads go test -json events; lines that are not JSON (build
// errors go test prints as text) are printed and fail the run.
func readJSON(r io.Reader, t *tally, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Fprintln(w, sc.Text())
			if strings.TrimSpace(sc.Text()) != "" {
				t.pkgFail = append(t.pkgFail, "go test: "+sc.Text())
			}
			continue
		}
		if line := t.add(e); line != "" {
			fmt.Fprint(w, line)
		}
	}
	return sc.Err()
}
