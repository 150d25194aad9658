package limits

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

// fleetBreaker is a Breaker that leases its limits, as with a Fleet.
func fleetBreaker(t testing.TB, doc string) *Breaker {
	t.Helper()
	b, err := NewBreaker(BreakerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.attachFleet()
	cfg, err := ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return b
}

func demandOf(t testing.TB, b *Breaker, key string) Demand {
	t.Helper()
	for _, d := range b.Demands(nil) {
		if d.Key == key {
			return d
		}
	}
	t.Fatalf("no demand for %s in %+v", key, b.Demands(nil))
	return Demand{}
}

func TestFleetCountShare(t *testing.T) {
	b := fleetBreaker(t, `{"global":{"enabled":true,"actions":{"Read:count":6}},"buckets":{"photos":{"enabled":true,"actions":{"Read:bytes":100}}}}`)
	// No share yet: refused, and the refusal asks the fleet for a look.
	<-b.Kicks() // the install asked already
	if _, err := b.Admit(read, "x", 0); !isSlowDown(err) {
		t.Fatalf("Admit without a share: %v, want SlowDown", err)
	}
	select {
	case <-b.Kicks():
	default:
		t.Fatal("a refusal by a share did not ask the fleet for a look")
	}
	d := demandOf(t, b, "global/Read:count")
	if d.Limit != 6 || d.Share != 0 || d.Held != 0 || d.Want != 1 || !d.Counts {
		t.Fatalf("demand %+v, want limit 6, share 0, held 0, want 1", d)
	}
	b.Grant(&d, 2)
	t1, err1 := b.Admit(read, "x", 0)
	t2, err2 := b.Admit(read, "x", 0)
	if err1 != nil || err2 != nil {
		t.Fatalf("Admit within a share of 2: %v, %v", err1, err2)
	}
	if _, err := b.Admit(read, "x", 0); !isSlowDown(err) {
		t.Fatalf("third Admit with a share of 2: %v, want SlowDown", err)
	}
	// Lowered below what is in use: held stays at the use until released.
	d = demandOf(t, b, "global/Read:count")
	b.Grant(&d, 1)
	d = demandOf(t, b, "global/Read:count")
	if d.Share != 1 || d.Used != 2 || d.Held != 2 {
		t.Fatalf("after lowering to 1 with 2 in flight: %+v, want share 1, used 2, held 2", d)
	}
	t1.Release()
	t2.Release()
	d = demandOf(t, b, "global/Read:count")
	if d.Held != 1 || d.Want != 0 {
		t.Fatalf("after the releases: %+v, want held 1, want 0", d)
	}
	// Shares never exceed the limit.
	b.Grant(&d, 100)
	if d = demandOf(t, b, "global/Read:count"); d.Share != 6 {
		t.Fatalf("share after a grant of 100: %d, want the limit 6", d.Share)
	}
	// A bytes share: the request too large for the limit is still
	// refused as too large; one larger than the share is full.
	bd := demandOf(t, b, "bucket/photos/Read:bytes")
	b.Grant(&bd, 40)
	if _, err := b.Admit(read, "photos", 101); err == nil || !errors.Is(err, s3api.ErrRequestBytesExceed) {
		t.Fatalf("Admit of 101 bytes under a 100-byte limit: %v", err)
	}
	if _, err := b.Admit(read, "photos", 50); !errors.Is(err, s3api.ErrRequestBytesExceed) {
		t.Fatalf("Admit of 50 bytes with a share of 40: %v, want refused", err)
	}
	if bd = demandOf(t, b, "bucket/photos/Read:bytes"); bd.Want != 50 {
		t.Fatalf("bytes demand after a refused 50: %+v, want 50", bd)
	}
	tk, err := b.Admit(read, "photos", 40)
	if err != nil {
		t.Fatal(err)
	}
	tk.Release()
}

func isSlowDown(err error) bool {
	var e *s3api.Error
	return errors.As(err, &e) && e.Code == s3api.ErrSlowDown.Code
}

func TestFleetGrantWakesWaiters(t *testing.T) {
	b := fleetBreaker(t, `{"global":{"enabled":true,"wait":"10s","actions":{"Read:count":4}}}`)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			tk, err := b.AdmitWait(context.Background(), read, "", "", 0)
			if err == nil {
				defer tk.Release()
			}
			done <- err
		}()
	}
	for b.waiting[scopeGlobal].Load() != 2 {
		time.Sleep(time.Millisecond)
	}
	d := demandOf(t, b, "global/Read:count")
	if d.Want != 2 {
		t.Fatalf("want %d with two waiting, want 2", d.Want)
	}
	b.Grant(&d, 2)
	for range 2 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a grant did not wake the waiting requests")
		}
	}
}

func TestFleetOpsShare(t *testing.T) {
	b := fleetBreaker(t, `{"global":{"enabled":true,"actions":{"Read:ops/s":100}}}`)
	if _, err := b.Admit(read, "", 0); !isSlowDown(err) {
		t.Fatalf("Admit without an ops/s share: %v, want SlowDown", err)
	}
	d := demandOf(t, b, "global/Read:ops/s")
	if d.Counts || d.Limit != 100 || d.Avail != 0 {
		t.Fatalf("demand %+v", d)
	}
	b.Grant(&d, 5)
	// A new share brings no burst: it refills at the share.
	if n := admitAtOnce(b, 20); n != 0 {
		t.Fatalf("admitted %d at once with a new share of 5/s, want 0", n)
	}
	// After a long idle time a share of 5/s admits its burst of 5 at
	// once, then refuses.
	b.global[0].tat.Store(-int64(time.Hour))
	if d = demandOf(t, b, "global/Read:ops/s"); d.Avail != 5 {
		t.Fatalf("burst reported after an idle hour: %d, want 5", d.Avail)
	}
	if n := admitAtOnce(b, 20); n != 5 {
		t.Fatalf("admitted %d at once with a share of 5/s, want 5", n)
	}
	// A larger share does not bring a larger burst at once.
	b.Grant(&d, 50)
	if n := admitAtOnce(b, 20); n > 0 {
		t.Fatalf("admitted %d at once after the share grew, want 0: the burst refills at the new rate", n)
	}
	if d = demandOf(t, b, "global/Read:ops/s"); d.Share != 50 || d.Want == 0 {
		t.Fatalf("demand %+v, want share 50 and some want", d)
	}
}

// admitAtOnce admits reads until one is refused (at most n) and returns
// how many were admitted.
func admitAtOnce(b *Breaker, n int) int {
	for i := range n {
		tk, err := b.Admit(read, "", 0)
		if err != nil {
			return i
		}
		tk.Release()
	}
	return n
}

func TestFleetRateShare(t *testing.T) {
	b, err := NewBreaker(BreakerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b.attachFleet()
	b.SetFleetSize(4)
	cfg, err := ParseConfig([]byte(`{"global":{"enabled":true,"actions":{"Read:bytes/s":1000000}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	tk, err := b.Admit(read, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Release()
	p := tk.pacers[scopeGlobal]
	if !tk.Shaped() || p.Rate() != 250000 {
		t.Fatalf("before a grant the pacer runs at %d B/s, want the limit / 4 servers", p.Rate())
	}
	d := demandOf(t, b, "global/Read:bytes/s")
	if f := d.Floor(4); f != 1000000/(rateFloorDiv*4) {
		t.Errorf("floor %d", f)
	}
	b.Grant(&d, 100000)
	if r := p.Rate(); r != 100000 {
		t.Fatalf("pacer rate %d after a grant of 100000", r)
	}
	b.Grant(&d, 0)
	if r := p.Rate(); r != 1000000/(2*rateFloorDiv*4) {
		t.Fatalf("pacer rate %d after a grant of 0, want the floor %d", r, 1000000/(2*rateFloorDiv*4))
	}
}

// The benchmarks of a leasing Breaker, to compare with BenchmarkAdmitRelease
// and BenchmarkAdmitUserRates.
func BenchmarkFleetAdmitRelease(b *testing.B) {
	br := fleetBreaker(b, benchConfig)
	for _, d := range br.Demands(nil) {
		br.Grant(&d, d.Limit)
	}
	b.ReportAllocs()
	for b.Loop() {
		tk, err := br.Admit(write, "bk1", 4096)
		if err != nil {
			b.Fatal(err)
		}
		tk.Release()
	}
}

func BenchmarkFleetAdmitUserRates(b *testing.B) {
	br, err := NewBreaker(BreakerOptions{})
	if err != nil {
		b.Fatal(err)
	}
	br.attachFleet()
	if err := br.SetConfig(rateConfig(1e9)); err != nil {
		b.Fatal(err)
	}
	for _, d := range br.Demands(nil) {
		br.Grant(&d, d.Limit)
	}
	b.ReportAllocs()
	for b.Loop() {
		tk, err := br.AdmitUser(s3api.ActionRead, "photos", "alice", 10)
		if err != nil {
			b.Fatal(err)
		}
		tk.Release()
	}
}
