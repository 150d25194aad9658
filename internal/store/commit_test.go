package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"

	bolt "go.etcd.io/bbolt"
)

// openCommitter opens a bbolt database with one bucket "t" and a
// committer on it.
func openCommitter(t *testing.T) (*bolt.DB, *committer) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "c.db"), 0o600, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("t"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return db, newCommitter(db)
}

// put is a change that sets key to val.
func put(key, val string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error { return tx.Bucket([]byte("t")).Put([]byte(key), []byte(val)) }
}

func get(t *testing.T, db *bolt.DB, key string) string {
	t.Helper()
	var v []byte
	db.View(func(tx *bolt.Tx) error {
		v = tx.Bucket([]byte("t")).Get([]byte(key))
		return nil
	})
	return string(v)
}

// TestCommitterBatchesAndIsolatesFailures holds the committer in a
// transaction while more changes queue, so that they commit together:
// the failing one in the middle must leave no trace and get its own
// error, the others must all be applied, in queue order.
func TestCommitterBatchesAndIsolatesFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		db, c := openCommitter(t)
		defer c.close()
		hold, held := make(chan struct{}), make(chan struct{})
		var runs sync.Map // key → times its change ran
		count := func(key string) {
			n, _ := runs.LoadOrStore(key, new(int))
			*n.(*int)++ // only the committer goroutine runs changes
		}
		first := make(chan error, 1)
		go func() {
			first <- c.update(func(tx *bolt.Tx) error {
				count("first")
				if _, ok := runs.Load("held"); !ok {
					runs.Store("held", true)
					close(held)
					<-hold
				}
				return put("first", "1")(tx)
			})
		}()
		<-held
		injected := errors.New("injected")
		errs := make([]error, 5)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				errs[i] = c.update(func(tx *bolt.Tx) error {
					key := fmt.Sprint("k", i)
					count(key)
					if err := put(key, "v")(tx); err != nil {
						return err
					}
					if err := put("last", key)(tx); err != nil {
						return err
					}
					if i == 2 {
						return injected // after writing: must be rolled back
					}
					return nil
				})
			})
			synctest.Wait() // queued in order 0..4
		}
		close(hold)
		wg.Wait()
		if err := <-first; err != nil {
			t.Fatalf("first change: %v", err)
		}
		for i, err := range errs {
			want := error(nil)
			if i == 2 {
				want = injected
			}
			if !errors.Is(err, want) {
				t.Errorf("change %d: %v, want %v", i, err, want)
			}
			got, wantVal := get(t, db, fmt.Sprint("k", i)), "v"
			if i == 2 {
				wantVal = ""
			}
			if got != wantVal {
				t.Errorf("k%d = %q, want %q", i, got, wantVal)
			}
		}
		if got := get(t, db, "last"); got != "k4" {
			t.Errorf("last = %q, want k4 (changes applied out of queue order)", got)
		}
		// The five queued changes shared a transaction: those before the
		// failed one ran twice, the failed one and those after once.
		for key, want := range map[string]int{"k0": 2, "k1": 2, "k2": 1, "k3": 1, "k4": 1} {
			n, _ := runs.Load(key)
			if got := *n.(*int); got != want {
				t.Errorf("change %s ran %d times, want %d", key, got, want)
			}
		}
	})
}

func TestCommitterConcurrentUpdatesAllCommit(t *testing.T) {
	db, c := openCommitter(t)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if err := c.update(put(fmt.Sprint(w, "-", i), "x")); err != nil {
					t.Errorf("update: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	c.close()
	n := 0
	db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket([]byte("t")).Stats().KeyN
		return nil
	})
	if n != 8*50 {
		t.Fatalf("%d keys committed, want %d", n, 8*50)
	}
}

func TestCommitterRefusesUpdatesAfterClose(t *testing.T) {
	db, c := openCommitter(t)
	if err := c.update(put("a", "1")); err != nil {
		t.Fatal(err)
	}
	c.close()
	if err := c.update(put("b", "1")); !errors.Is(err, errClosed) {
		t.Fatalf("update after close: %v, want %v", err, errClosed)
	}
	if get(t, db, "a") != "1" || get(t, db, "b") != "" {
		t.Fatalf("a=%q b=%q after close", get(t, db, "a"), get(t, db, "b"))
	}
}
