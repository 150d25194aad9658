package store
import ("testing";"time";"os";"fmt";"path/filepath"; bolt "go.etcd.io/bbolt")
func TestOpenTiming(t *testing.T) {
	d := t.TempDir()
	st := time.Now()
	for i := range 256 { os.MkdirAll(filepath.Join(d, "data", fmt.Sprintf("%02x", i)), 0o700) }
	t.Log("mkdir", time.Since(st))
	st = time.Now()
	db, _ := bolt.Open(filepath.Join(d, "m.db"), 0o600, &bolt.Options{NoSync: true})
	t.Log("bolt", time.Since(st))
	st = time.Now()
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists([]byte("x")); return err })
	t.Log("update", time.Since(st))
	db.Close()
}
