// Command hello is a minimal workload image: it prints a greeting with its
// hostname and answers HTTP with the same greeting until it is stopped.
// "hello get URL" fetches a URL and prints the answer, and "hello lookup
// NAME" prints a name's addresses, so tests can prove pod-to-pod, Service
// and DNS traffic from inside a pod (kubectl exec).
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// port is where a hello pod answers; its manifests name it.
const port = "8080"

func main() {
	if len(os.Args) == 3 {
		var err error
		switch os.Args[1] {
		case "get":
			err = get(os.Args[2])
		case "lookup":
			err = lookup(os.Args[2])
		default:
			err = fmt.Errorf("unknown command %q (get URL, lookup NAME)", os.Args[1])
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "hello %s: %v\n", os.Args[1], err)
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

func lookup(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, name)
	if err != nil {
		return err
	}
	fmt.Println(strings.Join(addrs, " "))
	return nil
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
