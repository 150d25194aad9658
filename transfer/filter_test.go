package transfer

import (
	"path"
	"path/filepath"
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"*", "", true},
		{"*", "a/b/c.txt", true},
		{"*.jpg", "photos/2026/a.jpg", true}, // * crosses "/", as in the AWS CLI
		{"*.jpg", "a.jpeg", false},
		{"photos/*", "photos/a", true},
		{"photos/*", "photo/a", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a?c", "aéc", true}, // ? is one character, not one byte
		{"[ab]x", "bx", true},
		{"[ab]x", "cx", false},
		{"[a-c]x", "cx", true},
		{"[!a-c]x", "cx", false},
		{"[!a-c]x", "dx", true},
		{"[^a]", "b", true},
		{"[]]", "]", true},
		{"[!]]", "]", false},
		{"*a*b*", "xxaxxbxx", true},
		{"*a*b*", "xxbxxaxx", false},
		{"**/x", "a/b/x", true},
		{"log-[0-9][0-9].txt", "log-42.txt", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	} {
		g, err := compileGlob(tc.pattern)
		if err != nil {
			t.Fatalf("compileGlob(%q): %v", tc.pattern, err)
		}
		if got := g.match(tc.name); got != tc.want {
			t.Errorf("%q matches %q = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestGlobErrors(t *testing.T) {
	for _, tc := range []struct{ pattern, want string }{
		{"[abc", "unterminated [ at offset 0"},
		{"x[!", "unterminated [ at offset 1"},
		{"[z-a]", "range z-a at offset 0 runs backwards"},
		{"\xff", "not valid UTF-8"},
	} {
		if _, err := compileGlob(tc.pattern); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("compileGlob(%q) = %v, want %q", tc.pattern, err, tc.want)
		}
	}
}

// The last matching filter wins; with none matching, the object stays.
func TestFiltersLastMatchWins(t *testing.T) {
	var o options
	WithExclude("*")(&o)
	WithInclude("*.jpg", "*.png")(&o)
	WithExclude("tmp/*")(&o)
	if o.err != nil {
		t.Fatal(o.err)
	}
	for name, want := range map[string]bool{
		"a.jpg": true, "x/b.png": true, "c.txt": false, "tmp/d.jpg": false, "x/tmp/e.jpg": true,
	} {
		if got := selected(o.filters, name); got != want {
			t.Errorf("selected(%q) = %v, want %v", name, got, want)
		}
	}
	if !selected(nil, "anything") {
		t.Error("no filters must keep everything")
	}
}

// The matcher agrees with path.Match where the two grammars coincide (no
// "/" for * to cross, no "!" negation or leading "]" in a set, which
// path.Match spells differently), and never panics.
func FuzzGlob(f *testing.F) {
	for _, s := range []string{"*.jpg|a.jpg", "[a-c]?x|bzx", "[!]]|a", "*a*b|ab", "[|x", "\\*|*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		pattern, name, _ := strings.Cut(in, "|")
		g, err := compileGlob(pattern)
		if err != nil {
			return
		}
		got := g.match(name)
		if strings.ContainsAny(pattern, "/\\^!") || strings.Contains(pattern, "[]") || strings.Contains(name, "/") {
			return
		}
		want, perr := path.Match(pattern, name)
		if perr == nil && want != got {
			t.Fatalf("%q matches %q: %v, path.Match says %v", pattern, name, got, want)
		}
	})
}

func TestLocalPath(t *testing.T) {
	for _, tc := range []struct {
		rel  string
		ok   bool
		want string
	}{
		{"a/b.txt", true, filepath.Join("a", "b.txt")},
		{"a//b", true, filepath.Join("a", "b")},
		{"../escape", false, ""},
		{"a/../../escape", false, ""},
		{"/etc/passwd", false, ""},
		{"a/./b", true, filepath.Join("a", "b")},
	} {
		got, ok := localPath(tc.rel)
		if ok != tc.ok || got != tc.want {
			t.Errorf("localPath(%q) = %q, %v; want %q, %v", tc.rel, got, ok, tc.want, tc.ok)
		}
	}
}
