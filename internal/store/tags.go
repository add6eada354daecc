package store

import (
	"time"

	"github.com/spoor-dev/spoor/internal/attrib"
	"github.com/spoor-dev/spoor/internal/model"
)

// TagStore keeps attribution: tags from named, versioned lists (with their
// listing history), the lists' versions and ActorPack actors (issue 5).
type TagStore interface {
	// ImportTags applies one parsed list version atomically: the tags it
	// adds, changes, relists and retires (see attrib.Diff), its actors and
	// the list's version record are one batch; on error nothing is written.
	// Importing content identical to the list's latest version writes
	// nothing. now stamps added_at.
	ImportTags(b *attrib.Batch, now time.Time) (attrib.Result, error)
	// Tags returns every tag (active and retired) of a subject, ordered by
	// list.
	Tags(s attrib.Subject) ([]attrib.Tag, error)
	// TagsOf returns the tags of many addresses of one chain (for an
	// entity's attribution, see attrib.Combine).
	TagsOf(c model.Chain, addrs [][]byte) ([]attrib.Tag, error)
	// ListTags calls fn for every tag of a list ("" = all lists), in key
	// order. fn must not keep the tag's slices past the call.
	ListTags(list string, fn func(*attrib.Tag) error) error
	// TagLists returns every list with its versions, sorted by name.
	TagLists() ([]attrib.ListInfo, error)
	// TagList returns one list (ErrNotFound).
	TagList(name string) (*attrib.ListInfo, error)
	// Actor returns an ActorPack actor by id (ErrNotFound).
	Actor(id string) (*attrib.Actor, error)
	// ActorCount returns how many actors are stored.
	ActorCount() (int, error)
}
