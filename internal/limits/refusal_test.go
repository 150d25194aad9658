package limits

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/s3limit/s3limit/internal/metrics"
	"github.com/s3limit/s3limit/internal/s3api"
)

func TestRefusalOfNamesTheLimit(t *testing.T) {
	l, err := New(Options{ConcurrentFileUploadLimit: 1, UploadMaxWait: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig([]byte(`{
		"global":  {"enabled": true, "actions": {"Read:count": 1, "List:count": 0}},
		"buckets": {"photos": {"enabled": true, "actions": {"Write:bytes": 100}},
		            "slow":   {"enabled": true, "wait": "1ms", "actions": {"Tagging:count": 1}}},
		"users":   {"alice": {"enabled": true, "actions": {"Write:ops/s": 1}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Apply(cfg, ""); err != nil {
		t.Fatal(err)
	}
	b := l.Breaker()
	refusal := func(action s3api.Action, bucket, user string, size int64) *s3api.Error {
		t.Helper()
		_, err := b.AdmitWait(context.Background(), action, bucket, user, size)
		var e *s3api.Error
		if !errors.As(err, &e) {
			t.Fatalf("%s on %q by %q: %v, want a refusal", action, bucket, user, err)
		}
		return e
	}

	held, err := b.Admit(s3api.ActionRead, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	heldTag, err := b.Admit(s3api.ActionTagging, "slow", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer heldTag.Release()
	first, err := b.AdmitUser(s3api.ActionWrite, "", "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Release()
	up, err := l.uploads.acquire(context.Background(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.uploads.release(up)
	_, uploadErr := l.uploads.acquire(context.Background(), 0, nil)

	tests := []struct {
		name   string
		action s3api.Action
		err    *s3api.Error
		want   Refusal
	}{
		{"global count reached", s3api.ActionRead, refusal(s3api.ActionRead, "", "", 0),
			Refusal{metrics.ScopeGlobal, TypeCount, RefusalFull}},
		{"global count 0", s3api.ActionList, refusal(s3api.ActionList, "photos", "", 0),
			Refusal{metrics.ScopeGlobal, TypeCount, RefusalBlocked}},
		{"bucket bytes too large", s3api.ActionWrite, refusal(s3api.ActionWrite, "photos", "", 101),
			Refusal{metrics.ScopeBucket, TypeBytes, RefusalTooLarge}},
		{"bucket count after its wait", s3api.ActionTagging, refusal(s3api.ActionTagging, "slow", "", 0),
			Refusal{metrics.ScopeBucket, TypeCount, RefusalFull}},
		{"user ops/s", s3api.ActionWrite, refusal(s3api.ActionWrite, "", "alice", 0),
			Refusal{metrics.ScopeUser, TypeOpsPerSec, RefusalFull}},
		{"upload queue", s3api.ActionWrite, uploadErr.(*s3api.Error),
			Refusal{metrics.ScopeUpload, "wait", RefusalFull}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := l.RefusalOf(tc.action, tc.err)
			if !ok || got != tc.want {
				t.Errorf("RefusalOf(%s, %q) = %+v, %v; want %+v", tc.action, tc.err.Message, got, ok, tc.want)
			}
		})
	}

	t.Run("not a refusal", func(t *testing.T) {
		for _, e := range []*s3api.Error{nil, s3api.ErrNoSuchKey, s3api.ErrSlowDown, s3api.ErrSlowDown.WithMessage("from elsewhere")} {
			if r, ok := l.RefusalOf(s3api.ActionRead, e); ok {
				t.Errorf("RefusalOf(%v) = %+v, want none", e, r)
			}
		}
		if r, ok := l.RefusalOf("NoSuchAction", tests[0].err); ok {
			t.Errorf("RefusalOf with an unknown action = %+v", r)
		}
	})

	t.Run("no allocation", func(t *testing.T) {
		e := tests[4].err
		if n := testing.AllocsPerRun(100, func() { _, _ = l.RefusalOf(s3api.ActionWrite, e) }); n != 0 {
			t.Errorf("RefusalOf allocates %v times", n)
		}
	})
}
