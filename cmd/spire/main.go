// Command spire is the Homeworld administrator's tool. See internal/spirecmd.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"homeworld.dev/homeworld/internal/spirecmd"
)

func main() {
	// Cancelling the context on ^C lets long commands clean up after
	// themselves instead of dying mid-write.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := spirecmd.Main(ctx, os.Args[1:], spirecmd.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
