package limits

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
)

// Fleet-wide limits. With Options.Fleet set, several servers share one
// configuration and one set of limits. The Fleet (package fleet, through
// Redis) owns the shared state; this package only lets it in at two
// places:
//
//   - The configuration: Apply stores a new document through the Fleet
//     (which checks If-Match against the fleet's document), and the Fleet
//     puts the documents it learns of in force with InstallShared. The
//     ConfigPath file becomes a cache of the fleet's document, written on
//     every change and read at start-up; Run does not watch it.
//   - The limits: every enforced count, bytes, ops/s and bytes/s limit is
//     leased. The Breaker admits against this instance's share of each
//     limit (a cap for count and bytes, a rate for ops/s and bytes/s), not
//     the limit itself. The Fleet reads the demand for each limit with
//     Breaker.Demands and sets the shares it obtained with Breaker.Grant,
//     periodically and when a refusal asks for more. A request never waits
//     for the Fleet: a share is a local atomic value.

// Fleet shares the configuration and the limits of several servers.
// Limits calls Attach once from New, Store from Apply and Run from Run.
type Fleet interface {
	// Attach gives the Fleet the Limits it drives; it may put the fleet's
	// configuration in force (InstallShared) before New returns.
	Attach(l *Limits) error
	// Store makes doc (a canonical document whose ETag is etag) the
	// fleet's configuration if ifMatch ("" = unconditionally, else an
	// If-Match value) names the fleet's current document; it returns
	// ErrPreconditionFailed otherwise.
	Store(ctx context.Context, doc []byte, etag, ifMatch string) error
	// Run keeps the configuration and the shares in step with the fleet
	// until ctx ends.
	Run(ctx context.Context) error
}

// fleetStoreTimeout bounds an Apply's call to the fleet.
const fleetStoreTimeout = 3 * time.Second

// fleetSlot is one slot's share of its fleet-wide limits and the demand
// seen since the Fleet last looked. Created at install for every slot of
// an enforced section of a fleet Breaker.
type fleetSlot struct {
	count, bytes atomic.Int64 // caps: this instance's share
	// ops/s share as GCRA parameters; interval 0: no share (refuse).
	// opsMu orders the changes of the share (Grant, an install's clamp);
	// admissions only load the values.
	opsMu                     sync.Mutex
	opsInterval, opsTolerance atomic.Int64
	opsShare                  atomic.Int64 // requests per second
	// opsHanded is the burst given up by lowered ops/s shares and not yet
	// reported (Demand.Handed), in thousandths of a request.
	opsHanded atomic.Int64
	rateShare atomic.Int64 // bytes/s share (0: none yet)

	refused      atomic.Int64 // count or bytes refusals since the last look
	refusedBytes atomic.Int64 // their declared bytes
	opsTaken     atomic.Int64 // ops/s admissions since the last look
	opsRefused   atomic.Int64 // ops/s refusals since the last look
	shaped       atomic.Int64 // bytes paced since the last look
	shapeWaits   atomic.Int64 // paced quanta that had to wait
	lastLook     atomic.Int64 // ns since the breaker's epoch
	opsEWMA      atomic.Int64 // smoothed offered ops/s, ×1000
	// ops/s requests seen and refused since surgeSince (ns since the
	// breaker's epoch), to tell a surge.
	surgeSeen, surgeRefused, surgeSince atomic.Int64
	rateEWMA                            atomic.Int64 // smoothed offered bytes/s

	// installed are the count, bytes and ops/s limits of the last
	// configuration that leased them (noLimit: none), installedAt its
	// number (Breaker.leases), to clamp the shares when a limit is
	// lowered; guarded by Breaker.mu.
	installed   [3]int64
	installedAt int64
}

// Demand is this instance's use of one fleet-wide limit (Breaker.Demands).
type Demand struct {
	// Key identifies the limit across the fleet: scope, name, action and
	// type ("global/Read:count", "bucket/photos/Write:bytes/s").
	Key string
	// Limit is the configured limit: requests, bytes, requests per
	// second or bytes per second.
	Limit int64
	// Share is what this instance holds now.
	Share int64
	// Held is the least this instance must keep recorded: its share, or
	// what it has in use when that is more (after a share was lowered
	// below the requests in flight).
	Held int64
	// Used is what it has in use (count and bytes; 0 for rates).
	Used int64
	// Want is what it would use now: in use plus refused or waiting, or
	// the offered rate.
	Want int64
	// Avail (ops/s) is the burst this instance has now: whole requests
	// it could admit at once.
	Avail int64
	// Handed (ops/s) is the burst, in whole requests, that lowered shares
	// took from this instance since the last Demands: the fleet passes it
	// on to instances whose shares grow (GrantBurst).
	Handed int64
	// Counts: a count or bytes limit (shares are caps on what is in
	// flight); otherwise a rate.
	Counts bool

	sl  *slot
	typ int
}

// opsSurge is the number of ops/s refusals within 100 ms from which the
// offered rate becomes the demand at once.
const opsSurge = 4

// rateFloorDiv: a bytes/s share is never below limit ÷ (rateFloorDiv ×
// live servers) in the fleet's division, and a granted share never
// below half that (a transfer paced at next to nothing would keep that
// pace for its whole quantum, whatever share came next).
const rateFloorDiv = 8

// Floor is the least target share the fleet gives every live server for
// this limit, with live servers in the fleet: 0 but for bytes/s.
func (d *Demand) Floor(live int64) int64 {
	if d.typ != typeRate {
		return 0
	}
	return d.Limit / (rateFloorDiv * max(live, 1))
}

// SetFleetSize tells the Breaker how many servers share its limits, for
// the provisional bytes/s share of a limit not granted yet.
func (b *Breaker) SetFleetSize(n int64) { b.fleetSize.Store(max(n, 1)) }

// Fleet reports whether the Breaker leases its limits from a fleet.
func (b *Breaker) Fleet() bool { return b.fleet }

// Demands appends to dst the demand for every leased limit of the
// configuration in force and resets the refusal counts it reads.
func (b *Breaker) Demands(dst []Demand) []Demand {
	s := b.snap.Load()
	now := b.nowNanos()
	section := func(prefix string, sec *sectionLimits, slots func(ai int) *slot) {
		if !sec.enabled || sec.shadow {
			return
		}
		for ai := range numActions {
			lim := &sec.limits[ai]
			if !lim.leased {
				continue
			}
			sl := slots(ai)
			f := sl.fleet.Load()
			if f == nil {
				continue
			}
			dst = b.slotDemands(dst, prefix+string(s3api.Actions[ai])+":", lim, sl, f, now)
		}
	}
	section("global/", &s.global, func(ai int) *slot { return &b.global[ai].slot })
	for sc, m := range s.named {
		for name, e := range m {
			section(scopeNames[sc]+"/"+name+"/", &e.sectionLimits, func(ai int) *slot { return &e.counters[ai] })
		}
	}
	return dst
}

func (b *Breaker) slotDemands(dst []Demand, prefix string, lim *actionLimits, sl *slot, f *fleetSlot, now int64) []Demand {
	elapsed := now - f.lastLook.Swap(now)
	if elapsed <= 0 || elapsed > int64(10*time.Second) {
		elapsed = int64(100 * time.Millisecond)
	}
	waiting := sl.waiting.Load()
	if lim.count > 0 {
		share, used := f.count.Load(), sl.count.Load()
		want := min(used+waiting+f.refused.Swap(0), lim.count)
		dst = append(dst, Demand{Key: prefix + TypeCount, Limit: lim.count, Share: share, Held: max(share, used), Used: used, Want: want, Counts: true, sl: sl, typ: typeCount})
	} else {
		f.refused.Store(0)
	}
	if lim.bytes > 0 {
		share, used := f.bytes.Load(), sl.bytes.Load()
		want := min(used+f.refusedBytes.Swap(0), lim.bytes)
		if waiting > 0 && want <= share {
			want = min(share+share/2+1, lim.bytes) // waiters of unknown size
		}
		dst = append(dst, Demand{Key: prefix + TypeBytes, Limit: lim.bytes, Share: share, Held: max(share, used), Used: used, Want: want, Counts: true, sl: sl, typ: typeBytes})
	} else {
		f.refusedBytes.Store(0)
	}
	// Rates are smoothed over about a second: a window of 100 ms sees
	// too few requests to tell 9/s from 0/s.
	alpha := min(float64(elapsed)/float64(time.Second), 1)
	if lim.ops > 0 {
		refused := f.opsRefused.Swap(0)
		n := f.opsTaken.Swap(0) + refused
		inst := float64(n) * float64(time.Second) / float64(elapsed) * 1000
		old := float64(f.opsEWMA.Load())
		ew := old + alpha*(inst-old)
		// A surge (several refusals within 100 ms: the share is far below
		// the demand) is followed at once, so that the shares of idle
		// servers, and their burst, move within a round or two; a refusal
		// or two is jitter and stays smoothed. Looks asked for by
		// refusals come every 20 ms, too short to tell: the surge is
		// judged over 100 ms.
		f.surgeSeen.Add(n)
		f.surgeRefused.Add(refused)
		if span := now - f.surgeSince.Load(); span >= int64(100*time.Millisecond) {
			seen, ref := f.surgeSeen.Swap(0), f.surgeRefused.Swap(0)
			f.surgeSince.Store(now)
			if rate := float64(seen) * float64(time.Second) / float64(span) * 1000; ref >= opsSurge && rate > ew {
				ew = rate
			}
		}
		f.opsEWMA.Store(int64(ew))
		want := min(int64(math.Ceil(ew/1000)), lim.ops)
		share := f.opsShare.Load()
		avail := int64(opsTokens(sl.tat.Load(), now, f.opsInterval.Load(), f.opsTolerance.Load()))
		handed := f.opsHanded.Load() / 1000
		f.opsHanded.Add(-handed * 1000)
		dst = append(dst, Demand{Key: prefix + TypeOpsPerSec, Limit: lim.ops, Share: share, Held: share, Want: want,
			Avail: avail, Handed: handed, sl: sl, typ: typeOps})
	}
	if lim.rate > 0 {
		moved, waits := f.shaped.Swap(0), f.shapeWaits.Swap(0)
		share := f.rateShare.Load()
		inst := float64(moved) * float64(time.Second) / float64(elapsed)
		if waits > 0 {
			// Held back by the share: how much more it could move is
			// unknown, so ask for all of it; the division stays fair
			// among those that want it.
			inst = float64(lim.rate)
		}
		// Bytes flow smoothly enough to follow within a few rounds:
		// demand rises at once and falls over about 250 ms.
		old := float64(f.rateEWMA.Load())
		ew := old + min(float64(elapsed)/float64(250*time.Millisecond), 1)*(inst-old)
		if inst > old {
			ew = inst
		}
		f.rateEWMA.Store(int64(ew))
		want := min(int64(math.Ceil(ew)), lim.rate)
		dst = append(dst, Demand{Key: prefix + TypeBytesPerSec, Limit: lim.rate, Share: share, Held: share, Want: want, sl: sl, typ: typeRate})
	}
	return dst
}

// Grant sets this instance's share of the limit of d (from the latest
// Demands). Raising a count or bytes share wakes requests waiting for
// room; a lowered one refuses new requests until those in flight fit. An
// ops/s share keeps the burst it has, up to one second of the new share;
// what a lowered share takes is dropped (GrantBurst passes it on).
func (b *Breaker) Grant(d *Demand, share int64) { b.grant(d, share, 0, false) }

// GrantBurst is Grant for shares obtained from the fleet. For an ops/s
// limit it adds burst (whole requests the fleet passes on, up to one
// second of the new share), and the burst a lowered share takes is
// reported as Demand.Handed by the next Demands, for the fleet to pass on.
// Other limits ignore burst.
func (b *Breaker) GrantBurst(d *Demand, share, burst int64) { b.grant(d, share, burst, true) }

func (b *Breaker) grant(d *Demand, share, burst int64, hand bool) {
	share = max(min(share, d.Limit), 0)
	f := d.sl.fleet.Load()
	if f == nil {
		return
	}
	switch d.typ {
	case typeCount, typeBytes:
		c := &f.count
		if d.typ == typeBytes {
			c = &f.bytes
		}
		if old := c.Swap(share); share > old {
			for n := min(share-old, d.sl.waiting.Load()); n > 0; n-- {
				d.sl.wake()
			}
		}
	case typeOps:
		b.setOpsShare(d.sl, f, share, max(burst, 0), hand)
	case typeRate:
		share = max(share, d.Limit/(2*rateFloorDiv*max(b.fleetSize.Load(), 1)))
		f.rateShare.Store(share)
		if p := d.sl.pacer.Load(); p != nil {
			p.SetRate(max(share, 1)) // 0 would be unlimited
		}
	}
}

// fleetKick asks the Fleet to look at the demand soon (a refusal found
// the share too small). It never blocks.
func (b *Breaker) fleetKick() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// RequestRound asks the fleet for another look soon (Kicks).
func (b *Breaker) RequestRound() { b.fleetKick() }

// Kicks returns the channel on which the Breaker asks for a look at its
// demand soon; nil without a fleet.
func (b *Breaker) Kicks() <-chan struct{} { return b.kick }

// attachFleet turns on leasing for every configuration installed later.
func (b *Breaker) attachFleet() {
	b.fleet = true
	b.fleetSize.Store(1)
	b.kick = make(chan struct{}, 1)
}

// clampShares keeps the count, bytes and ops/s shares of a slot within
// limit ÷ servers when a configuration lowers (or adds) the limit: shares
// granted for the previous limits must not let this server admit past a
// lowered limit before the next round re-divides it (a busy server gets
// its larger share back within a round or two). A limit left as it was by
// the configuration before keeps its shares; one that was not leased by
// it (a section disabled in between) is clamped, its shares being stale.
// A clamped ops/s share keeps at most one second of the new share as
// burst; the rest is dropped. b.mu is held.
func (b *Breaker) clampShares(sl *slot, f *fleetSlot, lim *actionLimits, servers int64) {
	stale := f.installedAt != b.leases-1
	f.installedAt = b.leases
	for i, c := range [...]struct {
		share *atomic.Int64
		limit int64
	}{{&f.count, lim.count}, {&f.bytes, lim.bytes}, {&f.opsShare, lim.ops}} {
		prev := f.installed[i]
		f.installed[i] = c.limit
		if c.limit < 0 || !stale && prev >= 0 && c.limit >= prev {
			continue
		}
		most := c.limit / servers
		if i == 2 {
			b.clampOpsShare(sl, f, most)
			continue
		}
		for {
			v := c.share.Load()
			if v <= most || c.share.CompareAndSwap(v, most) {
				break
			}
		}
	}
}

// ensureFleetSlot gives sl its share state; new shares start at 0, so
// nothing is admitted before the fleet granted a share.
func ensureFleetSlot(sl *slot) {
	if sl.fleet.Load() == nil {
		sl.fleet.CompareAndSwap(nil, new(fleetSlot))
	}
}

// InstallShared puts in force a configuration document learnt from the
// fleet and writes it to ConfigPath, the local cache. A document equal
// to the one in force changes nothing. It returns the document's ETag.
func (l *Limits) InstallShared(doc []byte) (string, error) {
	cfg, err := ParseConfig(doc)
	if err != nil {
		return "", fmt.Errorf("limits: the fleet's configuration: %w", err)
	}
	data, err := cfg.Marshal()
	if err != nil {
		return "", fmt.Errorf("limits: %w", err)
	}
	etag := etagOf(data)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.breaker.ETag() == etag {
		return etag, nil
	}
	l.inForceFromFleetLocked(cfg, data)
	l.log.Info("circuit breaker configuration from the fleet applied", "buckets", len(cfg.Buckets), "etag", etag)
	return etag, nil
}

// inForceFromFleetLocked puts cfg, the fleet's document doc, in force and
// writes doc to ConfigPath, the local cache read at start-up when Redis
// cannot be reached (and saved as the last good configuration, as a
// file put in force is). l.mu must be held.
func (l *Limits) inForceFromFleetLocked(cfg *Config, doc []byte) {
	if l.opts.ConfigPath != "" {
		if err := writeFileAtomic(l.opts.ConfigPath, doc, 0o644); err != nil {
			l.log.Warn("cannot write the local cache of the fleet's configuration", "path", l.opts.ConfigPath, "err", err)
		} else {
			l.fileSum, l.fileKnown = contentSum(doc, true), true
		}
	}
	l.inForceLocked(cfg, doc)
}

// Document returns the canonical document in force and its ETag.
func (l *Limits) Document() ([]byte, string) { return l.breaker.snap.Load().document() }

// leaseAll marks every limit of the enforced sections of s as leased and
// gives their slots share state; b.mu is held and s not yet in force.
func (b *Breaker) leaseAll(s *snapshot) {
	b.leases++
	section := func(sec *sectionLimits, slots func(ai int) *slot) {
		if !sec.enabled || sec.shadow {
			return
		}
		for ai := range numActions {
			lim := &sec.limits[ai]
			if lim.count > 0 || lim.bytes > 0 || lim.ops > 0 || lim.rate > 0 {
				lim.leased = true
				sl := slots(ai)
				ensureFleetSlot(sl)
				b.clampShares(sl, sl.fleet.Load(), lim, max(b.fleetSize.Load(), 1))
			}
		}
	}
	section(&s.global, func(ai int) *slot { return &b.global[ai].slot })
	for _, m := range s.named {
		for _, e := range m {
			section(&e.sectionLimits, func(ai int) *slot { return &e.counters[ai] })
		}
	}
}

// fleetRefused counts a refusal by a leased count or bytes share as
// demand and asks the fleet for a look.
func (b *Breaker) fleetRefused(sl *slot, size int64) {
	if f := sl.fleet.Load(); f != nil {
		f.refused.Add(1)
		f.refusedBytes.Add(size)
	}
	b.fleetKick()
}

// ETagMatches reports whether an If-Match value names etag, as Apply
// compares them.
func ETagMatches(ifMatch, etag string) bool { return etagMatches(ifMatch, etag) }

// Metrics returns the metrics the Limits report to (nil: none).
func (l *Limits) Metrics() *metrics.Metrics { return l.metrics }
