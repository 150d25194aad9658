package metrics

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// MaxBucketLabels is how many distinct bucket names s3_request_total
// tracks; requests for further buckets are counted under OtherBucket.
const MaxBucketLabels = 10000

// OtherBucket is the bucket label of requests past MaxBucketLabels. No
// valid bucket name contains an underscore, so it cannot collide.
const OtherBucket = "_other"

const bucketShards = 32

// bucketLabels remembers the bucket names already used as label values,
// up to a cap. It is sharded so the request path takes only a shard's read
// lock once a name is known.
type bucketLabels struct {
	max    int64
	n      atomic.Int64 // names remembered, across shards
	seed   maphash.Seed
	shards [bucketShards]bucketShard
}

type bucketShard struct {
	mu sync.RWMutex
	m  map[string]struct{} // guarded by mu
	_  [40]byte            // keep shards on separate cache lines
}

func (b *bucketLabels) init(max int64) {
	b.max = max
	b.seed = maphash.MakeSeed()
	for i := range b.shards {
		b.shards[i].m = make(map[string]struct{})
	}
}

// label returns name, or OtherBucket when name is new and the cap is
// reached.
func (b *bucketLabels) label(name string) string {
	if name == "" {
		return ""
	}
	s := &b.shards[maphash.String(b.seed, name)%bucketShards]
	s.mu.RLock()
	_, ok := s.m[name]
	s.mu.RUnlock()
	if ok {
		return name
	}
	if b.n.Load() >= b.max {
		return OtherBucket
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[name]; ok {
		return name
	}
	if b.n.Add(1) > b.max {
		b.n.Add(-1)
		return OtherBucket
	}
	s.m[name] = struct{}{}
	return name
}
