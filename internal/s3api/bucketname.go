package s3api

// AdminPrefix is the path under which s3limit's admin API lives on
// path-style requests. No bucket can take it: bucket names cannot start
// with '_'.
const AdminPrefix = "/_s3limit/"

// AdminCircuitBreakerPath is the admin API's circuit-breaker resource.
const AdminCircuitBreakerPath = AdminPrefix + "circuit-breaker"

// The health probes for load balancers and orchestrators: GET or HEAD,
// unauthenticated, path style only. Live answers 200 while the process
// serves HTTP; ready answers 200 while the server accepts work and 503
// otherwise (draining for shutdown, upstream store not answering).
const (
	HealthLivePath  = AdminPrefix + "health/live"
	HealthReadyPath = AdminPrefix + "health/ready"
)

// ValidBucketName reports whether name follows the S3 rules for creating a
// bucket: 3 to 63 characters of lowercase letters, digits, '.' and '-',
// starting and ending with a letter or digit, without two adjacent periods,
// and not formatted as an IPv4 address. Names starting with '_' are never
// valid (the server's own API lives under /_s3limit/).
//
// AWS additionally reserves some prefixes and suffixes ("xn--",
// "-s3alias", ...); those belong to AWS's namespace, not to S3's syntax,
// and are accepted here.
func ValidBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	if !isLowerAlnum(name[0]) || !isLowerAlnum(name[len(name)-1]) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case isLowerAlnum(c), c == '-':
		case c == '.':
			if name[i-1] == '.' {
				return false
			}
		default:
			return false
		}
	}
	return !looksLikeIPv4(name)
}

// AccessibleBucketName reports whether name may address an existing bucket,
// and so whether it may be named in a per-bucket limit or an identity's
// scope. It is looser than ValidBucketName so that a gateway can reach buckets
// created under the legacy us-east-1 rules (up to 255 characters, upper
// case and '_' allowed), but it still rejects anything that could be a
// path element ("." or ".."), names starting with '_', and characters that
// never occur in bucket names.
func AccessibleBucketName(name string) bool {
	if len(name) < 3 || len(name) > 255 {
		return false
	}
	if !isAlnum(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !isAlnum(c) && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

func isAlnum(c byte) bool { return isLowerAlnum(c) || 'A' <= c && c <= 'Z' }

// looksLikeIPv4 reports whether s is four dot-separated groups of 1 to 3
// digits, the form S3 refuses as a bucket name.
func looksLikeIPv4(s string) bool {
	groups, digits := 1, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			digits++
			if digits > 3 {
				return false
			}
		case c == '.':
			if digits == 0 {
				return false
			}
			groups++
			digits = 0
		default:
			return false
		}
	}
	return groups == 4 && digits > 0
}
