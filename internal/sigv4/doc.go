// Package sigv4 is AWS Signature Version 4 as S3 uses it, for both sides of
// s3limit: the server verifies what clients signed (Verify, Chain) and the
// gateway signs what it forwards (Signer). Both build their canonical
// requests, strings to sign and signatures here, so the two sides cannot
// drift apart.
//
// The package owns the SigV4 canonical forms (URI encoding, canonical
// query, canonical headers, canonical request), key derivation and the
// caching of signing keys (KeyCache), strings to sign, request signatures
// and the chained signatures of aws-chunked bodies (Chain). It does not
// parse the Authorization header or presigned-URL parameters, check
// clocks or map failures to S3 errors: that is the caller's protocol
// work.
//
// Where signers disagree the package follows one of two dialects:
//
//   - Verify follows S3 and is strict: a query whose percent-encoding is
//     malformed is an error (ErrMalformedQuery), and tabs inside header
//     values count as spaces (botocore and MinIO sign them so).
//   - Signer produces exactly what aws-sdk-go-v2's v4.Signer produces for
//     S3 (DisableURIPathEscaping): query parameters that url.ParseQuery
//     rejects are dropped and the query is rewritten into its canonical
//     form; header values are trimmed of Unicode white space and only runs
//     of spaces are collapsed.
//
// The hot paths (Signer.Sign, Verify, Chain) work in pooled or stack
// memory; benchmarks and allocation tests in this package and its callers
// hold them to that.
package sigv4
