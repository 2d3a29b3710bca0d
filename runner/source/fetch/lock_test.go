package fetch

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLockEntry: a second holder of one entry waits, saying so once, and
// gets the lock when the first lets go; a wait ends with its context.
// Other entries are not held up.
func TestLockEntry(t *testing.T) {
	cache := t.TempDir()
	ctx := context.Background()
	unlock, err := LockEntry(ctx, cache, "sha256-aa", "a.tar.gz", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := LockEntry(ctx, cache, "sha256-bb", "b.tar.gz", nil)
	if err != nil {
		t.Fatalf("another entry is held up: %v", err)
	}
	other()

	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	var log bytes.Buffer
	if _, err := LockEntry(short, cache, "sha256-aa", "a.tar.gz", &log); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting on a held entry ended with %v, want the context's deadline", err)
	}
	if strings.Count(log.String(), "waiting for it") != 1 {
		t.Errorf("log = %q, want one line saying it waits", log.String())
	}

	got := make(chan error)
	go func() {
		u, err := LockEntry(ctx, cache, "sha256-aa", "a.tar.gz", nil)
		if err == nil {
			u()
		}
		got <- err
	}()
	time.Sleep(2 * lockPoll)
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the waiting holder never got the lock after it was released")
	}
}
