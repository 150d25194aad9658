package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Names of the top-level bbolt buckets.
const (
	bucketsTable = "buckets" // bucket name → bucketRecord
	objectsTable = "objects" // nested per bucket: key → objectRecord
	uploadsTable = "uploads" // nested per bucket: key NUL uploadID → uploadRecord
	partsTable   = "parts"   // uploadID + uint32 part number → partRecord
	inlineTable  = "inline"  // data id → data of an inline segment
)

// Limits Amazon S3 applies and the store enforces.
const (
	maxKeyLength     = 1024    // bytes of an object key
	maxPutSize       = 5 << 30 // bytes of a PutObject body, a part, or a CopyObject source
	minPartSize      = 5 << 20 // bytes of every multipart part but the last
	maxPartNumber    = 10000
	maxListKeys      = 1000 // cap of max-keys, max-parts, max-uploads
	copyBufferSize   = 256 << 10
	metaDBName       = "meta.db"
	dataDirName      = "data"
	tmpDirName       = "tmp"
	dbLockWaitPeriod = time.Second
)

// inlineMax is the largest object, in bytes, whose data is kept in the
// metadata database rather than in a file of its own (see the package
// documentation, "Small objects inline").
const inlineMax = 16 << 10

// Options configures a Store. The zero value is ready for production use.
type Options struct {
	// Now returns the current time, used for Last-Modified and upload
	// initiation times. nil means time.Now.
	Now func() time.Time
	// NoSync skips fsync of data files, directories and the metadata
	// database. Writes are faster and a crash of the process stays safe,
	// but a crash of the machine may lose acknowledged objects. For tests
	// and benchmarks.
	NoSync bool
	// Region is returned by GetBucketLocation and HeadBucket. "" means
	// us-east-1.
	Region string
	// OwnerID and OwnerName are the owner shown in listings. "" means
	// "s3limit" for both.
	OwnerID, OwnerName string
}

// Store is an object store in one directory. It is safe for concurrent
// use; one directory can be open by one Store at a time (Open fails while
// another process holds it).
type Store struct {
	db      *bolt.DB
	commits *committer
	dataDir string
	tmpDir  string
	now     func() time.Time
	noSync  bool
	region  string
	owner   owner

	// minPartSize is the smallest size of every part but the last;
	// tests lower it.
	minPartSize int64
	// inlineMax is the largest object kept inline, in bytes; negative
	// keeps none. Open sets the package's inlineMax; tests change it.
	inlineMax int64
	// hook, when set, runs at each step of the write path; an error
	// aborts the write as a failure at that step would. Tests use it to
	// inject failures and crashes; it is nil in production.
	hook func(step string) error

	bufs sync.Pool // *[]byte of copyBufferSize

	pinMu    sync.Mutex
	pins     map[string]int      // guarded by pinMu: data id → readers
	doomed   map[string]struct{} // guarded by pinMu: unreferenced, pinned ids
	releases uint64              // guarded by pinMu: count of release calls
}

// Steps of the write path passed to the test hook.
const (
	stepTempCreated = "temp-created" // temporary file exists, nothing written
	stepCopied      = "copied"       // body written and verified, not synced
	stepSynced      = "synced"       // temporary file synced
	stepRenamed     = "renamed"      // data file in place, metadata not committed
	stepCommitted   = "committed"    // metadata committed, replaced files not yet removed
)

var _ http.Handler = (*Store)(nil)

// Open opens or creates the store in dir. It removes temporary files and
// data files no metadata refers to (left by a crash) before returning.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("store: no directory given")
	}
	s := &Store{
		dataDir:     filepath.Join(dir, dataDirName),
		tmpDir:      filepath.Join(dir, tmpDirName),
		now:         opts.Now,
		noSync:      opts.NoSync,
		region:      opts.Region,
		owner:       owner{ID: opts.OwnerID, DisplayName: opts.OwnerName},
		minPartSize: minPartSize,
		inlineMax:   inlineMax,
		pins:        make(map[string]int),
		doomed:      make(map[string]struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.region == "" {
		s.region = "us-east-1"
	}
	if s.owner.ID == "" {
		s.owner.ID = "s3limit"
	}
	if s.owner.DisplayName == "" {
		s.owner.DisplayName = "s3limit"
	}
	s.bufs.New = func() any { b := make([]byte, copyBufferSize); return &b }

	for _, d := range []string{s.tmpDir, s.dataDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	db, err := bolt.Open(filepath.Join(dir, metaDBName), 0o600, &bolt.Options{
		Timeout: dbLockWaitPeriod,
		NoSync:  opts.NoSync,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store: %s is in use by another process", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open metadata: %w", err)
	}
	s.db = db
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range []string{bucketsTable, objectsTable, uploadsTable, partsTable, inlineTable} {
			if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = s.removeOrphans()
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	s.commits = newCommitter(db)
	return s, nil
}

// Close commits the writes already queued and closes the metadata
// database. Requests in flight fail.
func (s *Store) Close() error {
	s.commits.close()
	return s.db.Close()
}

// removeOrphans deletes every temporary file and every data file that no
// object or part record refers to.
func (s *Store) removeOrphans() error {
	entries, err := os.ReadDir(s.tmpDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(s.tmpDir, e.Name())); err != nil {
			return err
		}
	}
	used := make(map[string]struct{})
	err = s.db.View(func(tx *bolt.Tx) error {
		err := tx.Bucket([]byte(objectsTable)).ForEachBucket(func(name []byte) error {
			return tx.Bucket([]byte(objectsTable)).Bucket(name).ForEach(func(_, v []byte) error {
				var rec objectRecord
				if err := decode(v, &rec); err != nil {
					return err
				}
				for _, seg := range rec.Segments {
					used[seg.ID] = struct{}{}
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		return tx.Bucket([]byte(partsTable)).ForEach(func(_, v []byte) error {
			var rec partRecord
			if err := decode(v, &rec); err != nil {
				return err
			}
			used[rec.ID] = struct{}{}
			return nil
		})
	})
	if err != nil {
		return err
	}
	return filepath.WalkDir(s.dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if _, ok := used[d.Name()]; !ok {
			return os.Remove(path)
		}
		return nil
	})
}

// newID returns a random 128-bit id in hex, used for data files.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// dataPath is the file that holds the data with the given id.
func (s *Store) dataPath(id string) string {
	return filepath.Join(s.dataDir, id[:2], id)
}

// step runs the test hook, if any.
func (s *Store) step(name string) error {
	if s.hook == nil {
		return nil
	}
	return s.hook(name)
}
