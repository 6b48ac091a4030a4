// Package timewarp is the time-warp suite (issue 17): a real keyserver and
// a real keyclient for every node of keysystemtest's cluster run for
// hundreds of simulated days on one fake clock, TLS handshakes included,
// while the supervisor goes down for up to a week at random moments. The
// suite checks that no node ever holds an expired credential, and, with
// promtool, that the credential expiry alert warns at least a week ahead
// when renewal is blocked and never while renewal works.
//
// The suite is tests only; this file is its documentation. In CI it
// simulates 30 days; the full run is
//
//	go test ./internal/timewarp -run TestTimeWarp -days 400 -v -timeout 60m
//
// with -seed N (or TIMEWARP_SEED=N) to replay a run whose seed it printed.
// Nothing imports the package.
package timewarp
