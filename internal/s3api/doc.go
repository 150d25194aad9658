// Package s3api is the S3 wire protocol as the s3limit server speaks it,
// shared by the embedded store and the gateway: it classifies a request
// into an operation, an action and a bucket and key (Classify, Info),
// authenticates it (Authenticator: AWS Signature Version 4 in the
// Authorization header or a presigned URL, and the payload forms S3
// accepts, including aws-chunked bodies with chunk signatures and trailing
// checksums), authorizes it against the identities file (Identity), and
// writes every failure as an S3 XML error (Error, WriteError).
//
// The signature arithmetic itself (canonical requests, signing keys,
// chunk signatures) lives in package sigv4; this package adds what S3
// makes of it: the header and query formats, clock checks, the error
// codes, and the verifying readers that replace a request's body.
package s3api
