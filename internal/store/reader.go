package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// Object is an object opened for reading. Its data stays readable, even
// if the object is overwritten or deleted meanwhile, until Close.
type Object struct {
	Info ObjectInfo

	s         *Store
	ids       []string  // pinned data files
	inline    [][]byte  // per segment of Info: a copy of its inline data, or nil
	copies    []*[]byte // the buffers of inline, from inlineCopies
	closeOnce sync.Once
}

// inlineCopies recycles the buffers inline data is copied into when an
// object is opened (it lives in the database's memory map only as long
// as the read transaction): Close returns them, so a small GET leaves no
// copy of the object behind for the garbage collector.
var inlineCopies sync.Pool

// copyInline copies v into a buffer from inlineCopies.
func copyInline(v []byte) *[]byte {
	b, _ := inlineCopies.Get().(*[]byte)
	if b == nil || cap(*b) < len(v) {
		nb := make([]byte, len(v), max(len(v), 4<<10))
		b = &nb
	}
	*b = append((*b)[:0], v...)
	return b
}

// OpenObject opens an object for reading.
func (s *Store) OpenObject(bucket, key string) (*Object, error) {
	for {
		since := s.releaseCount()
		oi, inline, copies, err := s.lookupObject(bucket, key)
		if err != nil {
			return nil, err
		}
		ids := segmentIDs(oi.segs)
		if ids == nil { // all inline, copied in the lookup: nothing to pin
			return &Object{Info: oi, s: s, inline: inline, copies: copies}, nil
		}
		if s.pin(ids, since) {
			return &Object{Info: oi, s: s, ids: ids, inline: inline, copies: copies}, nil
		}
		// A release happened since the lookup: the files are safe only if
		// the object still refers to them.
		again, err := s.StatObject(bucket, key)
		if err == nil && sameSegments(again.segs, oi.segs) {
			return &Object{Info: again, s: s, ids: ids, inline: inline, copies: copies}, nil
		}
		s.unpin(ids)
		putInline(copies)
		if err != nil {
			return nil, err
		}
	}
}

// lookupObject is StatObject that also copies the object's inline data
// (nil when it has none), read in the same transaction, into buffers from
// inlineCopies (returned by putInline).
func (s *Store) lookupObject(bucket, key string) (ObjectInfo, [][]byte, []*[]byte, error) {
	var oi ObjectInfo
	var inline [][]byte
	var copies []*[]byte
	err := s.db.View(func(tx *bolt.Tx) error {
		putInline(copies) // a retried transaction starts over
		inline, copies = nil, nil
		b, err := objectsOf(tx, bucket)
		if err != nil {
			return err
		}
		rec, err := getObject(b, key)
		if err != nil {
			return err
		}
		oi = rec.info(bucket, key)
		for i, seg := range rec.Segments {
			if !seg.Inline {
				continue
			}
			v := tx.Bucket([]byte(inlineTable)).Get([]byte(seg.ID))
			if int64(len(v)) != seg.Size {
				return errShortData
			}
			if inline == nil {
				inline = make([][]byte, len(rec.Segments))
			}
			c := copyInline(v) // v lives only as long as tx
			copies = append(copies, c)
			inline[i] = *c
		}
		return nil
	})
	if err != nil {
		putInline(copies)
		return oi, nil, nil, err
	}
	return oi, inline, copies, nil
}

// putInline returns buffers of copyInline for reuse.
func putInline(copies []*[]byte) {
	for _, c := range copies {
		if cap(*c) <= 64<<10 {
			inlineCopies.Put(c)
		}
	}
}

// Close releases the object's data. It is safe to call more than once.
func (o *Object) Close() error {
	o.closeOnce.Do(func() {
		if o.ids != nil {
			o.s.unpin(o.ids)
		}
		// The readers were closed first: nothing reads the copies now.
		putInline(o.copies)
		o.inline, o.copies = nil, nil
	})
	return nil
}

// NewReader returns a reader of length bytes of the object from offset
// off. The range must lie within the object. Close the reader, then the
// Object.
func (o *Object) NewReader(off, length int64) io.ReadCloser {
	return &segReader{s: o.s, segs: o.Info.segs, inline: o.inline, skip: off, left: length}
}

// Read-ahead advice for data files (adviseSequential): ranges of at
// least readAheadMin bytes get it, and the first readAhead bytes of the
// range are fetched in the background as the file is opened. Smaller
// reads are served in one or two system calls; advice would only add
// some.
const (
	readAheadMin = 1 << 20
	readAhead    = 8 << 20
)

// errShortData means a data file is shorter than its record says.
var errShortData = errors.New("store: data file shorter than its record")

// segReader reads a range across an object's data files, opening one
// file at a time.
type segReader struct {
	s      *Store
	segs   []segment
	inline [][]byte // per segment: its inline data, or nil
	i      int      // next segment to open
	skip   int64    // bytes to skip before the range starts
	left   int64    // bytes of the range not yet read
	cur    *io.LimitedReader
	f      *os.File // the current segment's file; nil for inline data
	data   []byte   // the current segment's inline data from the range start
}

// open opens the segment holding the next byte of the range.
func (r *segReader) open() error {
	for r.i < len(r.segs) && r.skip >= r.segs[r.i].Size {
		r.skip -= r.segs[r.i].Size
		r.i++
	}
	if r.i == len(r.segs) {
		return errShortData
	}
	seg := r.segs[r.i]
	r.i++
	if seg.Inline {
		data := r.inline[r.i-1]
		n := min(seg.Size-r.skip, r.left)
		r.data = data[r.skip : r.skip+n]
		r.cur = &io.LimitedReader{R: bytes.NewReader(r.data), N: n}
		r.skip = 0
		return nil
	}
	f, err := os.Open(r.s.dataPath(seg.ID))
	if err != nil {
		return fmt.Errorf("store: open data: %w", err)
	}
	if r.skip > 0 {
		if _, err := f.Seek(r.skip, io.SeekStart); err != nil {
			f.Close()
			return fmt.Errorf("store: %w", err)
		}
	}
	r.f = f
	r.cur = &io.LimitedReader{R: f, N: min(seg.Size-r.skip, r.left)}
	if r.cur.N >= readAheadMin {
		adviseSequential(f, r.skip, r.cur.N)
	}
	r.skip = 0
	return nil
}

// done closes the current file after its part of the range was read.
func (r *segReader) done() error {
	short := r.cur.N > 0
	if r.f != nil {
		r.f.Close()
	}
	r.f, r.cur, r.data = nil, nil, nil
	if short {
		return errShortData
	}
	return nil
}

func (r *segReader) Read(p []byte) (int, error) {
	for {
		if r.left == 0 {
			return 0, io.EOF
		}
		if r.cur == nil {
			if err := r.open(); err != nil {
				return 0, err
			}
		}
		n, err := r.cur.Read(p)
		r.left -= int64(n)
		if r.cur.N == 0 || err == io.EOF {
			if err := r.done(); err != nil {
				return n, err
			}
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

// WriteTo copies the range file by file, so that an *os.File reaches
// w's ReadFrom (sendfile for a network connection).
func (r *segReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.left > 0 {
		if r.cur == nil {
			if err := r.open(); err != nil {
				return total, err
			}
		}
		var n int64
		var err error
		if r.f == nil { // inline data: one write, no copy buffer
			var m int
			m, err = w.Write(r.data)
			n = int64(m)
			r.cur.N -= n
		} else {
			n, err = io.Copy(w, r.cur)
		}
		total += n
		r.left -= n
		if err != nil {
			return total, err
		}
		if err := r.done(); err != nil {
			return total, err
		}
	}
	return total, nil
}

func (r *segReader) Close() error {
	if r.f != nil {
		r.f.Close()
		r.f, r.cur = nil, nil
	}
	return nil
}
