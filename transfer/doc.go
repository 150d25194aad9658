// Package transfer uploads, downloads, copies and deletes S3 objects and
// whole directories under a bandwidth cap, with multipart uploads,
// parallel ranged downloads, server-side copies, progress snapshots and
// retries that understand throttling. It is built on aws-sdk-go-v2 and
// the bandwidth package, and works with any S3-compatible endpoint. It
// does what the Python s3transfer library's TransferManager and the
// SDK's own transfer managers do, and adds the cap they lack.
//
// # Usage
//
// A Manager owns one bandwidth budget and one request window; every
// transfer it runs shares them:
//
//	m, err := transfer.NewManager(client, transfer.Config{MaxBandwidth: 8 << 20}) // 8 MiB/s
//	if err != nil {
//		return err
//	}
//	defer m.Shutdown(ctx) // waits for transfers still running
//	res, err := m.UploadFile(ctx, "backup.tar", "my-bucket", "backups/backup.tar").Result()
//
// client is an *s3.Client (see the examples for one against a custom
// endpoint with static credentials) or anything else that implements
// Client. The operations:
//
//   - Upload (from any io.Reader), UploadFile;
//   - Download (into an io.WriterAt), DownloadStream (into an io.Writer),
//     DownloadFile (into a file, renamed into place when complete);
//   - Copy (on the server; multipart for large objects), Delete;
//   - UploadDirectory, DownloadDirectory, CopyDirectory, with WithInclude
//     and WithExclude filters and a result per object.
//
// The single-object operations return a Future at once; Result waits for
// it. The directory operations return when every object has finished.
//
// # Options
//
// Options shape the requests: WithContentType, WithMetadata,
// WithCacheControl, WithContentDisposition, WithContentEncoding,
// WithTagging, WithStorageClass, WithACL, WithSSES3, WithSSEKMS,
// WithSSECustomerKey (uploads, downloads and copies),
// WithCopySourceSSECustomerKey, WithChecksumAlgorithm,
// WithExpectedBucketOwner; for reading, WithVersionID and WithRange. Each
// is applied to every request of the transfer that needs it (an SSE-C
// key goes on each part, on the HeadObject and on each ranged GET).
// WithRequest reaches any other field of any request.
//
// # Progress
//
// WithProgress(interval, fn) calls fn with a Progress snapshot (bytes
// done, total, rate over the last 5 s, time left) every interval, and
// once more when the transfer is done; on a directory transfer the
// snapshot covers all its objects. Manager.WatchProgress does the same
// for all the transfers of a manager. Subscribers (WithSubscribers)
// receive the raw events instead: OnQueued, OnProgress with every step
// of bytes (negative when a failed attempt is retried), OnDone.
//
// # Bandwidth
//
// Bytes are charged as the HTTP transport takes a request body to send
// it or as a response body arrives, in steps of 20 ms of the rate (see
// bandwidth.PacingBucket), and each step is paid for before the
// transport gets it. So the cap holds for uploads and downloads together,
// for objects of any size, from the first second: the manager's own
// budget allows a burst of 20 ms of MaxBandwidth after an idle period,
// so over any interval T at most MaxBandwidth·(T + 40 ms) bytes of
// object data go on the wire, however many requests run in parallel. A
// retried attempt is charged again (its bytes went on the wire twice).
// Request and response headers are not charged, and neither are the
// bytes of a server-side copy, which never reach this machine. A response
// is charged as it is read, so the network may carry up to a socket
// buffer of it ahead of the budget per request in flight; that is bounded
// by MaxConcurrency and does not add up over time.
//
// Bytes the SDK reads to compute a payload hash or a checksum before
// sending are not charged: the manager wraps the body at the HTTP client,
// below the SDK's signing and checksum steps. Request checksums are
// computed only when S3 requires them or WithChecksumAlgorithm asks for
// them. Over HTTPS, PutObject and UploadPart send the payload unsigned
// (TLS protects it); over plain HTTP the SDK hashes each body once before
// sending it.
//
// # Retries and throttling
//
// The client's own retryer is bypassed; the manager retries each request:
//
//   - Throttling (SlowDown, RequestBytesExceed and similar codes, HTTP 429
//     and 503): up to 30 attempts per request.
//   - Transient failures (other 5xx, a connection that fails, a response
//     body that breaks off): up to Config.MaxAttempts attempts. A broken
//     GET resumes from the last byte received.
//   - Anything else (4xx, a failure of the caller's reader or writer,
//     cancellation) is final.
//
// Attempt n waits a random time in [0, min(5s, 100ms·2^(n-1))) ("full
// jitter"), and at least what the server asked for in x-amz-retry-after
// (milliseconds) or Retry-After (seconds or a date).
//
// Every request takes a place in the manager's request window, whose size
// follows AIMD: it halves when the server throttles (once per round of
// requests, however many of them were refused together) and grows by
// about one per round of successful requests, up to MaxConcurrency.
// Manager.Stats reports it. Large PUTs carry "Expect: 100-continue", so
// with an HTTP client that waits for the server's answer (the SDK's
// default client does; set http.Transport.ExpectContinueTimeout on a
// custom one) a refused part costs no bandwidth.
//
// # Cancellation and shutdown
//
// Cancelling the context given to a transfer, calling Future.Cancel, or
// Manager.Close stops a transfer promptly. A multipart upload or copy
// that fails or is stopped is aborted on the server with a fresh context
// (bounded by 30 s), and Result returns only after the abort, so no parts
// are left behind unless Result's error also holds an *AbortError.
// Manager.Shutdown stops new transfers and waits for the running ones.
//
// # Errors
//
// Every error a Future returns is an *Error naming the transfer. Its
// cause may be a *NotFoundError (a missing object, version or bucket; it
// matches ErrNotFound, and reads "not found: s3://bucket/key"), an
// *AbortError, context.Canceled, ErrClosed, or the SDK's error (an
// smithy.APIError for an S3 error code).
package transfer
