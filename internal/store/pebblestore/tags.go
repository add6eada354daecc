package pebblestore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/spoor-dev/spoor/internal/attrib"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// Attribution lives under four table bytes of its own (chain data uses
// m b o x t u s d i a g k K, prices p, facts f):
//
//	T c kind len1 subject list 0 currency 0 label → tag (JSON)
//	R list 0 c kind len1 subject currency 0 label  → empty: the list's members
//	L list                                         → list info (JSON: versions)
//	A actorid                                      → actor (JSON)
//
// T keys group a subject's tags (one range scan per address); R keys group
// a list's tags (for retiring the entries a new version no longer carries).
// Values are JSON: attribution records are few (thousands to a few million)
// and their fields grow with new list formats.
const (
	tTag     = 'T'
	tTagList = 'R'
	tList    = 'L'
	tActor   = 'A'
)

func tagSubjectPrefix(s attrib.Subject) []byte {
	k := []byte{tTag, byte(s.Chain), byte(s.Kind), byte(len(s.Bytes))}
	return append(k, s.Bytes...)
}

func tagIdent(t *attrib.Tag) []byte {
	k := append([]byte(t.Currency), 0)
	return append(k, t.Label...)
}

func tagKey(t *attrib.Tag) []byte {
	k := append(tagSubjectPrefix(t.Subject), t.List...)
	k = append(k, 0)
	return append(k, tagIdent(t)...)
}

func tagListPrefix(list string) []byte {
	return append(append([]byte{tTagList}, list...), 0)
}

func tagListKey(t *attrib.Tag) []byte {
	k := append(tagListPrefix(t.List), byte(t.Subject.Chain), byte(t.Subject.Kind), byte(len(t.Subject.Bytes)))
	k = append(k, t.Subject.Bytes...)
	return append(k, tagIdent(t)...)
}

// tagKeyFromList turns an R key into its T key.
func tagKeyFromList(list string, rk []byte) ([]byte, error) {
	rest := rk[len(list)+2:]
	if len(rest) < 3 || len(rest) < 3+int(rest[2]) {
		return nil, fmt.Errorf("%w: tag list key", errCorrupt)
	}
	n := int(rest[2])
	k := []byte{tTag, rest[0], rest[1], rest[2]}
	k = append(k, rest[3:3+n]...)
	k = append(k, list...)
	k = append(k, 0)
	return append(k, rest[3+n:]...), nil
}

func decodeTag(k, v []byte) (attrib.Tag, error) {
	var t attrib.Tag
	if len(k) < 4 || len(k) < 4+int(k[3]) {
		return t, fmt.Errorf("%w: tag key", errCorrupt)
	}
	if err := json.Unmarshal(v, &t); err != nil {
		return t, fmt.Errorf("%w: tag record: %v", errCorrupt, err)
	}
	t.Subject = attrib.Subject{Chain: model.Chain(k[1]), Kind: attrib.SubjectKind(k[2]),
		Bytes: append([]byte(nil), k[4:4+int(k[3])]...)}
	return t, nil
}

func checkTag(t *attrib.Tag) error {
	switch {
	case t.List == "" || strings.ContainsRune(t.List, 0):
		return fmt.Errorf("tag list name %q: empty or contains NUL", t.List)
	case strings.ContainsRune(t.Currency, 0) || strings.ContainsRune(t.Label, 0):
		return fmt.Errorf("tag %q: NUL in currency or label", t.Label)
	case len(t.Subject.Bytes) == 0 || len(t.Subject.Bytes) > 255:
		return fmt.Errorf("tag %q: subject of %d bytes", t.Label, len(t.Subject.Bytes))
	case t.Subject.Kind != attrib.SubjectAddress && t.Subject.Kind != attrib.SubjectTx:
		return fmt.Errorf("tag %q: subject kind %d", t.Label, t.Subject.Kind)
	}
	return nil
}

// ImportTags implements store.TagStore.
func (s *Store) ImportTags(b *attrib.Batch, now time.Time) (attrib.Result, error) {
	if b.List == "" || strings.ContainsRune(b.List, 0) {
		return attrib.Result{}, fmt.Errorf("pebblestore: list name %q: empty or contains NUL", b.List)
	}
	for i := range b.Tags {
		b.Tags[i].List = b.List
		if err := checkTag(&b.Tags[i]); err != nil {
			return attrib.Result{}, fmt.Errorf("pebblestore: import %s: %v", b.File, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	info, err := s.TagList(b.List)
	if errors.Is(err, store.ErrNotFound) {
		info, err = nil, nil
	}
	if err != nil {
		return attrib.Result{}, err
	}
	var existing []attrib.Tag
	if err := s.ListTags(b.List, func(t *attrib.Tag) error {
		existing = append(existing, *t)
		return nil
	}); err != nil {
		return attrib.Result{}, err
	}
	put, newInfo, res, err := attrib.Diff(info, existing, b, now)
	if err != nil || res.NoOp {
		return res, err
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	for i := range put {
		t := &put[i]
		v, err := json.Marshal(t)
		if err != nil {
			return res, err
		}
		if err := batch.Set(tagKey(t), v, nil); err != nil {
			return res, err
		}
		if err := batch.Set(tagListKey(t), nil, nil); err != nil {
			return res, err
		}
	}
	for i := range b.Actors {
		a := &b.Actors[i]
		v, err := json.Marshal(a)
		if err != nil {
			return res, err
		}
		if err := batch.Set(append([]byte{tActor}, a.ID...), v, nil); err != nil {
			return res, err
		}
	}
	v, err := json.Marshal(newInfo)
	if err != nil {
		return res, err
	}
	if err := batch.Set(append([]byte{tList}, b.List...), v, nil); err != nil {
		return res, err
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return attrib.Result{}, fmt.Errorf("pebblestore: import %s: %w", b.File, err)
	}
	return res, nil
}

// Tags implements store.TagStore.
func (s *Store) Tags(subj attrib.Subject) ([]attrib.Tag, error) {
	lo := tagSubjectPrefix(subj)
	var out []attrib.Tag
	err := scan(s.db, lo, prefixUpper(lo), func(k, v []byte) error {
		t, err := decodeTag(k, v)
		if err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// TagsOf implements store.TagStore.
func (s *Store) TagsOf(c model.Chain, addrs [][]byte) ([]attrib.Tag, error) {
	var out []attrib.Tag
	for _, a := range addrs {
		ts, err := s.Tags(attrib.Subject{Chain: c, Kind: attrib.SubjectAddress, Bytes: a})
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

// ListTags implements store.TagStore.
func (s *Store) ListTags(list string, fn func(*attrib.Tag) error) error {
	if list == "" {
		return scan(s.db, []byte{tTag}, []byte{tTag + 1}, func(k, v []byte) error {
			t, err := decodeTag(k, v)
			if err != nil {
				return err
			}
			return fn(&t)
		})
	}
	lo := tagListPrefix(list)
	var keys [][]byte
	if err := scan(s.db, lo, prefixUpper(lo), func(k, _ []byte) error {
		tk, err := tagKeyFromList(list, k)
		if err != nil {
			return err
		}
		keys = append(keys, tk)
		return nil
	}); err != nil {
		return err
	}
	for _, k := range keys {
		v, err := s.get(k)
		if err != nil {
			return fmt.Errorf("%w: list %s member without tag: %v", errCorrupt, list, err)
		}
		t, err := decodeTag(k, v)
		if err != nil {
			return err
		}
		if err := fn(&t); err != nil {
			return err
		}
	}
	return nil
}

// TagLists implements store.TagStore.
func (s *Store) TagLists() ([]attrib.ListInfo, error) {
	var out []attrib.ListInfo
	err := scan(s.db, []byte{tList}, []byte{tList + 1}, func(k, v []byte) error {
		var l attrib.ListInfo
		if err := json.Unmarshal(v, &l); err != nil {
			return fmt.Errorf("%w: list %q: %v", errCorrupt, k[1:], err)
		}
		out = append(out, l)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// TagList implements store.TagStore.
func (s *Store) TagList(name string) (*attrib.ListInfo, error) {
	v, err := s.get(append([]byte{tList}, name...))
	if err != nil {
		return nil, err
	}
	var l attrib.ListInfo
	if err := json.Unmarshal(v, &l); err != nil {
		return nil, fmt.Errorf("%w: list %q: %v", errCorrupt, name, err)
	}
	return &l, nil
}

// Actor implements store.TagStore.
func (s *Store) Actor(id string) (*attrib.Actor, error) {
	v, err := s.get(append([]byte{tActor}, id...))
	if err != nil {
		return nil, err
	}
	var a attrib.Actor
	if err := json.Unmarshal(v, &a); err != nil {
		return nil, fmt.Errorf("%w: actor %q: %v", errCorrupt, id, err)
	}
	return &a, nil
}

// ActorCount implements store.TagStore.
func (s *Store) ActorCount() (int, error) {
	n := 0
	err := scan(s.db, []byte{tActor}, []byte{tActor + 1}, func(_, _ []byte) error { n++; return nil })
	return n, err
}

// tagSnapshot returns every attribution key and value (tests: a failed or
// repeated import must leave these bytes unchanged).
func (s *Store) tagSnapshot() (map[string]string, error) {
	out := map[string]string{}
	for _, t := range []byte{tActor, tList, tTagList, tTag} {
		if err := scan(s.db, []byte{t}, []byte{t + 1}, func(k, v []byte) error {
			out[string(k)] = string(bytes.Clone(v))
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}
