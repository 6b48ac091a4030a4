// Command keyclient runs the Homeworld keyclient. See internal/keyclient.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"homeworld.dev/homeworld/internal/keyclient"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := keyclient.Command().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "keyclient: %v\n", err)
		os.Exit(1)
	}
}
