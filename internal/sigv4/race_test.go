//go:build race

package sigv4

// raceEnabled: the race detector is on. sync.Pool then drops objects at
// random, so allocation counts are higher.
const raceEnabled = true
