package store

import (
	"os"
)

// Data files are removed after the commit that stops referring to them.
// A reader that looked up a record just before such a commit may still
// need its files, so readers pin the ids they use and release defers the
// removal of pinned files to the last unpin.
//
// The protocol, which needs no lock across I/O:
//  1. the reader notes the release count, then reads the record;
//  2. it pins the record's ids; if no release happened since step 1, no
//     file of the record can have been removed, and later releases will
//     see the pins;
//  3. otherwise it reads the record again: if it still names the same
//     files, they were not released (ids are never reused), else it
//     unpins and starts over.

// releaseCount returns the number of releases so far.
func (s *Store) releaseCount() uint64 {
	s.pinMu.Lock()
	defer s.pinMu.Unlock()
	return s.releases
}

// pin marks ids as in use and reports whether no release happened since
// the count since was read.
func (s *Store) pin(ids []string, since uint64) bool {
	s.pinMu.Lock()
	defer s.pinMu.Unlock()
	for _, id := range ids {
		s.pins[id]++
	}
	return s.releases == since
}

// unpin ends a use of ids and removes the files released meanwhile.
func (s *Store) unpin(ids []string) {
	var remove []string
	s.pinMu.Lock()
	for _, id := range ids {
		n := s.pins[id] - 1
		if n > 0 {
			s.pins[id] = n
			continue
		}
		delete(s.pins, id)
		if _, ok := s.doomed[id]; ok {
			delete(s.doomed, id)
			remove = append(remove, id)
		}
	}
	s.pinMu.Unlock()
	s.removeFiles(remove)
}

// release removes the files of ids, which committed metadata no longer
// refers to, or defers the removal of pinned ones to their last unpin.
func (s *Store) release(ids []string) {
	if len(ids) == 0 {
		return
	}
	remove := ids[:0:0]
	s.pinMu.Lock()
	s.releases++
	for _, id := range ids {
		if s.pins[id] > 0 {
			s.doomed[id] = struct{}{}
		} else {
			remove = append(remove, id)
		}
	}
	s.pinMu.Unlock()
	s.removeFiles(remove)
}

// removeFiles deletes data files. A failure leaves an orphan that the
// next Open removes, so errors are ignored.
func (s *Store) removeFiles(ids []string) {
	for _, id := range ids {
		_ = os.Remove(s.dataPath(id))
	}
}
