// Command gen writes docs/drops.md from the drop knowledge embedded in
// package drops: go generate ./collectors/drops.
package main

import (
	"flag"
	"fmt"
	"os"

	"netlens/collectors/drops"
	"netlens/internal/atomicfile"
)

func main() {
	out := flag.String("o", "docs/drops.md", "file to write")
	flag.Parse()
	if err := atomicfile.WriteFile(*out, drops.Default().Markdown(), atomicfile.Shared); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
