// Command hello is a minimal workload image: it prints a greeting with its
// hostname and answers HTTP with the same greeting until it is stopped.
// "hello get URL" fetches a URL and prints the answer, so tests can prove
// pod-to-pod and Service traffic from inside a pod (kubectl exec).
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// port is where a hello pod answers; its manifests name it.
const port = "8080"

func main() {
	if len(os.Args) == 3 && os.Args[1] == "get" {
		if err := get(os.Args[2]); err != nil {
			fmt.Fprintf(os.Stderr, "hello get: %v\n", err)
			os.Exit(1)
		}
		return
	}
	host, _ := os.Hostname()
	greeting := fmt.Sprintf("hello from homeworld pod %s\n", host)
	fmt.Print(greeting)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: ":" + port, ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, greeting) })}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		fmt.Fprintf(os.Stderr, "hello: %v\n", err)
		os.Exit(1)
	}
}

func get(url string) error {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	_, err = os.Stdout.Write(body)
	return err
}
