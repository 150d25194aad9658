package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/server/servertest"
	"github.com/s3limit/s3limit/internal/testpeer"
)

// TestBoto3UserMetadata is the regression test for boto3 seeing user
// metadata names capitalised through the gateway ({'Color': 'blue'} for
// {'color': 'blue'}) on GET, HEAD, CopyObject and multipart uploads. boto3
// keeps the case of the names it receives, unlike aws-sdk-go-v2, so it
// runs testdata/boto3_metadata.py through a gateway to each upstream and,
// as the reference, against the embedded store.
func TestBoto3UserMetadata(t *testing.T) {
	python := testpeer.Python(t, "boto3")
	stored := map[string]string{"color": "blue", "owner-team": "ops"}
	want := map[string]map[string]string{}
	for _, key := range []string{"put", "copied", "multipart"} {
		want["GetObject "+key], want["HeadObject "+key] = stored, stored
	}
	replaced := map[string]string{"color": "green"}
	want["GetObject replaced"], want["HeadObject replaced"] = replaced, replaced

	type target struct {
		name  string
		start func(t *testing.T) *servertest.Server
	}
	targets := []target{
		{"embedded store", func(t *testing.T) *servertest.Server { return servertest.Start(t, servertest.Options{}) }},
	}
	for _, u := range upstreams {
		targets = append(targets, target{"gateway to " + u.name,
			func(t *testing.T) *servertest.Server { return gatewayFront(t, u.start(t), nil) }})
	}
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := tc.start(t)
			out := runPython(t, python, "boto3_metadata.py", srv.URL, srv.AccessKey, srv.SecretKey, "boto3-metadata")
			var got map[string]map[string]string
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("boto3_metadata.py printed %q: %v", out, err)
			}
			if !reflect.DeepEqual(got, want) {
				wantJSON, _ := json.Marshal(want)
				t.Errorf("boto3 saw metadata\n%s\nwant\n%s", out, wantJSON)
			}
		})
	}
}

// runPython runs testdata/script with args and returns its standard
// output. The AWS configuration of the environment (profiles, CA bundles,
// endpoints) is kept away from it.
func runPython(t *testing.T, python, script string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{filepath.Join("testdata", script)}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	return out
}
