package keyserver_test

import (
	"os"
	"testing"

	"homeworld.dev/homeworld/internal/keysystemtest"
)

// TestMain lets this test binary also be the keyserver child process that
// BenchmarkIssuance starts (keysystemtest.Options.Process).
func TestMain(m *testing.M) {
	keysystemtest.ServeIfChild()
	os.Exit(m.Run())
}
