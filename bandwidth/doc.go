// Package bandwidth limits how fast bytes flow through readers, for S3
// uploads and downloads and for shaping traffic in a server.
//
// # Choosing a bucket
//
// A [Bucket] decides when bytes may pass. Two implementations are provided:
//
//   - [PacingBucket] is the one to use. It schedules every admission on a
//     virtual timeline (virtual scheduling, also known as the generic cell rate
//     algorithm): n bytes take the next free slot of n/rate seconds, and the
//     caller waits until its slot comes. The long-run rate is exact, callers
//     are served in arrival order, idle credit is capped by a burst, and
//     [LimitedStream] reads through it in small steps (see
//     [PacingBucket.Quantum]) so traffic stays smooth even at a few kilobytes
//     per second. Waits take a context: [PacingBucket.WaitN].
//   - [LeakyBucket] keeps the behaviour of the bandwidth module of the Python
//     s3transfer library: an exponential moving average of the observed rate
//     ([RateTracker]) decides whether a request may pass, and refused requests
//     queue in a [ConsumptionScheduler]. It is kept for callers that want that
//     exact behaviour. The rate it delivers depends on how fast the caller
//     reads. A caller whose reads take no time gets a little more than the
//     limit, because the first request of a stream passes at once and each
//     later one waits only for its own bytes: 4 MiB through a 1 MiB/s bucket
//     in 256 KiB steps take 3.75 s, 1.07 times the limit
//     ([ExampleNewLeakyBucket]). A caller whose reads take time gets less,
//     because each wait ignores the time already spent reading: a stream
//     that could read at 1.2 times the limit gets only 0.55 times it (both
//     measured on a virtual clock by the package's tests).
//
// # Streams
//
// A [LimitedStream] wraps an [io.Reader] and charges the bytes it actually
// delivers to a bucket; a [Limiter] hands out streams that share one bucket.
// A stream waits inside Read when the bucket says so, and stops waiting with
// the context's error when its context is cancelled.
//
// # Units, time and concurrency
//
// Byte counts are int64 bytes, rates are int64 bytes per second, waits are
// [time.Duration]. Human-readable rates such as "10MB/s" are parsed by
// [ParseRate]. Every type that reads the time takes a [Clock];
// [SystemClock] uses the monotonic clock, and tests can pass a virtual clock
// or run inside testing/synctest. Buckets and [Limiter] are safe for
// concurrent use; a [LimitedStream], like most readers, is read by one
// goroutine at a time.
package bandwidth
