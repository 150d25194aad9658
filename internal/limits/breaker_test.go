package limits

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/s3api"
)

const (
	read  = s3api.ActionRead
	write = s3api.ActionWrite
	listA = s3api.ActionList
)

type admitReq struct {
	action s3api.Action
	bucket string
	size   int64
}

// repeat returns n copies of r.
func repeat(n int, r admitReq) []admitReq {
	out := make([]admitReq, n)
	for i := range out {
		out[i] = r
	}
	return out
}

func mustBreaker(t testing.TB, doc string) *Breaker {
	t.Helper()
	b, err := NewBreaker(BreakerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return b
}

// admitAll runs every request at the same moment and holds the admitted
// ones. It returns the tickets and the refusals.
func admitAll(b *Breaker, reqs []admitReq) (tickets []Ticket, refusals []error) {
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for _, r := range reqs {
		wg.Go(func() {
			<-start
			tk, err := b.Admit(r.action, r.bucket, r.size)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				refusals = append(refusals, err)
			} else {
				tickets = append(tickets, tk)
			}
		})
	}
	close(start)
	wg.Wait()
	return tickets, refusals
}

func TestBreakerAdmission(t *testing.T) {
	tests := []struct {
		name     string
		config   string
		reqs     []admitReq
		admitted int
		code     string // S3 code of every refusal
	}{
		{
			name:     "bucket count 5 under global count 6 admits 5 of 60",
			config:   `{"global":{"enabled":true,"actions":{"Write:count":6}},"buckets":{"bk1":{"enabled":true,"actions":{"Write:count":5}}}}`,
			reqs:     repeat(60, admitReq{write, "bk1", 0}),
			admitted: 5,
			code:     "SlowDown",
		},
		{
			name:     "bucket count 0 admits none",
			config:   `{"buckets":{"bk1":{"enabled":true,"actions":{"Read:count":0}}}}`,
			reqs:     repeat(20, admitReq{read, "bk1", 0}),
			admitted: 0,
			code:     "SlowDown",
		},
		{
			name:   "global count 5 admits 5 across buckets",
			config: `{"global":{"enabled":true,"actions":{"Read:count":5}}}`,
			reqs: append(append(repeat(20, admitReq{read, "bk1", 0}),
				repeat(20, admitReq{read, "bk2", 0})...), repeat(20, admitReq{read, "", 0})...),
			admitted: 5,
			code:     "SlowDown",
		},
		{
			name:     "bucket bytes 1000 under global bytes 1020 admits five 200-byte requests of six",
			config:   `{"global":{"enabled":true,"actions":{"Write:bytes":1020}},"buckets":{"bk1":{"enabled":true,"actions":{"Write:bytes":1000}}}}`,
			reqs:     repeat(6, admitReq{write, "bk1", 200}),
			admitted: 5,
			code:     "RequestBytesExceed",
		},
		{
			name:     "global bytes refuse what the bucket admits",
			config:   `{"global":{"enabled":true,"actions":{"Write:bytes":400}},"buckets":{"bk1":{"enabled":true,"actions":{"Write:bytes":1000}}}}`,
			reqs:     repeat(6, admitReq{write, "bk1", 200}),
			admitted: 2,
			code:     "RequestBytesExceed",
		},
		{
			name:     "count limit is inclusive",
			config:   `{"global":{"enabled":true,"actions":{"List:count":3}}}`,
			reqs:     repeat(4, admitReq{listA, "bk1", 0}),
			admitted: 3,
			code:     "SlowDown",
		},
		{
			name:     "bytes limit is inclusive",
			config:   `{"buckets":{"bk1":{"enabled":true,"actions":{"Write:bytes":600}}}}`,
			reqs:     repeat(4, admitReq{write, "bk1", 200}),
			admitted: 3,
			code:     "RequestBytesExceed",
		},
		{
			name:     "global count 0 blocks the action",
			config:   `{"global":{"enabled":true,"actions":{"Read:count":0}}}`,
			reqs:     repeat(5, admitReq{read, "bk1", 0}),
			admitted: 0,
			code:     "SlowDown",
		},
		{
			name:     "bytes 0 blocks even empty requests",
			config:   `{"global":{"enabled":true,"actions":{"Write:bytes":0}}}`,
			reqs:     repeat(5, admitReq{write, "bk1", 0}),
			admitted: 0,
			code:     "RequestBytesExceed",
		},
		{
			name:     "a request larger than the bytes limit is refused alone",
			config:   `{"global":{"enabled":true,"actions":{"Write:bytes":100}}}`,
			reqs:     []admitReq{{write, "bk1", 101}},
			admitted: 0,
			code:     "RequestBytesExceed",
		},
		{
			name:     "limits of other actions do not apply",
			config:   `{"global":{"enabled":true,"actions":{"Read:count":0,"Write:bytes":0}},"buckets":{"bk1":{"enabled":true,"actions":{"Read:count":0}}}}`,
			reqs:     repeat(10, admitReq{listA, "bk1", 0}),
			admitted: 10,
		},
		{
			name:     "disabled sections are ignored",
			config:   `{"global":{"enabled":false,"actions":{"Write:count":0}},"buckets":{"bk1":{"enabled":false,"actions":{"Write:count":1}}}}`,
			reqs:     repeat(10, admitReq{write, "bk1", 0}),
			admitted: 10,
		},
		{
			name:     "bucket section without global section",
			config:   `{"buckets":{"bk1":{"enabled":true,"actions":{"Write:count":2}}}}`,
			reqs:     append(repeat(5, admitReq{write, "bk1", 0}), repeat(5, admitReq{write, "bk2", 0})...),
			admitted: 2 + 5,
			code:     "SlowDown",
		},
		{
			name:     "empty configuration admits everything",
			config:   `{}`,
			reqs:     repeat(50, admitReq{write, "bk1", 1 << 40}),
			admitted: 50,
		},
		{
			name:     "unknown action is not limited",
			config:   `{"global":{"enabled":true,"actions":{"Read:count":0,"Write:count":0,"List:count":0,"Tagging:count":0,"Admin:count":0}}}`,
			reqs:     repeat(3, admitReq{"Other", "bk1", 0}),
			admitted: 3,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := mustBreaker(t, tc.config)
			tickets, refusals := admitAll(b, tc.reqs)
			if len(tickets) != tc.admitted {
				t.Fatalf("admitted %d of %d, want %d", len(tickets), len(tc.reqs), tc.admitted)
			}
			for _, err := range refusals {
				var se *s3api.Error
				if !errors.As(err, &se) || se.Code != tc.code {
					t.Fatalf("refusal %v, want code %s", err, tc.code)
				}
				if se.StatusCode != http.StatusTooManyRequests || se.RetryAfter != DefaultRetryAfter {
					t.Errorf("refusal status %d retry %v, want 429 and %v", se.StatusCode, se.RetryAfter, DefaultRetryAfter)
				}
			}
			// The counters hold exactly what was admitted.
			var wantCount, wantBytes [numActions]int64
			for _, tk := range tickets {
				if tk.slots[scopeGlobal] != nil {
					for ai := range numActions {
						if tk.slots[scopeGlobal] == &b.global[ai].slot {
							wantCount[ai]++
							wantBytes[ai] += tk.bytes
						}
					}
				}
			}
			for ai, a := range s3api.Actions {
				c, n := b.Inflight(a)
				if c != wantCount[ai] || n != wantBytes[ai] {
					t.Errorf("%s in flight = %d requests, %d bytes; want %d, %d", a, c, n, wantCount[ai], wantBytes[ai])
				}
			}
			for i := range tickets {
				tickets[i].Release()
			}
			if err := checkIdle(b); err != nil {
				t.Fatal(err)
			}
			// With everything released, the same load is admitted again.
			tickets, _ = admitAll(b, tc.reqs)
			if len(tickets) != tc.admitted {
				t.Fatalf("after release admitted %d, want %d", len(tickets), tc.admitted)
			}
			for i := range tickets {
				tickets[i].Release()
			}
			if err := checkIdle(b); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestBreakerRefusalDetails(t *testing.T) {
	b, err := NewBreaker(BreakerOptions{ThrottleStatus: http.StatusServiceUnavailable, RetryAfter: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := ParseConfig([]byte(`{"global":{"enabled":true,"actions":{"Read:count":1}},"buckets":{"bk1":{"enabled":true,"actions":{"Write:bytes":10}}}}`))
	if err := b.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	tk, err := b.Admit(read, "bk1", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tk.Release()
	_, err = b.Admit(read, "bk1", 0)
	if !errors.Is(err, s3api.ErrSlowDown) {
		t.Fatalf("err = %v, want SlowDown", err)
	}
	var se *s3api.Error
	errors.As(err, &se)
	if se.StatusCode != 503 || se.RetryAfter != 3*time.Second {
		t.Errorf("status %d retry %v, want 503 and 3s", se.StatusCode, se.RetryAfter)
	}
	if se == s3api.ErrSlowDown {
		t.Error("refusal is the shared s3api.ErrSlowDown, want a copy")
	}
	_, err = b.Admit(write, "bk1", 11)
	if !errors.Is(err, s3api.ErrRequestBytesExceed) {
		t.Fatalf("err = %v, want RequestBytesExceed", err)
	}
	errors.As(err, &se)
	if se.StatusCode != 503 {
		t.Errorf("status %d, want 503", se.StatusCode)
	}
}

func TestNewBreakerRejectsBadOptions(t *testing.T) {
	for _, o := range []BreakerOptions{{ThrottleStatus: 200}, {ThrottleStatus: 500}, {RetryAfter: -1}} {
		if _, err := NewBreaker(o); err == nil {
			t.Errorf("NewBreaker(%+v) succeeded, want an error", o)
		}
	}
}

func TestBreakerBucketRefusalRollsBackNothing(t *testing.T) {
	// The global section refuses after the bucket admitted: the bucket
	// counter must come back down.
	b := mustBreaker(t, `{"global":{"enabled":true,"actions":{"Write:count":1}},"buckets":{"bk1":{"enabled":true,"actions":{"Write:count":10}}}}`)
	first, err := b.Admit(write, "bk2", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admit(write, "bk1", 7); err == nil {
		t.Fatal("admitted over the global limit")
	}
	if c, n := b.BucketInflight(write, "bk1"); c != 0 || n != 0 {
		t.Fatalf("bucket counters %d/%d after a global refusal, want 0/0", c, n)
	}
	first.Release()
	first.Release() // a second release of the same variable does nothing
	if err := checkIdle(b); err != nil {
		t.Fatal(err)
	}
}

func TestBreakerCountersSurviveReload(t *testing.T) {
	b := mustBreaker(t, `{"buckets":{"bk1":{"enabled":true,"actions":{"Write:count":2}}}}`)
	var held []Ticket
	for range 2 {
		tk, err := b.Admit(write, "bk1", 5)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, tk)
	}
	steps := []struct {
		config string
		admit  bool // whether one more Write on bk1 fits
	}{
		{`{"buckets":{"bk1":{"enabled":true,"actions":{"Write:count":2}}}}`, false},
		{`{"buckets":{"bk1":{"enabled":true,"actions":{"Write:count":3}}}}`, true},
		{`{"buckets":{"bk1":{"enabled":false,"actions":{"Write:count":1}}}}`, true},
		{`{"buckets":{"bk1":{"enabled":true,"actions":{"Write:count":2}}}}`, false},
		{`{"global":{"enabled":true,"actions":{"Write:count":2}}}`, false},
		{`{}`, true},
		{`{"buckets":{"bk1":{"enabled":true,"actions":{"Write:count":2}}}}`, false},
	}
	for i, s := range steps {
		cfg, err := ParseConfig([]byte(s.config))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.SetConfig(cfg); err != nil {
			t.Fatal(err)
		}
		tk, err := b.Admit(write, "bk1", 5)
		if (err == nil) != s.admit {
			t.Fatalf("step %d (%s): admitted=%v, want %v", i, s.config, err == nil, s.admit)
		}
		tk.Release()
	}
	for i := range held {
		held[i].Release()
	}
	if err := checkIdle(b); err != nil {
		t.Fatal(err)
	}
	if got := len(b.registry[scopeBucket]); got != 1 {
		t.Errorf("registry holds %d buckets, want 1", got)
	}
	// Removing the bucket forgets its idle counters.
	if err := b.SetConfig(&Config{}); err != nil {
		t.Fatal(err)
	}
	if got := len(b.registry[scopeBucket]); got != 0 {
		t.Errorf("registry holds %d buckets after removal, want 0", got)
	}
}

func TestBreakerSetConfigRejectsInvalid(t *testing.T) {
	b := mustBreaker(t, `{"global":{"enabled":true,"actions":{"Read:count":1}}}`)
	before := b.ETag()
	bad := &Config{Global: &Section{Enabled: true, Actions: map[string]int64{"Read:cnt": 1}}}
	var ce *ConfigError
	if err := b.SetConfig(bad); !errors.As(err, &ce) {
		t.Fatalf("SetConfig(invalid) = %v, want *ConfigError", err)
	}
	if b.ETag() != before {
		t.Error("an invalid config changed the configuration in force")
	}
	// SetConfig copies: changing the caller's Config changes nothing.
	good := &Config{Global: &Section{Enabled: true, Actions: map[string]int64{"Read:count": 1}}}
	if err := b.SetConfig(good); err != nil {
		t.Fatal(err)
	}
	good.Global.Actions["Read:count"] = 0
	tk, err := b.Admit(read, "", 0)
	if err != nil {
		t.Fatalf("admit after caller mutated its config: %v", err)
	}
	tk.Release()
}

func TestActionIndexMatchesActions(t *testing.T) {
	for i, a := range s3api.Actions {
		if got := actionIndex(a); got != i {
			t.Errorf("actionIndex(%s) = %d, want %d", a, got, i)
		}
	}
}

func TestBreakerAdmitDoesNotAllocate(t *testing.T) {
	b := mustBreaker(t, `{"global":{"enabled":true,"actions":{"Write:count":100,"Write:bytes":1000000}},"buckets":{"bk1":{"enabled":true,"actions":{"Write:count":10,"Write:bytes":100000}}}}`)
	if n := testing.AllocsPerRun(1000, func() {
		tk, err := b.Admit(write, "bk1", 100)
		if err != nil {
			panic(err)
		}
		tk.Release()
	}); n != 0 {
		t.Errorf("admit+release allocates %v times, want 0", n)
	}
	blocked := mustBreaker(t, `{"buckets":{"bk1":{"enabled":true,"actions":{"Write:count":0}}}}`)
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := blocked.Admit(write, "bk1", 100); err == nil {
			panic("admitted")
		}
	}); n != 0 {
		t.Errorf("refusal allocates %v times, want 0", n)
	}
}

// checkIdle reports the first counter of b that is not zero.
func checkIdle(b *Breaker) error {
	for ai, a := range s3api.Actions {
		if c, n := b.global[ai].count.Load(), b.global[ai].bytes.Load(); c != 0 || n != 0 {
			return fmt.Errorf("global %s counters: %d requests, %d bytes", a, c, n)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for sc, m := range b.registry {
		for name, c := range m {
			if !c.idle() {
				return fmt.Errorf("%s %s counters not idle: %+v", scopeNames[sc], name, c)
			}
		}
	}
	return nil
}

// bigConfig returns a configuration with n bucket sections.
func bigConfig(n int) *Config {
	cfg := &Config{
		Global:  &Section{Enabled: true, Actions: map[string]int64{"Read:count": 100000, "Write:bytes": 1 << 40}},
		Buckets: make(map[string]*Section, n),
	}
	for i := range n {
		cfg.Buckets[fmt.Sprintf("bucket-%06d", i)] = &Section{Enabled: true, Actions: map[string]int64{"Read:count": 100, "Write:count": int64(i % 50)}}
	}
	return cfg
}

func TestBreakerManyBuckets(t *testing.T) {
	data, err := bigConfig(100000).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewBreaker(BreakerOptions{})
	if err := b.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
	// bucket-000049 has Write:count 49; bucket-000050 has 0.
	if _, err := b.Admit(write, "bucket-000050", 0); err == nil {
		t.Error("bucket-000050 (Write:count 0) admitted a write")
	}
	tk, err := b.Admit(write, "bucket-099999", 0)
	if err != nil {
		t.Errorf("bucket-099999 (Write:count 49) refused: %v", err)
	}
	tk.Release()
}

const benchConfig = `{"global":{"enabled":true,"actions":{"Write:count":1000000,"Write:bytes":1099511627776}},
	"buckets":{"bk1":{"enabled":true,"actions":{"Write:count":1000000,"Write:bytes":1099511627776}}}}`

// BenchmarkAdmitRelease is one request under a global and a bucket limit
// of both types.
func BenchmarkAdmitRelease(b *testing.B) {
	br := mustBreaker(b, benchConfig)
	b.ReportAllocs()
	for b.Loop() {
		tk, err := br.Admit(write, "bk1", 4096)
		if err != nil {
			b.Fatal(err)
		}
		tk.Release()
	}
}

// BenchmarkAdmitReleaseParallel shares one bucket's counters among all
// goroutines, the worst case for contention.
func BenchmarkAdmitReleaseParallel(b *testing.B) {
	br := mustBreaker(b, benchConfig)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tk, err := br.Admit(write, "bk1", 4096)
			if err != nil {
				panic(err)
			}
			tk.Release()
		}
	})
}

// BenchmarkAdmitReleaseParallelActions spreads goroutines over actions,
// whose global counters sit on separate cache lines.
func BenchmarkAdmitReleaseParallelActions(b *testing.B) {
	br := mustBreaker(b, `{"global":{"enabled":true,"actions":{"Read:count":1000000,"Write:count":1000000,"List:count":1000000,"Tagging:count":1000000}}}`)
	var next sync.Mutex
	i := 0
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		next.Lock()
		a := s3api.Actions[i%4]
		i++
		next.Unlock()
		for pb.Next() {
			tk, err := br.Admit(a, "bk1", 0)
			if err != nil {
				panic(err)
			}
			tk.Release()
		}
	})
}

func BenchmarkAdmitRefused(b *testing.B) {
	br := mustBreaker(b, `{"buckets":{"bk1":{"enabled":true,"actions":{"Write:count":0}}}}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := br.Admit(write, "bk1", 4096); err == nil {
			b.Fatal("admitted")
		}
	}
}

// BenchmarkLoad100kBuckets parses and installs a 100,000-bucket file.
func BenchmarkLoad100kBuckets(b *testing.B) {
	data, err := bigConfig(100000).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	br, _ := NewBreaker(BreakerOptions{})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := ParseConfig(data)
		if err != nil {
			b.Fatal(err)
		}
		br.install(cfg)
	}
}
