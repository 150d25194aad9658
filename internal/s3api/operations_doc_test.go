package s3api

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var updateDoc = flag.Bool("update-doc", false, "rewrite the operations table in docs/operations.md from the code")

// operationsDoc is the operations guide, which shows the operations table
// between these two markers.
const (
	operationsDoc      = "../../docs/operations.md"
	operationsDocBegin = "<!-- BEGIN operations table: generated from internal/s3api/operations.go; rewrite with go test ./internal/s3api -run TestOperationsDoc -update-doc -->\n"
	operationsDocEnd   = "<!-- END operations table -->\n"
)

// operationsMarkdown renders the operations table as the guide shows it:
// one row per operation, in table order.
func operationsMarkdown() string {
	var b strings.Builder
	b.WriteString("| operation | action | bytes counted |\n|---|---|---|\n")
	for _, o := range Ops() {
		var body string
		switch o.Body() {
		case BodyUpload:
			body = "declared length of the upload"
		case BodyCopy:
			body = "bytes copied"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", o, o.Action(), body)
	}
	return b.String()
}

// TestOperationsDoc keeps the guide's table of operations and actions
// equal to the classification table, so the two cannot drift apart.
func TestOperationsDoc(t *testing.T) {
	doc, err := os.ReadFile(operationsDoc)
	if err != nil {
		t.Fatal(err)
	}
	begin := bytes.Index(doc, []byte(operationsDocBegin))
	end := bytes.Index(doc, []byte(operationsDocEnd))
	if begin < 0 || end < begin {
		t.Fatalf("%s: the markers of the operations table are missing or out of order:\n%s%s", operationsDoc, operationsDocBegin, operationsDocEnd)
	}
	begin += len(operationsDocBegin)
	want := operationsMarkdown()
	got := string(doc[begin:end])
	if got == want {
		return
	}
	if *updateDoc {
		out := append(append(append([]byte{}, doc[:begin]...), want...), doc[end:]...)
		if err := os.WriteFile(operationsDoc, out, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Log("rewrote the operations table in docs/operations.md")
		return
	}
	t.Errorf("the operations table in docs/operations.md differs from internal/s3api/operations.go; "+
		"rewrite it with: go test ./internal/s3api -run TestOperationsDoc -update-doc\n%s", lineDiff(got, want))
}

// lineDiff lists the lines only in got (-) and only in want (+).
func lineDiff(got, want string) string {
	count := func(s string) map[string]int {
		m := make(map[string]int)
		for _, l := range strings.SplitAfter(s, "\n") {
			if l != "" {
				m[l]++
			}
		}
		return m
	}
	g, w := count(got), count(want)
	var b strings.Builder
	for _, l := range strings.SplitAfter(got, "\n") {
		if l != "" && g[l] > w[l] {
			b.WriteString("- " + l)
			g[l]--
		}
	}
	g = count(got)
	for _, l := range strings.SplitAfter(want, "\n") {
		if l != "" && w[l] > g[l] {
			b.WriteString("+ " + l)
			w[l]--
		}
	}
	if b.Len() == 0 {
		return "(the same lines in another order)"
	}
	return b.String()
}

func TestOperationsMarkdownRows(t *testing.T) {
	table := operationsMarkdown()
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if len(lines) != 2+len(Ops()) {
		t.Fatalf("table has %d lines, want a header, a rule and %d rows", len(lines), len(Ops()))
	}
	for _, row := range []string{
		"| `GetObject` | Read |  |",
		"| `PutObject` | Write | declared length of the upload |",
		"| `UploadPartCopy` | Write | bytes copied |",
		"| `ListObjectsV2` | List |  |",
		"| `PutObjectTagging` | Tagging |  |",
		"| `PutBucketPolicy` | Admin |  |",
	} {
		if !strings.Contains(table, row+"\n") {
			t.Errorf("table lacks the row %s", row)
		}
	}
}

func TestLineDiff(t *testing.T) {
	for _, tc := range []struct{ got, want, diff string }{
		{"a\nb\n", "a\nc\n", "- b\n+ c\n"},
		{"a\n", "a\nb\n", "+ b\n"},
		{"a\nb\n", "b\na\n", "(the same lines in another order)"},
		{"a\na\n", "a\n", "- a\n"},
	} {
		if d := lineDiff(tc.got, tc.want); d != tc.diff {
			t.Errorf("lineDiff(%q, %q) = %q, want %q", tc.got, tc.want, d, tc.diff)
		}
	}
}
