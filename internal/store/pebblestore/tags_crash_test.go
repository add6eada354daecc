package pebblestore

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/spoor-dev/spoor/internal/attrib"
	"github.com/spoor-dev/spoor/internal/sharedtest"
)

// TestTagsImportCrash kills a process importing the real NBCTF list again
// and again (under new list names) at arbitrary moments, then checks the
// store: every list that exists is whole (its record, all its tags and
// membership keys), and no tag exists without its list.
func TestTagsImportCrash(t *testing.T) {
	if os.Getenv("SPOOR_TAGS_CRASH_DIR") != "" {
		tagCrashChild(t)
		return
	}
	if testing.Short() {
		t.Skip("spawns and kills importer processes")
	}
	nb := sharedtest.Lists(t, "nbctf_il_mod_crypto_wallets_nopii.csv")
	b, err := attrib.ReadFile(nb, attrib.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := len(b.Tags)
	dir := t.TempDir()
	for round := 0; round < 6; round++ {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestTagsImportCrash$")
		cmd.Env = append(os.Environ(), "SPOOR_TAGS_CRASH_DIR="+dir, "SPOOR_TAGS_CRASH_FILE="+nb,
			fmt.Sprintf("SPOOR_TAGS_CRASH_ROUND=%d", round))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(300+round*170) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		s, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		lists, err := s.TagLists()
		if err != nil {
			t.Fatal(err)
		}
		perList := map[string]int{}
		if err := s.ListTags("", func(tg *attrib.Tag) error { perList[tg.List]++; return nil }); err != nil {
			t.Fatal(err)
		}
		for _, l := range lists {
			members := 0
			if err := s.ListTags(l.Name, func(*attrib.Tag) error { members++; return nil }); err != nil {
				t.Fatal(err)
			}
			if perList[l.Name] != want || members != want {
				t.Fatalf("round %d: list %s has %d tags, %d members, want %d", round, l.Name, perList[l.Name], members, want)
			}
			delete(perList, l.Name)
		}
		if len(perList) != 0 {
			t.Fatalf("round %d: tags without a list record: %v", round, perList)
		}
		t.Logf("round %d: %d whole lists after the kill", round, len(lists))
		s.Close()
	}
}

// crashChild imports the file under list names r<round>-<i> until killed.
func tagCrashChild(t *testing.T) {
	s, err := Open(os.Getenv("SPOOR_TAGS_CRASH_DIR"))
	if err != nil {
		t.Fatal(err)
	}
	round := os.Getenv("SPOOR_TAGS_CRASH_ROUND")
	for i := 0; ; i++ {
		b, err := attrib.ReadFile(os.Getenv("SPOOR_TAGS_CRASH_FILE"), attrib.Options{List: strings.Join([]string{"r", round, "-", fmt.Sprint(i)}, "")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.ImportTags(b, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
}
