package pebblestore

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/spoor-dev/spoor/internal/cputime"
)

// appendOrder puts a loaded segment's adjacency and spends back in the
// order Apply appends them (by tx, a tx's entries by address and asset; the
// spends by spender), the order a close finds them in.
func appendOrder(d *segData) {
	slices.SortFunc(d.adj, func(a, b adjEnt) int {
		if ta, tb := d.entTx(&a), d.entTx(&b); ta != tb {
			return cmpU64(ta, tb)
		}
		return d.cmpAdj(&a, &b)
	})
	slices.SortStableFunc(d.spent, func(a, b spentEnt) int { return cmpU64(a.spender, b.spender) })
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// BenchmarkEncodeSegFiles encodes again the segments named by the glob in
// SPOOR_SEGFILES (real segments: the synthetic chain's), as a close does,
// with a fresh copy of the loaded content each time (encodeSeg may sort it
// in place).
func BenchmarkEncodeSegFiles(b *testing.B) {
	_, ds := loadSegFiles(b)
	run := func(name string, fn func(d *segData)) {
		b.Run(name, func(b *testing.B) {
			var cpu time.Duration
			for b.Loop() {
				for _, d := range ds {
					b.StopTimer()
					c := *d
					c.spent, c.adj = slices.Clone(d.spent), slices.Clone(d.adj)
					runtime.GC() // the copies' collection is not the encoding's CPU
					b.StartTimer()
					cpu0 := cputime.Process()
					fn(&c)
					cpu += cputime.Process() - cpu0
				}
			}
			b.ReportMetric(cpu.Seconds()*1e3/float64(b.N), "cpu-ms/op")
		})
	}
	run("segment", func(d *segData) {
		if _, err := encodeSeg(d); err != nil {
			b.Fatal(err)
		}
	})
	run("spent", func(d *segData) {
		spent, sindex, cs := encodeSpentCols(d.spent)
		packSectionCols(spent, blockCuts(sindex, 20), colSpent, []*colStreams{cs})
	})
	run("groups", func(d *segData) {
		groups, gindex, _, parts := encodeGroupsCols(d)
		packSectionCols(groups, blockCuts(gindex, 16), colGroups, parts)
	})
}

// BenchmarkPackCodecs reports, for the adjacency groups and the spends of
// the segments named by SPOOR_SEGFILES, what each codec of packRange makes
// of every block (bytes, against the raw bytes) and what it costs (ns per
// raw byte), and what packBlocks' choice stores: the measure of what zstd
// and huff0 pay for in a close.
func BenchmarkPackCodecs(b *testing.B) {
	_, ds := loadSegFiles(b)
	type section struct {
		name string
		raw  []byte
		cuts []uint64
		kind colKind
	}
	var secs []section
	for _, d := range ds {
		groups, gindex, _ := encodeGroups(d)
		spent, sindex := encodeSpent(d)
		secs = append(secs, section{"groups", groups, blockCuts(gindex, 16), colGroups}, section{"spent", spent, blockCuts(sindex, 20), colSpent})
	}
	// "chosen" is what a close writes (the column codec first, zstd behind
	// it on every 8th block); "cols" packs every block in the column codec.
	writer := map[string]colKind{"groups": colGroups, "spent": colSpent}
	blocks := func(s section, fn func(raw []byte)) {
		for k, a := range s.cuts {
			e := uint64(len(s.raw))
			if k+1 < len(s.cuts) {
				e = s.cuts[k+1]
			}
			fn(s.raw[a:e])
		}
	}
	for _, name := range []string{"groups", "spent"} {
		for _, codec := range []string{"zstd", "huff", "cols", "chosen"} {
			b.Run(name+"/"+codec, func(b *testing.B) {
				var raw, packed int
				var buf []byte
				cpu0 := cputime.Process()
				for b.Loop() {
					raw, packed = 0, 0
					for _, s := range secs {
						if s.name != name {
							continue
						}
						if codec == "chosen" {
							p, _, _ := packSection(s.raw, s.cuts, writer[s.name])
							raw, packed = raw+len(s.raw), packed+len(p)
							continue
						}
						if codec == "cols" {
							// Every block in the column codec: the tables
							// from the whole section's counts, as
							// packSection builds them.
							var cnt [colMaxStreams][256]uint64
							var cs colStreams
							cs.split(s.kind, s.raw, s.cuts, 0, len(s.cuts), &cnt)
							head := colHead(s.kind, &cnt)
							t, _, err := parseColTables(s.kind, head, true)
							if err != nil {
								b.Fatal(err)
							}
							packed += len(head)
							for i, a := range s.cuts {
								st, ok := cs.block(i)
								if !ok {
									b.Fatal("a block does not split")
								}
								buf = colPack(buf[:0], t, &st)
								e := uint64(len(s.raw))
								if i+1 < len(s.cuts) {
									e = s.cuts[i+1]
								}
								raw, packed = raw+int(e-a), packed+len(buf)
							}
							continue
						}
						blocks(s, func(r []byte) {
							if codec == "zstd" {
								buf = zstdEnc().EncodeAll(r, buf[:0])
							} else {
								buf = huffPack(buf[:0], r)
							}
							raw, packed = raw+len(r), packed+len(buf)
						})
					}
				}
				b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N)/float64(raw), "cpu-ns/raw-B")
				b.ReportMetric(float64(raw), "raw-B")
				b.ReportMetric(float64(packed), "packed-B")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(raw), "ns/raw-B")
			})
		}
	}
}

// BenchmarkPackStride packs the adjacency groups and the spends of the
// segments named by SPOOR_SEGFILES in blocks of 8, 16 (the format's) and
// 32 or 64 index entries, as packBlocks chooses codecs: bytes stored and
// CPU ns per raw byte, the measure of what a larger block would buy (and
// BenchmarkSegmentGroup's packed lookups, what it costs a read: the
// seventh session measured 32 entries at 12–20 % less packing CPU and
// 2.5 % smaller groups, for 1.7× the time of a lookup's block decode, and
// kept 16).
func BenchmarkPackStride(b *testing.B) {
	_, ds := loadSegFiles(b)
	type section struct {
		raw  []byte
		idx  []byte
		w    int
		name string
		kind colKind
	}
	var secs []section
	for _, d := range ds {
		groups, gindex, _ := encodeGroups(d)
		spent, sindex := encodeSpent(d)
		secs = append(secs, section{groups, gindex, 16, "groups", colGroups}, section{spent, sindex, 20, "spent", colSpent})
	}
	for _, name := range []string{"groups", "spent"} {
		for _, stride := range []int{8, 16, 32, 64} {
			b.Run(fmt.Sprintf("%s/%d", name, stride), func(b *testing.B) {
				var raw, packed int
				var cpu time.Duration
				for b.Loop() {
					raw, packed = 0, 0
					for _, s := range secs {
						if s.name != name {
							continue
						}
						var cuts []uint64
						for i := 0; i < len(s.idx)/s.w; i += stride {
							cuts = append(cuts, binary.BigEndian.Uint64(s.idx[s.w*i+s.w-8:]))
						}
						cpu0 := cputime.Process()
						p, _, _ := packSection(s.raw, cuts, s.kind)
						cpu += cputime.Process() - cpu0
						raw, packed = raw+len(s.raw), packed+len(p)+8*len(cuts)
					}
				}
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(raw), "cpu-ns/raw-B")
				b.ReportMetric(float64(packed), "packed-B")
			})
		}
	}
}

// BenchmarkOpenSegment maps and checks the segment files named by
// SPOOR_SEGFILES as an open does ("checked"), and maps them as a close now
// does with the file it wrote ("trusted": the image was checked while the
// file was written; openSegmentAs skips the checks that read it whole).
func BenchmarkOpenSegment(b *testing.B) {
	files, _ := loadSegFiles(b)
	for _, trusted := range []bool{false, true} {
		name := "checked"
		if trusted {
			name = "trusted"
		}
		b.Run(name, func(b *testing.B) {
			cpu0 := cputime.Process()
			for b.Loop() {
				for _, f := range files {
					s, err := openSegmentAs(f, trusted)
					if err != nil {
						b.Fatal(err)
					}
					s.close()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(files))/1e6, "ms/file")
			b.ReportMetric(float64((cputime.Process()-cpu0).Nanoseconds())/float64(b.N)/float64(len(files))/1e6, "cpu-ms/file")
		})
	}
}
