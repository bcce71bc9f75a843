// Command gen writes docs/drops.md from the drop knowledge embedded in
// package drops: go generate ./model/drops.
package main

import (
	"flag"
	"fmt"
	"os"

	"netlens/internal/atomicfile"
	"netlens/model/drops"
)

func main() {
	out := flag.String("o", "docs/drops.md", "file to write")
	flag.Parse()
	if err := atomicfile.WriteFile(*out, drops.Default().Markdown(), atomicfile.Shared); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
