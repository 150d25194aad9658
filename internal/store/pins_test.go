package store

import (
	"os"
	"testing"
)

func TestPinProtocol(t *testing.T) {
	e := newEnv(t)
	e.fileBacked()
	e.mkBucket("bkt")
	oi := e.put("bkt", "k", "x")
	id := oi.segs[0].ID
	path := e.s.dataPath(id)

	// No release since the count was read: the pin is good.
	since := e.s.releaseCount()
	if !e.s.pin([]string{id}, since) {
		t.Fatal("pin failed without a release")
	}
	// A release of a pinned id defers the removal to the last unpin.
	e.s.pin([]string{id}, since)
	e.s.release([]string{id})
	e.s.unpin([]string{id})
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("file removed while still pinned: %v", err)
	}
	e.s.unpin([]string{id})
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file kept after the last unpin: %v", err)
	}

	// A release between reading the count and pinning is reported, so the
	// reader checks its record again.
	since = e.s.releaseCount()
	e.s.release([]string{"00000000000000000000000000000000"})
	if e.s.pin([]string{"11111111111111111111111111111111"}, since) {
		t.Fatal("pin missed a release that happened after the lookup")
	}
	e.s.unpin([]string{"11111111111111111111111111111111"})
	if len(e.s.pins) != 0 || len(e.s.doomed) != 0 {
		t.Fatalf("pin state left: %v %v", e.s.pins, e.s.doomed)
	}
}
