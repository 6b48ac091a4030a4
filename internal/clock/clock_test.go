package clock

import (
	"sync"
	"testing"
	"time"
)

func TestFakeMovesOnlyWhenTold(t *testing.T) {
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f := NewFake(start)
	if got := f.Now(); !got.Equal(start) {
		t.Fatalf("Now = %v, want %v", got, start)
	}
	if got := f.Advance(time.Hour); !got.Equal(start.Add(time.Hour)) || !f.Now().Equal(got) {
		t.Errorf("after Advance(1h): returned %v, Now %v, want %v", got, f.Now(), start.Add(time.Hour))
	}
	f.Set(start.Add(-time.Minute))
	if got := f.Now(); !got.Equal(start.Add(-time.Minute)) {
		t.Errorf("after Set into the past: Now = %v", got)
	}
}

// Run with -race: the code under test reads the clock from its own
// goroutines while the test moves it.
func TestFakeConcurrentUse(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				f.Advance(time.Second)
				f.Now()
			}
		}()
	}
	wg.Wait()
	if got := f.Now(); !got.Equal(time.Unix(800, 0)) {
		t.Errorf("Now = %v after 800 one-second advances, want %v", got, time.Unix(800, 0))
	}
}
