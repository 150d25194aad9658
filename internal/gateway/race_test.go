//go:build race

package gateway

// raceEnabled: the race detector is on. sync.Pool then drops objects at
// random, so allocation counts are higher.
const raceEnabled = true
