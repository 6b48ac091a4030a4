package usergrant

import (
	"fmt"
	"regexp"
	"strings"
)

// userName is what a user's name must be: "user-" + name is a namespace
// (a DNS label) with room to spare, and the name reads the same in
// Kerberos, Kubernetes and the audit log.
var userName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}[a-z0-9]$`)

// UserFor returns the user a Kerberos principal is granted as: name for
// name@realm. Principals with an instance (alice/admin, host/x) and those
// of other realms get nothing; the error says why, naming the principal.
func UserFor(principal, realm string) (string, error) {
	at := strings.LastIndex(principal, "@")
	if at < 0 {
		return "", fmt.Errorf("%s has no realm", principal)
	}
	name, prealm := principal[:at], principal[at+1:]
	switch {
	case prealm != realm:
		return "", fmt.Errorf("%s is not a user of this cluster's realm %s", principal, realm)
	case strings.Contains(name, "/"):
		return "", fmt.Errorf("%s is not a plain user principal (it has an instance): get a ticket as your own user, kinit NAME@%s", principal, realm)
	case !userName.MatchString(name):
		return "", fmt.Errorf("%s cannot have a namespace: user names are 2 to 32 lowercase letters, digits and '-', starting with a letter and not ending with '-'", principal)
	}
	return name, nil
}

// Namespace is the namespace user administers.
func Namespace(user string) string { return "user-" + user }

// KubeUser is user's name in Kubernetes: the common name of their
// certificate and the subject of their role binding.
func KubeUser(user string) string { return "user:" + user }
