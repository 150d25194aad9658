package fleet

// Kill stops f as kill -9 would: no more rounds, nothing given back, the
// connections closed.
func Kill(f *Fleet) {
	f.roundMu.Lock()
	f.closed = true
	f.roundMu.Unlock()
	f.releaseOnce.Do(func() {})
	_ = f.rdb.Close()
}
