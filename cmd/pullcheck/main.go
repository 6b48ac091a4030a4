// Command pullcheck is the program inside the pullcheck image that
// pull-monitor pulls and runs on every node: given one argument X it prints
// "hello container world [X]", so the monitor can tell that this very run
// of the image produced the output. See internal/pullmonitor.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: pullcheck TOKEN (prints: hello container world [TOKEN])")
		os.Exit(1)
	}
	fmt.Printf("hello container world [%s]\n", os.Args[1])
}
