package server_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3limit/s3limit/internal/limits"
	"github.com/s3limit/s3limit/internal/server/servertest"
)

// TestVirtualHostedStyle addresses buckets as <bucket>.<domain>: a client
// without path style resolves every host name to the loopback server.
func TestVirtualHostedStyle(t *testing.T) {
	s := servertest.Start(t, servertest.Options{DomainName: "s3.example.test"})
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	dialer := &net.Dialer{}
	transport := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dialer.DialContext(ctx, network, u.Host) // every name is the test server
	}}
	var hosts []string
	vc := servertest.NewClient("http://s3.example.test:"+u.Port(), s.AccessKey, s.SecretKey, func(o *s3.Options) {
		o.UsePathStyle = false
		o.HTTPClient = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			hosts = append(hosts, r.URL.Host)
			return transport.RoundTrip(r)
		})}
	})
	ctx := context.Background()
	if _, err := vc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vhost")}); err != nil {
		t.Fatal(err)
	}
	body := []byte("virtual hosted")
	if _, err := vc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/a b.txt"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	if hosts[len(hosts)-1] != "vhost.s3.example.test:"+u.Port() {
		t.Fatalf("client sent Host %q, want the virtual-hosted form", hosts[len(hosts)-1])
	}
	// The object is the same one path style sees.
	if got := servertest.GetObject(t, s.Client(), "vhost", "dir/a b.txt"); !bytes.Equal(got, body) {
		t.Fatalf("path-style read %q, want %q", got, body)
	}
	if got := listKeys(t, vc, "vhost", ""); len(got) != 1 || got[0] != "dir/a b.txt" {
		t.Fatalf("virtual-hosted listing %v", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestVirtualHostedAdminPathIsAnObject: the admin API exists only on
// path-style requests. On a virtual-hosted bucket, "_s3limit/..." is an
// ordinary key: writing it must store an object, not replace the limits.
func TestVirtualHostedAdminPathIsAnObject(t *testing.T) {
	s := servertest.Start(t, servertest.Options{DomainName: "s3.example.test",
		CircuitBreaker: &limits.Config{Global: &limits.Section{Enabled: true, Actions: map[string]int64{"Read:count": 7}}}})
	createBucket(t, s.Client(), "photos")
	u, _ := url.Parse(s.URL)
	target := "http://photos.s3.example.test:" + u.Port() + "/_s3limit/circuit-breaker"
	body := []byte(`{}`)
	r := newSignedRequest(t, context.Background(), http.MethodPut, target, body, s.AccessKey, s.SecretKey)
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, u.Host)
	}}}
	if status, _, rb := do(t, client, r); status != http.StatusOK {
		t.Fatalf("virtual-hosted PUT of _s3limit/circuit-breaker: %d %s", status, rb)
	}
	if got := servertest.GetObject(t, s.Client(), "photos", "_s3limit/circuit-breaker"); !bytes.Equal(got, body) {
		t.Fatalf("object holds %q, want %q", got, body)
	}
	cfg, _ := s.Limits().Config()
	if cfg.Global == nil || cfg.Global.Actions["Read:count"] != 7 {
		t.Fatalf("the limits changed: %+v", cfg.Global)
	}
}
