package seq

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRunRetriesAndReportsTimes(t *testing.T) {
	tries := 0
	var out bytes.Buffer
	err := Run(context.Background(), []Step{
		{Name: "first", Run: func(context.Context) error { return nil }},
		{Name: "flaky", Run: func(context.Context) error {
			tries++
			if tries < 3 {
				return errors.New("not yet")
			}
			return nil
		}},
	}, Options{Out: &out, Deadline: 5 * time.Second, Retry: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[1/2] first ok (", "[2/2] flaky ... waiting: not yet", "[2/2] flaky ok (", "all 2 steps passed in"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunStopsAtAFailingStep(t *testing.T) {
	var out bytes.Buffer
	ran := false
	err := Run(context.Background(), []Step{
		{Name: "broken", Run: func(context.Context) error { return errors.New("node x: service y is failed") }},
		{Name: "never", Run: func(context.Context) error { ran = true; return nil }},
	}, Options{Out: &out, Deadline: 50 * time.Millisecond, Retry: 10 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "node x: service y is failed") || ran {
		t.Fatalf("err = %v, later step ran = %v", err, ran)
	}
	if !strings.Contains(out.String(), "[1/2] broken FAILED after") {
		t.Errorf("output:\n%s", out.String())
	}
	var dry bytes.Buffer
	DryRun(&dry, []Step{{Name: "a"}, {Name: "b"}})
	if dry.String() != "[1/2] a\n[2/2] b\n" {
		t.Errorf("dry run %q", dry.String())
	}
}

// A step's own Retry replaces the run's: with the run's hour between
// attempts, the step passes within the deadline only if it looks again
// at its own pace.
func TestStepRetryReplacesTheRuns(t *testing.T) {
	tries := 0
	var out bytes.Buffer
	err := Run(context.Background(), []Step{{Name: "quick", Retry: time.Millisecond, Run: func(context.Context) error {
		if tries++; tries < 3 {
			return errors.New("not yet")
		}
		return nil
	}}}, Options{Out: &out, Deadline: 30 * time.Second, Retry: time.Hour})
	if err != nil || tries != 3 {
		t.Fatalf("err = %v after %d tries:\n%s", err, tries, out.String())
	}
}
