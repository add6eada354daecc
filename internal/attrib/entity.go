package attrib

import (
	"fmt"
	"sort"
	"strings"
)

// ownership classes say who controls an address; an address (or a cluster)
// has one owner, so two different ones are a conflict. Every other class
// (sanctions, terrorism, scam, …) says what the funds or owner did and may
// stack with an owner: a sanctioned exchange is both.
var ownership = map[string]bool{
	"exchange": true, "mixing_service": true, "payment_processor": true, "gambling": true,
	"darknet_market": true, "bridge": true, "swap_service": true, "service": true, "miner": true,
	"market": true, "wallet_service": true, "defi": true, "defi_bridge": true, "defi_dex": true,
	"defi_lending": true, "shop": true, "user": true, "organization": true,
}

// IsOwnership reports whether a taxonomy class names who controls an address.
func IsOwnership(class string) bool { return ownership[class] }

// Claim is one distinct statement about an entity, merged over the tags
// that make it: the same class and owner (actor, else label).
type Claim struct {
	Class     string   `json:"class"`
	Owner     string   `json:"owner"`
	Score     int      `json:"score"` // the highest confidence score among its tags
	Addresses int      `json:"addresses"`
	Tags      int      `json:"tags"`
	Lists     []string `json:"lists"`
}

// Conflict is a disagreement between claims, shown to the analyst and never
// resolved by spoor.
type Conflict struct {
	Kind   string  `json:"kind"` // owner | category
	Reason string  `json:"reason"`
	Claims []Claim `json:"claims"`
}

// Attribution is an entity's attribution derived from its addresses' tags.
type Attribution struct {
	// Owner is set only when the ownership claims agree (else empty and a
	// conflict says why).
	Owner      string     `json:"owner,omitempty"`
	OwnerClass string     `json:"owner_class,omitempty"`
	Claims     []Claim    `json:"claims"` // highest score first
	Conflicts  []Conflict `json:"conflicts,omitempty"`
	Addresses  int        `json:"addresses"` // addresses with at least one tag counted
}

// Combine derives an entity's attribution from the tags of its addresses
// (all tags of all addresses, in any order). Only tags listed at date at
// count (at == "" means currently active). Claims with the same class and
// owner merge, keeping the best score; conflicts are listed:
//   - owner: ownership claims name different owners;
//   - category: one owner is given different ownership classes.
func Combine(tags []Tag, at string) Attribution {
	type acc struct {
		c     Claim
		addrs map[string]bool
		lists map[string]bool
	}
	claims := map[string]*acc{}
	addrs := map[string]bool{}
	for i := range tags {
		t := &tags[i]
		if at == "" && !t.Active() || at != "" && !t.ListedAt(at) {
			continue
		}
		owner := t.Actor
		if owner == "" {
			owner = t.Label
		}
		owner = strings.ToLower(strings.TrimSpace(owner))
		k := t.Class() + "\x00" + owner
		a := claims[k]
		if a == nil {
			a = &acc{c: Claim{Class: t.Class(), Owner: owner}, addrs: map[string]bool{}, lists: map[string]bool{}}
			claims[k] = a
		}
		sk := fmt.Sprintf("%d:%x", t.Subject.Chain, t.Subject.Bytes)
		a.addrs[sk] = true
		addrs[sk] = true
		a.lists[t.List] = true
		a.c.Tags++
		if s := t.Score(); s > a.c.Score {
			a.c.Score = s
		}
	}
	var out Attribution
	out.Addresses = len(addrs)
	for _, a := range claims {
		a.c.Addresses = len(a.addrs)
		for l := range a.lists {
			a.c.Lists = append(a.c.Lists, l)
		}
		sort.Strings(a.c.Lists)
		out.Claims = append(out.Claims, a.c)
	}
	sort.Slice(out.Claims, func(i, j int) bool {
		x, y := out.Claims[i], out.Claims[j]
		if x.Score != y.Score {
			return x.Score > y.Score
		}
		if x.Addresses != y.Addresses {
			return x.Addresses > y.Addresses
		}
		if x.Class != y.Class {
			return x.Class < y.Class
		}
		return x.Owner < y.Owner
	})
	var own []Claim
	byOwner := map[string][]Claim{}
	for _, c := range out.Claims {
		if ownership[c.Class] {
			own = append(own, c)
			byOwner[c.Owner] = append(byOwner[c.Owner], c)
		}
	}
	if len(byOwner) > 1 {
		names := make([]string, 0, len(byOwner))
		for o := range byOwner {
			names = append(names, o)
		}
		sort.Strings(names)
		out.Conflicts = append(out.Conflicts, Conflict{Kind: "owner",
			Reason: fmt.Sprintf("%d different owners claimed: %s", len(names), strings.Join(names, ", ")), Claims: own})
	}
	owners := make([]string, 0, len(byOwner))
	for o := range byOwner {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	for _, o := range owners {
		cs := byOwner[o]
		if len(cs) > 1 {
			classes := make([]string, len(cs))
			for i, c := range cs {
				classes[i] = c.Class
			}
			out.Conflicts = append(out.Conflicts, Conflict{Kind: "category",
				Reason: fmt.Sprintf("owner %q is given %d classes: %s", o, len(cs), strings.Join(classes, ", ")), Claims: cs})
		}
	}
	if len(out.Conflicts) == 0 && len(own) == 1 {
		out.Owner, out.OwnerClass = own[0].Owner, own[0].Class
	}
	return out
}
