// Command keyserver runs the Homeworld keyserver. See internal/keyserver.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"homeworld.dev/homeworld/internal/keyserver"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := keyserver.Command().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "keyserver: %v\n", err)
		os.Exit(1)
	}
}
