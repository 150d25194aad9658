package sigv4

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"sync"
	"testing"
)

func TestDeriveKey(t *testing.T) {
	for _, secret := range []string{exampleSecretKey, "", strings.Repeat("s", 128), strings.Repeat("long", 100)} {
		got := DeriveKey(secret, "20130524", "us-east-1", "s3")
		if want := testKey(secret, "20130524", "us-east-1", "s3"); !bytes.Equal(got[:], want) {
			t.Errorf("DeriveKey(%d-byte secret) = %x, want %x", len(secret), got, want)
		}
	}
}

// The HMAC of messages too long for the stack buffer takes another path.
func TestHMACSHA256(t *testing.T) {
	for _, tc := range []struct{ key, msg []byte }{
		{[]byte("k"), []byte("short")},
		{bytes.Repeat([]byte("k"), 64), bytes.Repeat([]byte("m"), 512)},
		{bytes.Repeat([]byte("k"), 65), []byte("long key")},
		{[]byte("k"), bytes.Repeat([]byte("m"), 513)},
	} {
		m := hmac.New(sha256.New, tc.key)
		m.Write(tc.msg)
		if got := hmacSHA256(tc.key, tc.msg); !bytes.Equal(got[:], m.Sum(nil)) {
			t.Errorf("hmacSHA256 of a %d-byte key and a %d-byte message is wrong", len(tc.key), len(tc.msg))
		}
	}
}

func TestParseSignature(t *testing.T) {
	valid := "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef"
	sig, ok := ParseSignature(valid)
	if !ok || sig.String() != strings.ToLower(valid) || string(sig.AppendHex([]byte("x"))) != "x"+strings.ToLower(valid) {
		t.Fatalf("ParseSignature(%q) = %s, %t", valid, sig, ok)
	}
	for _, bad := range []string{"", valid[:63], valid + "0", "g" + valid[1:], valid[:63] + " ", "`" + valid[1:]} {
		if sig, ok := ParseSignature(bad); ok || sig != (Signature{}) {
			t.Errorf("ParseSignature(%q) = %s, %t; want the zero signature, false", bad, sig, ok)
		}
	}
	other := sig
	other[31] ^= 1
	if !sig.Equal(sig) || sig.Equal(other) {
		t.Error("Equal")
	}
}

func TestKeyCache(t *testing.T) {
	c := NewKeyCache(exampleSecretKey, "s3")
	for _, tc := range []struct{ date, region string }{
		{"20130524", "us-east-1"}, {"20130524", "us-east-1"}, {"20130524", "eu-west-1"},
		{"20130525", "eu-west-1"}, {"20130524", "us-east-1"},
	} {
		got := c.Key(tc.date, tc.region)
		if want := testKey(exampleSecretKey, tc.date, tc.region, "s3"); !bytes.Equal(got[:], want) {
			t.Errorf("Key(%s, %s) is wrong", tc.date, tc.region)
		}
	}
	// Concurrent users of alternating regions each get their own key.
	var wg sync.WaitGroup
	for i := range 8 {
		region := []string{"us-east-1", "eu-west-1"}[i%2]
		want := DeriveKey(exampleSecretKey, "20130524", region, "s3")
		wg.Go(func() {
			for range 100 {
				if c.Key("20130524", region) != want {
					t.Error("concurrent Key returned another region's key")
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestKeyCacheDoesNotAllocateWhenWarm(t *testing.T) {
	c := NewKeyCache(exampleSecretKey, "s3")
	c.Key("20130524", "us-east-1")
	if n := testing.AllocsPerRun(100, func() { c.Key("20130524", "us-east-1") }); n != 0 {
		t.Errorf("a cached key allocates %v times", n)
	}
}
