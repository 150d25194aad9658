package limits

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
)

func rateBreaker(t testing.TB, m *metrics.Metrics, cfg *Config) *Breaker {
	t.Helper()
	b, err := NewBreaker(BreakerOptions{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return b
}

func wantRefusal(t testing.TB, err error, code string) *s3api.Error {
	t.Helper()
	var e *s3api.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want %s", err, code)
	}
	return e
}

// TestOpsPerSecond: the burst is one second of the rate, a refusal says
// when a request would conform, and the long-run rate is exact.
func TestOpsPerSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := rateBreaker(t, nil, &Config{Global: &Section{Enabled: true, Actions: map[string]int64{"Read:ops/s": 10}}})
		for i := range 10 {
			tk, err := b.Admit(s3api.ActionRead, "", 0)
			if err != nil {
				t.Fatalf("request %d of the burst refused: %v", i, err)
			}
			tk.Release()
		}
		_, err := b.Admit(s3api.ActionRead, "", 0)
		e := wantRefusal(t, err, "SlowDown")
		if e.RetryAfter != 100*time.Millisecond {
			t.Fatalf("retry after %v, want 100ms (one emission interval)", e.RetryAfter)
		}
		time.Sleep(40 * time.Millisecond)
		_, err = b.Admit(s3api.ActionRead, "", 0)
		if e := wantRefusal(t, err, "SlowDown"); e.RetryAfter != 60*time.Millisecond {
			t.Fatalf("retry after %v, want 60ms", e.RetryAfter)
		}
		time.Sleep(60 * time.Millisecond)
		tk, err := b.Admit(s3api.ActionRead, "", 0)
		if err != nil {
			t.Fatalf("a conforming request was refused: %v", err)
		}
		tk.Release()
		// Offered 30/s for 10 s: 10 of the burst plus 10/s.
		admitted := 0
		for range 300 {
			time.Sleep(time.Second / 30)
			if tk, err := b.Admit(s3api.ActionRead, "", 0); err == nil {
				admitted++
				tk.Release()
			}
		}
		if admitted < 99 || admitted > 101 {
			t.Fatalf("admitted %d in 10 s at 10/s, want 100", admitted)
		}
		// Counts are released; rates are spent.
		if c, _ := b.Inflight(s3api.ActionRead); c != 0 {
			t.Fatalf("%d requests in flight", c)
		}
	})
}

// TestScopesGiveBack: a request must pass its user's, its bucket's and
// the global section; a refusal in a later scope gives back what the
// earlier ones took, rates included.
func TestScopesGiveBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := rateBreaker(t, nil, &Config{
			Global:  &Section{Enabled: true, Actions: map[string]int64{"Write:count": 1}},
			Buckets: map[string]*Section{"photos": {Enabled: true, Actions: map[string]int64{"Write:ops/s": 1}}},
			Users:   map[string]*Section{"alice": {Enabled: true, Actions: map[string]int64{"Write:ops/s": 1, "Write:count": 5}}},
		})
		held, err := b.AdmitUser(s3api.ActionWrite, "other", "bob", 0)
		if err != nil {
			t.Fatal(err)
		}
		// The global count refuses: alice's and photos' rates must come back.
		_, err = b.AdmitUser(s3api.ActionWrite, "photos", "alice", 10)
		wantRefusal(t, err, "SlowDown")
		held.Release()
		if _, err := b.AdmitUser(s3api.ActionWrite, "photos", "alice", 10); err != nil {
			t.Fatalf("after the refusal gave back, the next request was refused: %v", err)
		}
		// Now alice's rate is spent: refused in the user scope.
		_, err = b.AdmitUser(s3api.ActionWrite, "elsewhere", "alice", 0)
		if e := wantRefusal(t, err, "SlowDown"); !strings.Contains(e.Message, "for this user") {
			t.Fatalf("refusal %q does not name the user scope", e.Message)
		}
		// Bob is not alice: only the global count applies to him.
		if n, _ := b.Inflight(s3api.ActionWrite); n != 1 {
			t.Fatalf("%d in flight, want 1", n)
		}
	})
}

// TestShadowSection: a shadow section refuses nothing and counts what it
// would have refused.
func TestShadowSection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := metrics.New("t")
		b := rateBreaker(t, m, &Config{Users: map[string]*Section{
			"anonymous": {Enabled: true, Shadow: true, Actions: map[string]int64{"Read:ops/s": 2, "Read:count": 1, "List:count": 0}},
		}})
		var held []Ticket
		for i := range 5 {
			tk, err := b.AdmitUser(s3api.ActionRead, "", "anonymous", 0)
			if err != nil {
				t.Fatalf("request %d refused by a shadow section: %v", i, err)
			}
			held = append(held, tk)
		}
		if _, err := b.AdmitUser(s3api.ActionList, "", "anonymous", 0); err != nil {
			t.Fatalf("a shadow limit of 0 refused: %v", err)
		}
		for i := range held {
			held[i].Release()
		}
		// 5 reads: 4 over the count of 1, 3 over the burst of 2; 1 list.
		for _, c := range []struct {
			action, typ string
			want        float64
		}{{"Read", "count", 4}, {"Read", "ops/s", 3}, {"List", "count", 1}} {
			if got := testutil.ToFloat64(m.Shadowed(c.action, "user", c.typ)); got != c.want {
				t.Errorf("shadow refusals %s %s = %v, want %v", c.action, c.typ, got, c.want)
			}
		}
		if got := testutil.ToFloat64(m.Throttled("Read", "user", "count")); got != 0 {
			t.Errorf("a shadow section throttled %v requests", got)
		}
	})
}

// TestAdmitUserAllocations: admission with user, bucket and global
// sections and a rate in each does not allocate, refused or not.
func TestAdmitUserAllocations(t *testing.T) {
	b := rateBreaker(t, nil, rateConfig(1e9))
	if n := testing.AllocsPerRun(1000, func() {
		tk, err := b.AdmitUser(s3api.ActionRead, "photos", "alice", 10)
		if err != nil {
			t.Fatal(err)
		}
		tk.Release()
	}); n != 0 {
		t.Errorf("admission allocates %v times, want 0", n)
	}
	r := rateBreaker(t, nil, rateConfig(1))
	_, _ = r.AdmitUser(s3api.ActionRead, "photos", "alice", 10)
	_, _ = r.AdmitUser(s3api.ActionRead, "photos", "alice", 10) // fills the retry cache
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := r.AdmitUser(s3api.ActionRead, "photos", "alice", 10); err == nil {
			t.Fatal("admitted over the rate")
		}
	}); n > 0.01 {
		t.Errorf("a refusal allocates %v times, want 0", n)
	}
}

func rateConfig(ops int64) *Config {
	sec := func() *Section {
		return &Section{Enabled: true, Actions: map[string]int64{"Read:ops/s": ops, "Read:count": 1 << 40}}
	}
	return &Config{Global: sec(), Buckets: map[string]*Section{"photos": sec()}, Users: map[string]*Section{"alice": sec()}}
}

func BenchmarkAdmitUserRates(b *testing.B) {
	br := rateBreaker(b, nil, rateConfig(1e9))
	b.ReportAllocs()
	for b.Loop() {
		tk, err := br.AdmitUser(s3api.ActionRead, "photos", "alice", 10)
		if err != nil {
			b.Fatal(err)
		}
		tk.Release()
	}
}

func BenchmarkAdmitUserRatesParallel(b *testing.B) {
	br := rateBreaker(b, nil, rateConfig(1e9))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tk, err := br.AdmitUser(s3api.ActionRead, "photos", "alice", 10)
			if err != nil {
				b.Fatal(err)
			}
			tk.Release()
		}
	})
}

func BenchmarkAdmitUserRefused(b *testing.B) {
	br := rateBreaker(b, nil, rateConfig(1))
	_, _ = br.AdmitUser(s3api.ActionRead, "photos", "alice", 10)
	b.ReportAllocs()
	for b.Loop() {
		// At 1/s, about one request a second conforms.
		if tk, err := br.AdmitUser(s3api.ActionRead, "photos", "alice", 10); err == nil {
			tk.Release()
		}
	}
}

// shapedGet serves size bytes through the shaping of a ticket admitted
// by l, as the middleware does for a download.
func shapedGet(l *Limits, bucket string, size int64) error {
	tk, err := l.breaker.AdmitUser(s3api.ActionRead, bucket, "", 0)
	if err != nil {
		return err
	}
	defer tk.Release()
	w := &shapedWriter{ResponseWriter: httptest.NewRecorder(), c: credit{sh: l.newShaper(context.Background(), 0, &tk)}}
	_, err = io.Copy(w, io.LimitReader(zeros{}, size))
	return err
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestShapingAccuracyAndFairness: four downloads of 5 MiB under one
// bucket's 4 MiB/s take 5 s together and finish within 15 % of each
// other.
func TestShapingAccuracyAndFairness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Apply(&Config{Buckets: map[string]*Section{"media": {Enabled: true, Actions: map[string]int64{"Read:bytes/s": 4 << 20}}}}, ""); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var ends []time.Duration
		for range 4 {
			wg.Go(func() {
				if err := shapedGet(l, "media", 5<<20); err != nil {
					t.Error(err)
				}
				mu.Lock()
				ends = append(ends, time.Since(start))
				mu.Unlock()
			})
		}
		wg.Wait()
		total := time.Since(start)
		if total < 4850*time.Millisecond || total > 5150*time.Millisecond {
			t.Fatalf("20 MiB at 4 MiB/s took %v, want 5 s ± 3 %%", total)
		}
		first, last := ends[0], ends[0]
		for _, e := range ends {
			first, last = min(first, e), max(last, e)
		}
		if float64(last-first) > 0.15*float64(last) {
			t.Fatalf("transfers ended between %v and %v: not within 15 %%", first, last)
		}
		// An unshaped bucket is not slowed.
		start = time.Now()
		if err := shapedGet(l, "other", 5<<20); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("an unshaped download waited %v", d)
		}
	})
}

// TestShapingRateChangesLive: a new rate applies to a transfer already in
// progress within a second.
func TestShapingRateChangesLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := New(Options{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := func(rate int64) *Config {
			return &Config{Global: &Section{Enabled: true, Actions: map[string]int64{"Read:bytes/s": rate}}}
		}
		if _, err := l.Apply(cfg(1<<20), ""); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- shapedGet(l, "b", 12<<20) }()
		time.Sleep(2 * time.Second) // 2 MiB at 1 MiB/s
		if _, err := l.Apply(cfg(10<<20), ""); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// 2 MiB in 2 s, then 10 MiB at 10 MiB/s: about 3 s, not 12.
		if d := time.Since(start); d < 2900*time.Millisecond || d > 3300*time.Millisecond {
			t.Fatalf("took %v, want about 3 s", d)
		}
	})
}

// TestShapingKeepsSendfile: a shaped response hands each quantum on as an
// io.LimitedReader of the caller's source, which sendfile and splice see
// through.
func TestShapingKeepsSendfile(t *testing.T) {
	l, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Apply(&Config{Global: &Section{Enabled: true, Actions: map[string]int64{"Read:bytes/s": 64 << 20}}}, ""); err != nil {
		t.Fatal(err)
	}
	tk, err := l.breaker.AdmitUser(s3api.ActionRead, "b", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Release()
	rec := &sourceRecorder{ResponseRecorder: httptest.NewRecorder()}
	w := &shapedWriter{ResponseWriter: rec, c: credit{sh: l.newShaper(context.Background(), 0, &tk)}}
	src := strings.NewReader(strings.Repeat("x", 3<<20))
	n, err := w.ReadFrom(&io.LimitedReader{R: src, N: 2 << 20})
	if err != nil || n != 2<<20 {
		t.Fatalf("ReadFrom = %d, %v", n, err)
	}
	if len(rec.sources) < 2 {
		t.Fatalf("%d pieces, want the transfer cut in quanta", len(rec.sources))
	}
	for i, s := range rec.sources {
		lr, ok := s.(*io.LimitedReader)
		if !ok || lr.R != io.Reader(src) {
			t.Fatalf("piece %d is %T, want an io.LimitedReader of the source itself", i, s)
		}
	}
}

type sourceRecorder struct {
	*httptest.ResponseRecorder
	sources []io.Reader
}

func (w *sourceRecorder) ReadFrom(r io.Reader) (int64, error) {
	w.sources = append(w.sources, r)
	return io.Copy(w.ResponseRecorder, r)
}

var _ http.ResponseWriter = (*shapedWriter)(nil)

func BenchmarkShapedWrite32KiB(b *testing.B) {
	l, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := l.Apply(&Config{Global: &Section{Enabled: true, Actions: map[string]int64{"Read:bytes/s": 1 << 50}}}, ""); err != nil {
		b.Fatal(err)
	}
	tk, err := l.breaker.AdmitUser(s3api.ActionRead, "b", "", 0)
	if err != nil {
		b.Fatal(err)
	}
	defer tk.Release()
	w := &shapedWriter{ResponseWriter: discardWriter{}, c: credit{sh: l.newShaper(context.Background(), 0, &tk)}}
	buf := make([]byte, 32<<10)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}

// BenchmarkShapePace is the cost of paying for one quantum that does not
// wait: a shaped transfer pays it once per quantum (20 ms of the rate),
// so per 32 KiB moved it costs this × 32 KiB / quantum.
func BenchmarkShapePace(b *testing.B) {
	l, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := l.Apply(&Config{Global: &Section{Enabled: true, Actions: map[string]int64{"Read:bytes/s": 1 << 50}}}, ""); err != nil {
		b.Fatal(err)
	}
	tk, err := l.breaker.AdmitUser(s3api.ActionRead, "b", "", 0)
	if err != nil {
		b.Fatal(err)
	}
	defer tk.Release()
	sh := l.newShaper(context.Background(), 0, &tk)
	b.ReportAllocs()
	for b.Loop() {
		if err := sh.pace(32 << 10); err != nil {
			b.Fatal(err)
		}
	}
}
