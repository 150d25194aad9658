// Package fleet makes several s3limit servers one: they share the
// circuit-breaker configuration and every limit through Redis (or
// Valkey).
//
// The configuration document lives in a Redis hash; a change through
// any server is stored there (compare-and-set on its ETag, so If-Match
// holds fleet-wide), published on a channel and seen by the others at
// once; each server also compares its ETag with Redis' on every round of
// the lease protocol, so a missed message is healed within a round.
//
// Limits are leased: each server admits requests against its share of
// each limit, a local atomic value, and never calls Redis on a request.
// Every Interval (and soon after a refusal) a server reports in one
// script call what it holds and wants of each limit and gets its new
// shares: the limit divided max-min fairly by demand, granted only out
// of what the others do not hold. So the shares recorded in Redis never
// sum to more than the limit, and a server never has more in flight than
// its recorded share. An ops/s share carries burst: a server reports the
// burst it has and the burst its lowered shares gave up, which Redis
// keeps and passes on to servers whose shares grow, so the fleet has one
// second of the rate as burst, as one server has, and never more (a
// round that fails loses what it carried, never doubles it). A server
// that stops reporting (killed) is dropped after LeaseTTL with everything
// it held.
//
// When Redis cannot be reached for FallbackAfter, a server falls back to
// the limit divided by the live servers it last saw (at least one for
// counts), logs it once and reports it in its metrics; when Redis is back
// it rejoins the protocol.
package fleet

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/s3limit/s3limit/internal/limits"
)

// Defaults for Options fields left zero.
const (
	DefaultPrefix        = "s3limit"
	DefaultInterval      = 100 * time.Millisecond
	DefaultLeaseTTL      = 5 * time.Second
	DefaultCallTimeout   = 250 * time.Millisecond
	DefaultFallbackAfter = time.Second
	// retryDegraded is how often a degraded server tries Redis again: the
	// fleet's own circuit breaker, so that a Redis that is down is not
	// asked every Interval.
	retryDegraded = 500 * time.Millisecond
	// kickSpacing is the least time between two rounds asked for by
	// refusals.
	kickSpacing = 20 * time.Millisecond
)

// Options configures a Fleet.
type Options struct {
	// URL of Redis: redis://[user:pass@]host:port/db, rediss:// for TLS.
	URL string
	// Prefix of every key and channel; "" = DefaultPrefix. Fleets sharing
	// one Redis use different prefixes.
	Prefix string
	// ID names this server in the fleet; "" = host name, process id and
	// a random suffix.
	ID string
	// Interval between rounds of the lease protocol; 0 = DefaultInterval.
	Interval time.Duration
	// LeaseTTL: a server not heard from for this long is dropped and its
	// shares freed; 0 = DefaultLeaseTTL.
	LeaseTTL time.Duration
	// CallTimeout bounds each Redis call of a round; 0 = DefaultCallTimeout.
	CallTimeout time.Duration
	// FallbackAfter: without Redis for this long, fall back to local
	// shares; 0 = DefaultFallbackAfter.
	FallbackAfter time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
}

// Fleet is one server's membership of a fleet; it implements
// limits.Fleet. Create it with New, pass it in limits.Options.Fleet; the
// Limits attaches and runs it.
type Fleet struct {
	opts   Options
	log    *slog.Logger
	rdb    *redis.Client
	keys   keys
	l      *limits.Limits
	demand []limits.Demand // reused by rounds; only Run's goroutine

	degraded    atomic.Bool
	live        atomic.Int64 // live instances at the last contact
	lastContact atomic.Int64 // unix ns; 0 = never
	lastTry     time.Time
	everReached bool

	// configMu makes configuration fetches one at a time (held across
	// their Redis calls; never taken by a request).
	configMu sync.Mutex

	// roundMu orders rounds with the release of Close: no round runs
	// after it (it would record shares again). Unlike a data lock it is
	// held across the Redis call of a round, which has its own timeout;
	// only Run's goroutine, Attach and Close take it, never a request.
	roundMu     sync.Mutex
	closed      bool // guarded by roundMu
	releaseOnce sync.Once

	mDegraded, mInstances, mLastContact prometheus.GaugeFunc
	mLatency                            prometheus.Histogram
}

var _ limits.Fleet = (*Fleet)(nil)

type keys struct {
	instances, config, channel, leasePrefix string
}

// New checks opts and returns a Fleet; it does not contact Redis yet.
func New(opts Options) (*Fleet, error) {
	if opts.URL == "" {
		return nil, errors.New("fleet: no Redis URL")
	}
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return nil, fmt.Errorf("fleet: Redis URL %q: want redis://[user:pass@]host:port/db or rediss:// (TLS)", redactURL(opts.URL))
	}
	ro, err := redis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("fleet: Redis URL %q: %v", redactURL(opts.URL), err)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("fleet: prefix %q: must not contain { or }", opts.Prefix)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"interval", &opts.Interval, DefaultInterval},
		{"lease TTL", &opts.LeaseTTL, DefaultLeaseTTL},
		{"call timeout", &opts.CallTimeout, DefaultCallTimeout},
		{"fallback delay", &opts.FallbackAfter, DefaultFallbackAfter},
	} {
		if *d.v < 0 {
			return nil, fmt.Errorf("fleet: negative %s %v", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if opts.ID == "" {
		host, _ := os.Hostname()
		var r [4]byte
		_, _ = rand.Read(r[:])
		opts.ID = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(r[:]))
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Short timeouts everywhere: a slow Redis must never hold up serving.
	ro.DialTimeout = opts.CallTimeout
	ro.ReadTimeout = opts.CallTimeout
	ro.WriteTimeout = opts.CallTimeout
	ro.PoolTimeout = opts.CallTimeout
	ro.MaxRetries = 0
	ro.DialerRetries = 1
	ro.PoolSize = 4
	ro.ContextTimeoutEnabled = true
	clientLogOnce.Do(func() { redis.SetLogger(clientLog{log}) })
	// One hash slot for every key (the braces), so the scripts also run
	// on a Redis Cluster.
	p := "{" + opts.Prefix + "}"
	return &Fleet{
		opts: opts,
		log:  log,
		rdb:  redis.NewClient(ro),
		keys: keys{
			instances:   p + ":instances",
			config:      p + ":config",
			channel:     p + ":config-changed",
			leasePrefix: p + ":lease:",
		},
	}, nil
}

// clientLogOnce: the Redis client's logger is global; the first Fleet's
// logger receives its messages, at debug level (the Fleet logs what they
// mean: Redis unreachable, back again).
var clientLogOnce sync.Once

type clientLog struct{ log *slog.Logger }

func (c clientLog) Printf(ctx context.Context, format string, v ...any) {
	c.log.DebugContext(ctx, "redis client: "+fmt.Sprintf(format, v...))
}

// redactURL hides the password of a Redis URL in messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// ID returns the server's name in the fleet.
func (f *Fleet) ID() string { return f.opts.ID }

// Close gives back every share this server holds (unless Run did when
// it ended), stops the rounds and closes the connections to Redis. Call
// it once the server stopped serving. A server that dies without Close
// (kill -9) leaves its shares to expire after LeaseTTL.
func (f *Fleet) Close() error {
	f.roundMu.Lock()
	f.closed = true
	f.roundMu.Unlock()
	f.release()
	return f.rdb.Close()
}

// Attach loads the fleet's configuration (or stores this server's, when
// the fleet has none yet) and takes a first round of shares, so the
// server starts with its share of every limit. When Redis cannot be
// reached, the server starts from its local cache, at local shares.
func (f *Fleet) Attach(l *limits.Limits) error {
	if f.l != nil {
		return errors.New("fleet: already attached")
	}
	f.l = l
	f.registerMetrics()
	ctx, cancel := context.WithTimeout(context.Background(), 4*f.opts.CallTimeout)
	defer cancel()
	if err := f.syncConfig(ctx, ""); err != nil {
		f.log.Warn("Redis unreachable at start: serving the local cache of the configuration at local shares",
			"redis", redactURL(f.opts.URL), "err", err)
		f.fallBack()
		return nil
	}
	// The others give up the shares of a newcomer at their next round:
	// wait for them (up to a second), so that the first requests are not
	// refused for want of a share.
	for deadline := time.Now().Add(time.Second); ; {
		f.round(context.Background()) // each call has its own timeout
		if !f.missingShares() || time.Now().After(deadline) || f.degraded.Load() {
			return nil
		}
		time.Sleep(f.opts.Interval / 2)
	}
}

// missingShares reports whether some limit that could give every live
// server a share gave this one none yet (for bytes/s: less than the
// floor every live server is due).
func (f *Fleet) missingShares() bool {
	live := max(f.live.Load(), 1)
	for _, d := range f.l.Breaker().Demands(nil) {
		if floor := d.Floor(live); floor > 0 && d.Share < floor || d.Share == 0 && d.Limit >= live {
			return true
		}
	}
	return false
}

// syncConfig makes the fleet's configuration the one in force; seen is
// the ETag the caller already knows Redis has ("" = unknown). When the
// fleet has none, it offers this server's.
func (f *Fleet) syncConfig(ctx context.Context, seen string) error {
	f.configMu.Lock()
	defer f.configMu.Unlock()
	return f.syncConfigLocked(ctx, seen)
}

// syncConfigLocked is syncConfig with f.configMu held.
func (f *Fleet) syncConfigLocked(ctx context.Context, seen string) error {
	_, local := f.l.Document()
	if seen != "" && seen == local {
		return nil
	}
	start := time.Now()
	vals, err := f.rdb.HMGet(ctx, f.keys.config, "doc", "etag").Result()
	f.observe(start)
	if err != nil {
		return err
	}
	doc, _ := vals[0].(string)
	if doc == "" {
		body, etag := f.l.Document()
		start := time.Now()
		res, err := storeScript.Run(ctx, f.rdb, []string{f.keys.config}, body, etag, "!absent", f.keys.channel).Slice()
		f.observe(start)
		if err != nil {
			return err
		}
		if stored, _ := res[0].(int64); stored == 1 {
			f.log.Info("the fleet had no circuit breaker configuration: this server's is now the fleet's", "etag", etag)
			return nil
		}
		// Another server was first: take its document. (f.configMu is
		// held: calling syncConfig here deadlocked when Redis came back
		// empty and two servers offered their documents at once.)
		return f.syncConfigLocked(ctx, "")
	}
	if _, err := f.l.InstallShared([]byte(doc)); err != nil {
		f.log.Error("the fleet's circuit breaker configuration is invalid; keeping the one in force", "err", err)
	}
	return nil
}

// Store makes doc the fleet's configuration (limits.Fleet).
func (f *Fleet) Store(ctx context.Context, doc []byte, etag, ifMatch string) error {
	expected := ""
	if ifMatch != "" {
		cur, err := f.rdb.HGet(ctx, f.keys.config, "etag").Result()
		switch {
		case errors.Is(err, redis.Nil):
			_, cur = f.l.Document()
			expected = "!absent"
		case err != nil:
			return fmt.Errorf("fleet: Redis unreachable, the configuration cannot change now: %w", err)
		default:
			expected = cur
		}
		if !limits.ETagMatches(ifMatch, cur) {
			return limits.ErrPreconditionFailed
		}
	}
	start := time.Now()
	res, err := storeScript.Run(ctx, f.rdb, []string{f.keys.config}, doc, etag, expected, f.keys.channel).Slice()
	f.observe(start)
	if err != nil {
		return fmt.Errorf("fleet: Redis unreachable, the configuration cannot change now: %w", err)
	}
	if stored, _ := res[0].(int64); stored != 1 {
		return limits.ErrPreconditionFailed
	}
	return nil
}

// Run follows the fleet until ctx ends (limits.Fleet): rounds of the
// lease protocol every Interval and after refusals, and configuration
// changes announced on the channel. On return it gives back every share
// this server holds.
func (f *Fleet) Run(ctx context.Context) error {
	if f.l == nil {
		return errors.New("fleet: Run before Attach")
	}
	subDone := make(chan struct{})
	go func() {
		defer close(subDone)
		f.subscribe(ctx)
	}()
	defer func() {
		<-subDone
		f.release()
	}()
	tick := time.NewTicker(f.opts.Interval)
	defer tick.Stop()
	kicks := f.l.Breaker().Kicks()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-kicks:
			if d := time.Since(last); d < kickSpacing {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(kickSpacing - d):
				}
			}
		}
		last = time.Now()
		f.round(ctx)
	}
}

// subscribe takes in configuration changes announced on the channel.
func (f *Fleet) subscribe(ctx context.Context) {
	for ctx.Err() == nil {
		ps := f.rdb.Subscribe(ctx, f.keys.channel)
		ch := ps.Channel(redis.WithChannelHealthCheckInterval(time.Second))
	recv:
		for {
			select {
			case <-ctx.Done():
				break recv
			case m, ok := <-ch:
				if !ok {
					break recv
				}
				cctx, cancel := context.WithTimeout(ctx, 4*f.opts.CallTimeout)
				if err := f.syncConfig(cctx, m.Payload); err != nil {
					f.log.Debug("cannot fetch the fleet's configuration", "err", err)
				}
				cancel()
			}
		}
		_ = ps.Close()
		select {
		case <-ctx.Done():
		case <-time.After(retryDegraded):
		}
	}
}

// round is one round of the lease protocol, or of the fallback while
// Redis is unreachable.
func (f *Fleet) round(ctx context.Context) {
	f.roundMu.Lock()
	defer f.roundMu.Unlock()
	if f.closed {
		return
	}
	b := f.l.Breaker()
	f.demand = b.Demands(f.demand[:0])
	if f.degraded.Load() && time.Since(f.lastTry) < retryDegraded {
		f.fallBack()
		return
	}
	f.lastTry = time.Now()
	n := len(f.demand)
	ks := make([]string, 0, 2+n)
	ks = append(ks, f.keys.instances, f.keys.config)
	args := make([]any, 0, 2+6*n)
	args = append(args, f.opts.ID, f.opts.LeaseTTL.Milliseconds())
	for i := range f.demand {
		d := &f.demand[i]
		ks = append(ks, f.keys.leasePrefix+d.Key)
		args = append(args, d.Limit, d.Held, d.Want, d.Floor(f.live.Load()), d.Avail, d.Handed)
	}
	cctx, cancel := context.WithTimeout(ctx, f.opts.CallTimeout)
	start := time.Now()
	res, err := leaseScript.Run(cctx, f.rdb, ks, args...).Slice()
	cancel()
	f.observe(start)
	if err == nil && len(res) != 2+3*n {
		err = fmt.Errorf("fleet: lease script returned %d values for %d limits", len(res), n)
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		last := f.lastContact.Load()
		if !f.degraded.Load() && (last == 0 || time.Since(time.Unix(0, last)) >= f.opts.FallbackAfter) {
			f.degraded.Store(true)
			f.log.Warn("Redis unreachable: each limit falls back to this server's local share",
				"redis", redactURL(f.opts.URL), "instances_last_seen", max(f.live.Load(), 1), "err", err)
		}
		if f.degraded.Load() {
			f.fallBack()
		}
		return
	}
	f.lastContact.Store(time.Now().UnixNano())
	f.everReached = true
	if live, _ := res[1].(int64); live > 0 {
		f.live.Store(live)
		b.SetFleetSize(live)
	}
	if f.degraded.Swap(false) {
		f.log.Info("Redis reachable again: limits are shared by the fleet", "instances", f.live.Load())
	}
	again := false
	for i := range f.demand {
		share, _ := res[2+3*i].(int64)
		contended, _ := res[3+3*i].(int64)
		burst, _ := res[4+3*i].(int64)
		d := &f.demand[i]
		b.GrantBurst(d, share, burst)
		// A lowered share is recorded at the next report once what is in
		// use fits it: when others want more than they have, report again
		// now rather than an interval later.
		again = again || contended == 1 && share < d.Held && d.Used <= share
	}
	if again {
		b.RequestRound()
	}
	if etag, _ := res[0].(string); etag == "" {
		// Redis lost the document (a restart without persistence): offer
		// ours again.
		_ = f.syncConfig(ctx, "")
	} else if _, local := f.l.Document(); etag != local {
		cctx, cancel := context.WithTimeout(ctx, 4*f.opts.CallTimeout)
		if err := f.syncConfig(cctx, etag); err != nil {
			f.log.Debug("cannot fetch the fleet's configuration", "err", err)
		}
		cancel()
	}
}

// fallBack sets every share to the local share: the limit divided by the
// live servers last seen, at least one request for counts.
func (f *Fleet) fallBack() {
	b := f.l.Breaker()
	if len(f.demand) == 0 {
		f.demand = b.Demands(f.demand[:0])
	}
	f.degraded.Store(true)
	live := max(f.live.Load(), 1)
	for i := range f.demand {
		d := &f.demand[i]
		b.Grant(d, max(d.Limit/live, 1))
	}
}

// release gives back every share (a clean shutdown), so that the others
// may use them at once.
func (f *Fleet) release() {
	f.releaseOnce.Do(f.releaseNow)
}

func (f *Fleet) releaseNow() {
	f.roundMu.Lock()
	defer f.roundMu.Unlock()
	if f.l == nil || !f.everReached || f.degraded.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*f.opts.CallTimeout)
	defer cancel()
	demand := f.l.Breaker().Demands(nil)
	ks := []string{f.keys.instances}
	for _, d := range demand {
		ks = append(ks, f.keys.leasePrefix+d.Key)
	}
	if err := releaseScript.Run(ctx, f.rdb, ks, f.opts.ID).Err(); err != nil {
		f.log.Warn("cannot give back this server's shares; they expire with the lease", "err", err, "lease_ttl", f.opts.LeaseTTL)
	}
}

// State is the fleet membership as this server sees it.
type State struct {
	Degraded    bool      // Redis unreachable: local shares in force
	Instances   int64     // live servers at the last contact
	LastContact time.Time // zero: never
}

// State returns the current state.
func (f *Fleet) State() State {
	s := State{Degraded: f.degraded.Load(), Instances: f.live.Load()}
	if ns := f.lastContact.Load(); ns != 0 {
		s.LastContact = time.Unix(0, ns)
	}
	return s
}

func (f *Fleet) observe(start time.Time) {
	if f.mLatency != nil {
		f.mLatency.Observe(time.Since(start).Seconds())
	}
}

// registerMetrics adds the cluster metrics to the server's registry.
func (f *Fleet) registerMetrics() {
	m := f.l.Metrics()
	if m == nil {
		return
	}
	ns := m.Namespace()
	f.mDegraded = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "cluster_degraded",
		Help: "1 while Redis is unreachable and each limit falls back to this server's local share."},
		func() float64 {
			if f.degraded.Load() {
				return 1
			}
			return 0
		})
	f.mInstances = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "cluster_instances",
		Help: "Live servers of the fleet at the last contact with Redis."},
		func() float64 { return float64(f.live.Load()) })
	f.mLastContact = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "cluster_last_contact_timestamp_seconds",
		Help: "Unix time of the last successful call to Redis (0: never)."},
		func() float64 { return float64(f.lastContact.Load()) / 1e9 })
	f.mLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "cluster_redis_call_seconds",
		Help:    "Latency of the calls to Redis, failed ones included.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25}})
	reg := m.Registry()
	for _, c := range []prometheus.Collector{f.mDegraded, f.mInstances, f.mLastContact, f.mLatency} {
		if err := reg.Register(c); err != nil {
			f.log.Warn("cannot register a cluster metric", "err", err)
		}
	}
}
