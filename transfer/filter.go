package transfer

import (
	"fmt"
	"unicode/utf8"
)

// WithInclude and WithExclude choose the objects of a directory transfer
// by the path below the directory or prefix, with "/" between names
// ("photos/2026/a.jpg"), as the AWS CLI's --include and --exclude do:
// every object is included unless a filter says otherwise, and where
// several patterns match, the one given last wins. So
//
//	transfer.WithExclude("*"), transfer.WithInclude("*.jpg")
//
// keeps only the .jpg files. In a pattern, * matches any run of
// characters, "/" included; ? matches one character; [abc], [a-z] and
// [!a-z] match one character of (or not of) a set. An invalid pattern
// fails the directory transfer before anything is transferred. Directory
// transfers only.
func WithInclude(patterns ...string) Option {
	return func(o *options) { o.addFilters(true, patterns) }
}

// WithExclude leaves out the objects whose path matches one of patterns;
// see WithInclude.
func WithExclude(patterns ...string) Option {
	return func(o *options) { o.addFilters(false, patterns) }
}

func (o *options) addFilters(include bool, patterns []string) {
	for _, p := range patterns {
		g, err := compileGlob(p)
		if err != nil {
			name := "WithExclude"
			if include {
				name = "WithInclude"
			}
			o.fail(fmt.Errorf("%s(%q): %w", name, p, err))
			return
		}
		o.filters = append(o.filters, filter{include: include, glob: g})
	}
}

// filter is one WithInclude or WithExclude pattern.
type filter struct {
	include bool
	glob    glob
}

// selected reports whether the filters keep rel.
func selected(filters []filter, rel string) bool {
	keep := true
	for _, f := range filters {
		if f.glob.match(rel) {
			keep = f.include
		}
	}
	return keep
}

// glob is a compiled pattern: a sequence of tokens.
type glob []token

type tokenKind uint8

const (
	tokLiteral tokenKind = iota
	tokAny               // ?
	tokStar              // *
	tokClass             // [...]
)

type token struct {
	kind   tokenKind
	r      rune      // tokLiteral
	negate bool      // tokClass
	ranges [][2]rune // tokClass: inclusive ranges
}

// compileGlob parses a pattern, or says what is wrong with it.
func compileGlob(p string) (glob, error) {
	if !utf8.ValidString(p) {
		return nil, fmt.Errorf("pattern is not valid UTF-8")
	}
	var g glob
	rs := []rune(p)
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; c {
		case '*':
			if len(g) == 0 || g[len(g)-1].kind != tokStar {
				g = append(g, token{kind: tokStar})
			}
		case '?':
			g = append(g, token{kind: tokAny})
		case '[':
			t := token{kind: tokClass}
			j := i + 1
			if j < len(rs) && (rs[j] == '!' || rs[j] == '^') {
				t.negate = true
				j++
			}
			start := j
			for ; j < len(rs) && (rs[j] != ']' || j == start); j++ {
				lo := rs[j]
				if j+2 < len(rs) && rs[j+1] == '-' && rs[j+2] != ']' {
					hi := rs[j+2]
					if hi < lo {
						return nil, fmt.Errorf("range %c-%c at offset %d runs backwards", lo, hi, i)
					}
					t.ranges = append(t.ranges, [2]rune{lo, hi})
					j += 2
					continue
				}
				t.ranges = append(t.ranges, [2]rune{lo, lo})
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unterminated [ at offset %d", i)
			}
			g = append(g, t)
			i = j
		default:
			g = append(g, token{kind: tokLiteral, r: c})
		}
	}
	return g, nil
}

func (t *token) matches(r rune) bool {
	switch t.kind {
	case tokLiteral:
		return r == t.r
	case tokAny:
		return true
	case tokClass:
		in := false
		for _, rg := range t.ranges {
			if rg[0] <= r && r <= rg[1] {
				in = true
				break
			}
		}
		return in != t.negate
	}
	return false
}

// match reports whether the whole of s matches. A star backtracks to the
// last star only, so matching takes O(len(g)·len(s)) steps.
func (g glob) match(s string) bool {
	rs := []rune(s)
	gi, si := 0, 0
	star, mark := -1, 0
	for si < len(rs) {
		switch {
		case gi < len(g) && g[gi].kind == tokStar:
			star, mark = gi, si
			gi++
		case gi < len(g) && g[gi].matches(rs[si]):
			gi++
			si++
		case star >= 0:
			gi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for gi < len(g) && g[gi].kind == tokStar {
		gi++
	}
	return gi == len(g)
}
