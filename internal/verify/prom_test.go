package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeProm is a Prometheus answering instant queries from a table keyed by
// the exact query. A query it has no answer for fails the test: a check
// whose query changed must not pass, or fail for the wrong reason, by
// getting nothing back.
type fakeProm struct {
	errorf  func(format string, args ...any) // t.Errorf: the handler runs in its own goroutine
	answers map[string]string                // query -> the whole JSON answer
	targets string                           // the answer to /api/v1/targets, if asked

	mu    sync.Mutex
	asked map[string]int
	at    map[string]string // query -> the time parameter it was last asked with
}

func newFakeProm(t *testing.T, answers map[string]string) (*fakeProm, *Prometheus) {
	f := &fakeProm{errorf: t.Errorf, answers: answers, asked: map[string]int{}, at: map[string]string{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, NewPrometheus(srv.URL)
}

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/api/v1/targets" && f.targets != "" {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(f.targets))
		return
	}
	if r.Method != http.MethodGet || r.URL.Path != "/api/v1/query" {
		f.errorf("fake Prometheus: unexpected request %s %s", r.Method, r.URL)
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query().Get("query")
	f.mu.Lock()
	f.asked[q]++
	f.at[q] = r.URL.Query().Get("time")
	f.mu.Unlock()
	answer, ok := f.answers[q]
	if !ok {
		f.errorf("fake Prometheus has no answer for query %q (a check's query changed? update the test's table)", q)
		answer = promError("bad_data", "the fake has no answer for this query")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(answer))
}

// queries lists the queries asked (asked) or the table's queries nobody
// asked (!asked), sorted.
func (f *fakeProm) queries(asked bool) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for q := range f.answers {
		if (f.asked[q] > 0) == asked {
			out = append(out, q)
		}
	}
	sort.Strings(out)
	return out
}

// sample is one element of an instant vector, as Prometheus sends it.
type sample struct {
	labels map[string]string
	value  string
}

func at(node, value string) sample { return sample{map[string]string{"node": node}, value} }

// vector is a successful answer holding samples.
func vector(samples ...sample) string {
	type result struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	res := []result{}
	for _, s := range samples {
		res = append(res, result{Metric: s.labels, Value: [2]any{1.7e9, s.value}})
	}
	return answer("vector", res)
}

func answer(resultType string, result any) string {
	data, err := json.Marshal(map[string]any{"status": "success", "data": map[string]any{"resultType": resultType, "result": result}})
	if err != nil {
		panic(err)
	}
	return string(data)
}

// promError is Prometheus refusing a query.
func promError(errorType, msg string) string {
	return fmt.Sprintf(`{"status":"error","errorType":%q,"error":%q}`, errorType, msg)
}

func TestQueryParsesVector(t *testing.T) {
	const q = `up{job="x",instance=~"a|b"} == 1` // braces, quotes, =~ and | survive the URL
	_, p := newFakeProm(t, map[string]string{q: vector(
		sample{map[string]string{"node": "a", "job": "x"}, "1"},
		sample{map[string]string{"node": "b"}, "-2.5e3"},
	)})
	got, err := p.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Labels["node"] != "a" || got[0].Labels["job"] != "x" || got[0].Value != 1 ||
		got[1].Labels["node"] != "b" || got[1].Value != -2500 {
		t.Errorf("Query = %+v", got)
	}
	if b := byNode(got)["b"]; b.Value != -2500 {
		t.Errorf("byNode(...)[b] = %+v", b)
	}
}

func TestQueryEmptyVector(t *testing.T) {
	_, p := newFakeProm(t, map[string]string{"absent": vector()})
	got, err := p.Query(context.Background(), "absent")
	if err != nil || len(got) != 0 {
		t.Errorf("Query = %+v, %v; want no samples and no error", got, err)
	}
}

func TestQueryFailures(t *testing.T) {
	const q = "q"
	for _, tc := range []struct {
		name, answer, want string
	}{
		{"refused", promError("bad_data", "parse error at char 3"), `prometheus: query "q": bad_data: parse error at char 3`},
		{"not JSON", "<html>502 Bad Gateway</html>", "prometheus: malformed answer: "},
		{"truncated", `{"status":"success","data":{"resultType":"vector","result":[`, "prometheus: malformed answer: "},
		{"matrix", answer("matrix", []any{}), `prometheus: query "q" gave a matrix, want a vector`},
		{"scalar", answer("scalar", []any{1.7e9, "1"}), `prometheus: query "q" gave a scalar, want a vector`},
		{"result not a list", `{"status":"success","data":{"resultType":"vector","result":{}}}`, "prometheus: malformed vector: "},
		{"value not a number", vector(at("a", "yes")), `prometheus: value "yes": `},
		{"value not a string", answer("vector", []map[string]any{{"metric": map[string]string{}, "value": []any{1.7e9, 1}}}), `prometheus: value "": `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, p := newFakeProm(t, map[string]string{q: tc.answer})
			got, err := p.Query(context.Background(), q)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Query = %+v, %v; want an error starting %q", got, err, tc.want)
			}
		})
	}
}

func TestStoredParsesMatrix(t *testing.T) {
	const q = `up{job="x"}[30s]`
	_, p := newFakeProm(t, map[string]string{q: answer("matrix", []map[string]any{
		{"metric": map[string]string{"job": "x"}, "values": [][2]any{{1700000000.25, "1"}, {1700000005.25, "0"}}},
	})})
	got, err := p.Stored(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{{time.UnixMilli(1700000000250), 1}, {time.UnixMilli(1700000005250), 0}}
	if len(got) != 1 || got[0].Labels["job"] != "x" || len(got[0].Points) != 2 ||
		!got[0].Points[0].T.Equal(want[0].T) || got[0].Points[0].Value != 1 || !got[0].Points[1].T.Equal(want[1].T) || got[0].Points[1].Value != 0 {
		t.Errorf("Stored = %+v, want one series with %+v", got, want)
	}
	if _, err := p.Query(context.Background(), q); err == nil || err.Error() != `prometheus: query "up{job=\"x\"}[30s]" gave a matrix, want a vector` {
		t.Errorf("Query of a range selector = %v", err)
	}
}

func TestQueryUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens at its address any more
	_, err := NewPrometheus(srv.URL).Query(context.Background(), "up")
	if err == nil || !strings.HasPrefix(err.Error(), "prometheus unreachable: ") {
		t.Errorf("Query = %v, want prometheus unreachable", err)
	}
}

// TestFakeFailsOnUnknownQuery: the fake itself must object to a query it
// was not given, or the checks' tests could pass on empty answers.
func TestFakeFailsOnUnknownQuery(t *testing.T) {
	f, p := newFakeProm(t, map[string]string{"known": vector()})
	var complaints []string
	var mu sync.Mutex
	f.errorf = func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		complaints = append(complaints, fmt.Sprintf(format, args...))
	}
	_, err := p.Query(context.Background(), `up{job="renamed"}`)
	if err == nil {
		t.Error("a query the fake has no answer for succeeded")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(complaints) != 1 || !strings.Contains(complaints[0], `up{job=\"renamed\"}`) {
		t.Errorf("complaints %q, want one naming the query", complaints)
	}
}
