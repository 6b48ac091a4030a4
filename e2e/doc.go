// Package e2e holds end-to-end tests that run Homeworld's real binaries
// against real daemons (sshd today; etcd, Kubernetes and Prometheus as the
// project grows). They need root and the Debian packages that
// scripts/install-deps installs; the test suite runs them like any other
// package. There is no non-test code here.
package e2e
