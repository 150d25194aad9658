// Package transfer uploads and downloads S3 objects under a bandwidth cap,
// with multipart uploads, parallel ranged downloads, progress events and
// retries that understand throttling. It is built on aws-sdk-go-v2 and the
// bandwidth package, and works with any S3-compatible endpoint.
//
// # Usage
//
// A Manager owns one bandwidth budget and one request window; every
// transfer it runs shares them:
//
//	m, err := transfer.NewManager(client, transfer.Config{MaxBandwidth: 4 << 20})
//	if err != nil {
//		return err
//	}
//	defer m.Shutdown(ctx)
//	res, err := m.Upload(ctx, file, "bucket", "key").Result()
//
// Upload and Download return a Future at once. Subscribers receive
// OnQueued, OnProgress (bytes on the wire, negative when a failed attempt
// is retried) and OnDone.
//
// # Bandwidth
//
// Bytes are charged as the HTTP transport sends a request body or as a
// response body arrives, in steps of about 20 ms of the rate (see
// bandwidth.PacingBucket), so the traffic is smooth and the cap holds for
// uploads and downloads together. Bytes the SDK reads to compute a payload
// hash before sending are not charged: the manager wraps the body at the
// HTTP client, below the SDK's signing and checksum steps. Request
// checksums are computed only when S3 requires them, so bodies are not
// read an extra time for a CRC. Over HTTPS, PutObject and UploadPart send
// the payload unsigned (TLS protects it); over plain HTTP the SDK hashes
// each body once before sending it.
//
// # Retries and throttling
//
// The client's own retryer is bypassed; the manager retries each request:
//
//   - Throttling (SlowDown, RequestBytesExceed and similar codes, HTTP 429
//     and 503): up to 30 attempts per request.
//   - Transient failures (other 5xx, a connection that fails, a response
//     body that breaks off): up to Config.MaxAttempts attempts. A
//     broken GET resumes from the last byte received.
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
// # Cancellation
//
// Cancelling the context given to Upload or Download, calling
// Future.Cancel, or Manager.Close stops a transfer promptly; a
// multipart upload is then aborted on the server with a fresh context, so
// no parts are left behind.
package transfer
