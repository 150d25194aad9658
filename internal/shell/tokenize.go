package shell

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SplitLine splits one shell line into words the way a POSIX shell would
// for simple commands: words are separated by blanks; '...' quotes
// literally; "..." quotes with \" and \\ as the only escapes; a backslash
// outside quotes escapes the next character; a word starting with #
// begins a comment that runs to the end of the line. A blank or
// comment-only line has no words.
//
// A leading prompt ("> ") pasted along with a command from documentation
// is dropped, so "> s3.circuitBreaker -global ..." runs as written.
func SplitLine(line string) ([]string, error) {
	line = stripPrompt(line)
	var (
		words  []string
		cur    strings.Builder
		inWord bool
	)
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case isBlank(c):
			flush()
			i++
		case c == '#' && !inWord:
			return words, nil
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, &UsageError{Msg: "unterminated ' quote"}
			}
			cur.WriteString(line[i+1 : i+1+end])
			inWord = true
			i += end + 2
		case c == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' && j+1 < len(line) && (line[j+1] == '"' || line[j+1] == '\\') {
					j++
				}
				cur.WriteByte(line[j])
			}
			if j >= len(line) {
				return nil, &UsageError{Msg: `unterminated " quote`}
			}
			inWord = true
			i = j + 1
		case c == '\\' && i+1 < len(line):
			_, size := utf8.DecodeRuneInString(line[i+1:])
			cur.WriteString(line[i+1 : i+1+size])
			inWord = true
			i += 1 + size
		default:
			cur.WriteByte(c)
			inWord = true
			i++
		}
	}
	flush()
	return words, nil
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

// stripPrompt removes a leading "> " prompt.
func stripPrompt(line string) string {
	t := strings.TrimLeftFunc(line, unicode.IsSpace)
	if t == ">" {
		return ""
	}
	if len(t) >= 2 && t[0] == '>' && isBlank(t[1]) {
		return t[2:]
	}
	return line
}

// oneLine makes s safe to show on one line: control characters become
// Go escapes.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
