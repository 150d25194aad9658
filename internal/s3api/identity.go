package s3api

// Credential is one access key pair of an identity.
type Credential struct {
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

// Identity is one entry of the identities file (the shape of SeaweedFS's
// s3.json). Actions are "Read", "Write", "List", "Tagging", "Admin",
// optionally scoped to a bucket as "Read:photos" or "Read:photos-*".
type Identity struct {
	Name        string       `json:"name"`
	Credentials []Credential `json:"credentials"`
	Actions     []string     `json:"actions"`
}

// IdentityConfig is the identities file.
type IdentityConfig struct {
	Identities []Identity `json:"identities"`
}
