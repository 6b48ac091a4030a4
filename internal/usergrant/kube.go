package usergrant

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"
)

// Kube is the Kubernetes API as user-grant's own identity, which may make
// namespaces and, in them, role bindings, quotas and limit ranges, and
// bind the admin cluster role: nothing else. Plain REST calls, as
// internal/incluster makes them (the module does not depend on
// client-go).
type Kube struct {
	Server string // https://host:port
	http   *http.Client
}

// NewKube is a client of the apiserver at server, trusting roots and
// presenting identity, which is asked for at each handshake so a renewed
// certificate is used at once.
func NewKube(server string, roots *x509.CertPool, identity func() (*tls.Certificate, error)) *Kube {
	return &Kube{Server: strings.TrimSuffix(server, "/"), http: &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{
				MinVersion: tls.VersionTLS12,
				RootCAs:    roots,
				GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					return identity()
				},
			},
			TLSHandshakeTimeout: 10 * time.Second,
			IdleConnTimeout:     30 * time.Second,
		},
	}}
}

// APIError is the apiserver's refusal of a call, with its Status object's
// reason and message.
type APIError struct {
	Method, Path string
	Code         int
	Reason       string // AlreadyExists, Forbidden, Conflict, ...
	Message      string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Code, e.Message)
}

// NotOursError is a namespace of the user's name that user-grant did not
// make for them: it is left alone, and the user gets nothing.
type NotOursError struct{ Namespace, User string }

func (e *NotOursError) Error() string {
	return fmt.Sprintf("namespace %s exists but is not user-grant's for %s (it lacks the label %s=%s): an administrator must delete or label it", e.Namespace, e.User, UserLabel, e.User)
}

func isCode(err error, code int) bool {
	var e *APIError
	return errors.As(err, &e) && e.Code == code
}

// Provision makes user's namespace and the quota, defaults and role
// binding in it, or puts back what differs from what user-grant sets; what
// already is as it should be is not written again. It returns what it
// created or changed ("namespace/user-alice created"). A failure leaves
// what was done in place, and running Provision again finishes it.
func (k *Kube) Provision(ctx context.Context, user string) ([]string, error) {
	var changes []string
	ns := namespaceObject(user)
	created, err := k.ensureNamespace(ctx, ns, user)
	if err != nil {
		return changes, err
	}
	if created {
		changes = append(changes, ns.Kind+"/"+ns.Name+" created")
	}
	for _, o := range namespaced(user) {
		outcome, err := k.ensure(ctx, o)
		if err != nil {
			return changes, err
		}
		if outcome != "" {
			changes = append(changes, o.Kind+"/"+o.Name+" "+outcome)
		}
	}
	return changes, nil
}

// ensureNamespace creates the namespace, or checks that the one there is
// user's (it may not change namespaces).
func (k *Kube) ensureNamespace(ctx context.Context, o object, user string) (created bool, err error) {
	for attempt := 0; ; attempt++ {
		var cur struct {
			Metadata struct {
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
		}
		err := k.do(ctx, http.MethodGet, o.Collection+"/"+o.Name, nil, &cur)
		if isCode(err, http.StatusNotFound) {
			err = k.do(ctx, http.MethodPost, o.Collection, o.Body, nil)
			if isCode(err, http.StatusConflict) && attempt == 0 {
				continue // made meanwhile (a grant in parallel): check it
			}
			return err == nil, err
		}
		if err != nil {
			return false, err
		}
		if cur.Metadata.Labels[UserLabel] != user {
			return false, &NotOursError{Namespace: o.Name, User: user}
		}
		return false, nil
	}
}

// ensure creates o, or updates the fields and labels it owns when they
// differ; it returns "created", "updated" or "" (as it should be).
func (k *Kube) ensure(ctx context.Context, o object) (string, error) {
	want, err := asMap(o.Body)
	if err != nil {
		return "", err
	}
	path := o.Collection + "/" + o.Name
	for attempt := 0; ; attempt++ {
		retry := attempt < 2
		var cur map[string]any
		err := k.do(ctx, http.MethodGet, path, nil, &cur)
		if isCode(err, http.StatusNotFound) {
			err = k.do(ctx, http.MethodPost, o.Collection, o.Body, nil)
			if isCode(err, http.StatusConflict) && retry {
				continue // made meanwhile
			}
			if err != nil {
				return "", err
			}
			return "created", nil
		}
		if err != nil {
			return "", err
		}
		if !setOwned(cur, want, o.Owned) {
			return "", nil
		}
		// cur keeps its resourceVersion: a change made meanwhile is a
		// conflict, and the next round looks again.
		err = k.do(ctx, http.MethodPut, path, cur, nil)
		if isCode(err, http.StatusConflict) && retry {
			continue
		}
		if err != nil {
			return "", err
		}
		return "updated", nil
	}
}

// setOwned copies want's owned fields and labels into cur, reporting
// whether anything differed.
func setOwned(cur, want map[string]any, owned []string) bool {
	changed := false
	for _, f := range owned {
		if !reflect.DeepEqual(cur[f], want[f]) {
			cur[f], changed = want[f], true
		}
	}
	curMeta, _ := cur["metadata"].(map[string]any)
	if curMeta == nil {
		curMeta = map[string]any{}
		cur["metadata"] = curMeta
	}
	curLabels, _ := curMeta["labels"].(map[string]any)
	if curLabels == nil {
		curLabels = map[string]any{}
	}
	wantMeta, _ := want["metadata"].(map[string]any)
	wantLabels, _ := wantMeta["labels"].(map[string]any)
	for key, v := range wantLabels {
		if curLabels[key] != v {
			curLabels[key], changed = v, true
		}
	}
	curMeta["labels"] = curLabels
	return changed
}

// asMap is v as the API's JSON decodes, so it compares with what a GET
// returns.
func asMap(v any) (map[string]any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(data, &m)
}

// do calls the API: in is sent as JSON, a 2xx answer is decoded into out
// (when not nil), anything else is an *APIError.
func (k *Kube) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, k.Server+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := k.http.Do(req)
	if err != nil {
		return fmt.Errorf("the Kubernetes API at %s: %w", k.Server, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("the Kubernetes API at %s: reading the answer to %s %s: %w", k.Server, method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &APIError{Method: method, Path: path, Code: resp.StatusCode}
		var st struct{ Reason, Message string }
		if json.Unmarshal(data, &st) == nil {
			e.Reason, e.Message = st.Reason, st.Message
		}
		if e.Message == "" {
			e.Message = resp.Status
		}
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the Kubernetes API at %s: %s %s: malformed answer: %w", k.Server, method, path, err)
	}
	return nil
}
