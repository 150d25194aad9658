package bandwidth

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// ErrInvalidRate is wrapped by the errors of [ParseRate].
var ErrInvalidRate = errors.New("bandwidth: invalid rate")

// ErrInvalidSize is wrapped by the errors of [ParseSize].
var ErrInvalidSize = errors.New("bandwidth: invalid size")

const (
	// maxQuantityLen bounds the work spent on one value.
	maxQuantityLen = 64

	rateExpected = "expected a whole number of bytes per second (1048576) " +
		"or a number with a unit such as 10MB/s, 10Mb/s or 512KiB/s"
	sizeExpected = "expected a whole number of bytes (1048576) " +
		"or a number with a unit such as 5MB, 5MiB or 1.5G"
)

// ParseRate parses a rate in bytes per second, in the grammar of the AWS CLI's
// max_bandwidth setting:
//
//   - a whole number of bytes per second: "1048576";
//   - a number, an optional prefix K, M, G or T (any case) with an optional
//     "i", then "B/s" for bytes or "b/s" for bits: "1MB/s" is 1048576,
//     "10KiB/s" is 10240, "10Mb/s" is 1310720 (10 MiB of bits, divided by 8),
//     "1.5MB/s" is 1572864.
//
// Prefixes are binary with or without the "i" (K is 1024), as in the AWS CLI.
// Spaces around the value and between the number and the unit are allowed.
// A fractional result is rounded down to whole bytes. The rate must be at
// least 1 byte per second; zero, negative and malformed values are errors
// wrapping [ErrInvalidRate] that say what was expected.
func ParseRate(s string) (int64, error) {
	v, err := parseQuantity(s, true)
	if err != nil {
		return 0, fmt.Errorf("%w %q: %s", ErrInvalidRate, s, err.Error())
	}
	if v < 1 {
		return 0, fmt.Errorf("%w %q: must be at least 1 byte per second; "+
			"leave the limit unset for no limit", ErrInvalidRate, s)
	}
	return v, nil
}

// ParseSize parses a size in bytes with the same numbers and prefixes as
// [ParseRate], without "/s" and without bits: "1048576", "5MB", "5MiB",
// "5M" and "1.5GiB" are all accepted. Zero is allowed; negative and
// malformed values are errors wrapping [ErrInvalidSize].
func ParseSize(s string) (int64, error) {
	v, err := parseQuantity(s, false)
	if err != nil {
		return 0, fmt.Errorf("%w %q: %s", ErrInvalidSize, s, err.Error())
	}
	return v, nil
}

// parseQuantity parses a rate (perSecond) or a size and returns whole bytes.
// Its errors are bare reasons, for the callers to prefix.
func parseQuantity(s string, perSecond bool) (int64, error) {
	expected := sizeExpected
	if perSecond {
		expected = rateExpected
	}
	str := strings.TrimSpace(s)
	if str == "" {
		return 0, errors.New("empty; " + expected)
	}
	if len(str) > maxQuantityLen {
		return 0, fmt.Errorf("longer than %d characters; %s", maxQuantityLen, expected)
	}
	if str[0] == '-' {
		if perSecond {
			return 0, errors.New("must be greater than zero")
		}
		return 0, errors.New("must not be negative")
	}
	if isDigits(str) {
		v, err := strconv.ParseInt(str, 10, 64)
		if err != nil {
			return 0, errors.New("too large")
		}
		return v, nil
	}

	unit := str
	bitsPerUnit := int64(1)
	if perSecond {
		var ok bool
		if unit, ok = strings.CutSuffix(unit, "/s"); !ok {
			return 0, errors.New(expected)
		}
		switch {
		case strings.HasSuffix(unit, "B"):
		case strings.HasSuffix(unit, "b"):
			bitsPerUnit = 8
		default:
			return 0, errors.New("the unit must end in B/s (bytes) or b/s (bits); " + expected)
		}
		unit = unit[:len(unit)-1]
	} else {
		unit = strings.TrimSuffix(unit, "B")
	}
	iec := false
	if n := len(unit); n > 0 && (unit[n-1] == 'i' || unit[n-1] == 'I') {
		iec = true
		unit = unit[:n-1]
	}
	multiplier := int64(1)
	if n := len(unit); n > 0 {
		if m, ok := prefixMultiplier(unit[n-1]); ok {
			multiplier = m
			unit = unit[:n-1]
		} else if iec {
			return 0, errors.New("\"i\" must follow a prefix K, M, G or T; " + expected)
		}
	}
	number := strings.TrimSpace(unit)
	if !isDecimal(number) {
		return 0, errors.New(expected)
	}
	// Exact arithmetic: the number is validated above, so SetString succeeds.
	q, _ := new(big.Rat).SetString(number)
	q.Mul(q, new(big.Rat).SetInt64(multiplier))
	q.Quo(q, new(big.Rat).SetInt64(bitsPerUnit))
	whole := new(big.Int).Quo(q.Num(), q.Denom())
	if !whole.IsInt64() {
		return 0, errors.New("too large")
	}
	return whole.Int64(), nil
}

// prefixMultiplier returns the binary multiplier of a prefix letter.
func prefixMultiplier(c byte) (int64, bool) {
	switch c {
	case 'k', 'K':
		return 1 << 10, true
	case 'm', 'M':
		return 1 << 20, true
	case 'g', 'G':
		return 1 << 30, true
	case 't', 'T':
		return 1 << 40, true
	}
	return 0, false
}

// isDigits reports whether s is one or more ASCII digits, with an optional
// leading plus sign.
func isDigits(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isDecimal reports whether s is digits with an optional fractional part:
// "10", "1.5", "0.25", "+2" (not ".5", "5." or "1e3").
func isDecimal(s string) bool {
	whole, frac, hasDot := strings.Cut(s, ".")
	if !isDigits(whole) {
		return false
	}
	return !hasDot || (frac != "" && isDigits(frac) && frac[0] != '+')
}
