package kubeapply

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fakeKubectl answers get with before and apply with after, and records its
// arguments and stdin.
func fakeKubectl(t *testing.T, before, after string) (Kubectl, string) {
	dir := t.TempDir()
	for name, body := range map[string]string{"get.json": before, "apply.json": after} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	script := `#!/bin/sh
d=$(dirname "$0")
echo "$@" >>"$d/args"
cat >>"$d/stdin"
case " $* " in
*" get "*) cat "$d/get.json" ;;
*" apply "*) cat "$d/apply.json" ;;
*) exit 1 ;;
esac
`
	path := filepath.Join(dir, "kubectl")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return Kubectl{Path: path, Kubeconfig: filepath.Join(dir, "kubeconfig")}, dir
}

const (
	sa  = `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"coredns","namespace":"kube-system","resourceVersion":"%s"}}`
	dep = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"coredns","namespace":"kube-system","resourceVersion":"%s"}}`
	cr  = `{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"homeworld:coredns","resourceVersion":"%s"}}`
)

func list(items ...string) string {
	s := `{"apiVersion":"v1","kind":"List","items":[`
	for i, it := range items {
		if i > 0 {
			s += ","
		}
		s += it
	}
	return s + "]}"
}

func rv(format, v string) string { return fmt.Sprintf(format, v) }

func TestOutcomes(t *testing.T) {
	tests := []struct {
		name          string
		before, after string
		want          []Result
	}{
		{"first apply", "", list(rv(sa, "10"), rv(dep, "11"), rv(cr, "12")),
			[]Result{{"serviceaccount/coredns", Created}, {"deployment.apps/coredns", Created}, {"clusterrole.rbac.authorization.k8s.io/homeworld:coredns", Created}}},
		{"nothing to do", list(rv(sa, "10"), rv(dep, "11"), rv(cr, "12")), list(rv(sa, "10"), rv(dep, "11"), rv(cr, "12")),
			[]Result{{"serviceaccount/coredns", Unchanged}, {"deployment.apps/coredns", Unchanged}, {"clusterrole.rbac.authorization.k8s.io/homeworld:coredns", Unchanged}}},
		{"one changed, one new", list(rv(sa, "10"), rv(dep, "11")), list(rv(sa, "10"), rv(dep, "20"), rv(cr, "21")),
			[]Result{{"serviceaccount/coredns", Unchanged}, {"deployment.apps/coredns", Changed}, {"clusterrole.rbac.authorization.k8s.io/homeworld:coredns", Created}}},
		{"one object, not a list", rv(sa, "10"), rv(sa, "10"), []Result{{"serviceaccount/coredns", Unchanged}}},
		{"get answers an empty list", list(), rv(sa, "1"), []Result{{"serviceaccount/coredns", Created}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, dir := fakeKubectl(t, tc.before, tc.after)
			got, err := Apply(context.Background(), k, "the manifest\n")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			args, _ := os.ReadFile(filepath.Join(dir, "args"))
			stdin, _ := os.ReadFile(filepath.Join(dir, "stdin"))
			wantArgs := "--kubeconfig " + k.Kubeconfig + " --request-timeout 10s get --ignore-not-found -f - -o json\n" +
				"--kubeconfig " + k.Kubeconfig + " --request-timeout 10s apply --server-side --field-manager homeworld -f - -o json\n"
			if string(args) != wantArgs || string(stdin) != "the manifest\nthe manifest\n" {
				t.Errorf("kubectl ran as\n%s(stdin %q), want\n%s", args, stdin, wantArgs)
			}
		})
	}
}

func TestKubectlFails(t *testing.T) {
	k := Kubectl{Path: "/bin/false"}
	if _, err := Apply(context.Background(), k, ""); err == nil {
		t.Error("a failing kubectl was not reported")
	}
}
