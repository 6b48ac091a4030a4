// Package e2e holds end-to-end tests that run Homeworld's real binaries
// against real daemons (sshd today; etcd, Kubernetes and Prometheus as the
// project grows). They need root and the Debian packages that
// scripts/install-deps installs. They build with the e2e tag, so a plain
// `go test ./...` stays quick; scripts/test runs them with `-tags e2e`,
// after every other package. There is no non-test code here.
package e2e
