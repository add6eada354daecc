package etl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxRecord bounds one CSV record (a transaction's input data can be long;
// nothing spoor reads legitimately comes near this).
const maxRecord = 64 << 20

// csvReader reads RFC 4180 CSV quickly: records without quotes are split in
// place (no copy), quoted records are unescaped into a buffer. Fields are
// valid until the next call to next. It reads from a bufio.Reader, or from
// an in-memory chunk of whole lines (src, when br is nil; see chunk.go).
type csvReader struct {
	br  *bufio.Reader
	src []byte
	pos int
	// noQuote is set when src holds no quote at all: no line needs the
	// check.
	noQuote bool
	file    string
	line    int // line of the current record's start (1-based)
	nextLn  int // line where the next record starts
	fields  [][]byte
	buf     []byte
	header  []string
	cols    map[string]int
}

func newCSVReader(r io.Reader, file string) *csvReader {
	return &csvReader{br: bufio.NewReaderSize(r, 1<<20), file: file, nextLn: 1}
}

// errf returns an *Error for the current record.
func (c *csvReader) errf(field, format string, args ...any) error {
	return &Error{File: c.file, Line: c.line, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// newCSVBytes reads records from data; line numbers start at 1.
func newCSVBytes(data []byte, file string) *csvReader {
	return &csvReader{src: data, file: file, nextLn: 1, noQuote: bytes.IndexByte(data, '"') < 0}
}

// readLine returns the next physical line without its line ending, or io.EOF.
func (c *csvReader) readLine() ([]byte, error) {
	if c.br == nil {
		return c.readLineBytes()
	}
	l, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		// Long line: accumulate.
		acc := append([]byte(nil), l...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(acc) > maxRecord {
				return nil, c.errf("", "line longer than %d bytes", maxRecord)
			}
			l, err = c.br.ReadSlice('\n')
			acc = append(acc, l...)
		}
		l = acc
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, &Error{File: c.file, Line: c.nextLn, Msg: err.Error()}
	}
	if len(l) == 0 && err != nil {
		return nil, io.EOF
	}
	c.nextLn++
	n := len(l)
	if n > 0 && l[n-1] == '\n' {
		n--
		if n > 0 && l[n-1] == '\r' {
			n--
		}
	}
	return l[:n], nil
}

// linesLeft returns the number of lines left in an in-memory chunk (a
// guess of 1000 for a stream).
func (c *csvReader) linesLeft() int {
	if c.br != nil {
		return 1000
	}
	rest := c.src[c.pos:]
	n := bytes.Count(rest, []byte{'\n'})
	if len(rest) > 0 && rest[len(rest)-1] != '\n' {
		n++
	}
	return n
}

// readLineBytes is readLine over an in-memory chunk.
func (c *csvReader) readLineBytes() ([]byte, error) {
	rest := c.src[c.pos:]
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n := bytes.IndexByte(rest, '\n')
	l := rest
	if n >= 0 {
		l = rest[:n+1]
	}
	if len(l) > maxRecord {
		return nil, c.errf("", "line longer than %d bytes", maxRecord)
	}
	c.pos += len(l)
	c.nextLn++
	n = len(l)
	if n > 0 && l[n-1] == '\n' {
		n--
		if n > 0 && l[n-1] == '\r' {
			n--
		}
	}
	return l[:n], nil
}

// next reads the next record into c.fields. It returns io.EOF at the end;
// blank lines are skipped.
func (c *csvReader) next() error {
	for {
		c.line = c.nextLn
		l, err := c.readLine()
		if err != nil {
			return err
		}
		if len(l) == 0 {
			continue
		}
		if c.noQuote || bytes.IndexByte(l, '"') < 0 {
			c.fields = c.fields[:0]
			for {
				i := bytes.IndexByte(l, ',')
				if i < 0 {
					c.fields = append(c.fields, l)
					return nil
				}
				c.fields = append(c.fields, l[:i])
				l = l[i+1:]
			}
		}
		return c.quoted(l)
	}
}

// quoted parses a record that contains quotes, reading further lines while a
// quoted field is open.
func (c *csvReader) quoted(l []byte) error {
	c.buf = c.buf[:0]
	var ends []int // end offset in buf of each field
	i := 0
	for {
		// Start of a field.
		if i < len(l) && l[i] == '"' {
			i++
			for {
				j := bytes.IndexByte(l[i:], '"')
				if j < 0 {
					// Field continues on the next line.
					c.buf = append(c.buf, l[i:]...)
					c.buf = append(c.buf, '\n')
					if len(c.buf) > maxRecord {
						return c.errf("", "record longer than %d bytes", maxRecord)
					}
					nl, err := c.readLine()
					if errors.Is(err, io.EOF) {
						return c.errf("", "quoted field not closed before end of file")
					}
					if err != nil {
						return err
					}
					l, i = nl, 0
					continue
				}
				c.buf = append(c.buf, l[i:i+j]...)
				i += j + 1
				if i < len(l) && l[i] == '"' { // escaped quote
					c.buf = append(c.buf, '"')
					i++
					continue
				}
				break
			}
			if i < len(l) && l[i] != ',' {
				return c.errf("", "unexpected %q after closing quote of field %d", l[i], len(ends)+1)
			}
		} else {
			j := bytes.IndexByte(l[i:], ',')
			if j < 0 {
				j = len(l) - i
			}
			if bytes.IndexByte(l[i:i+j], '"') >= 0 {
				return c.errf("", "bare quote in unquoted field %d", len(ends)+1)
			}
			c.buf = append(c.buf, l[i:i+j]...)
			i += j
		}
		ends = append(ends, len(c.buf))
		if i >= len(l) {
			break
		}
		i++ // the comma
		if i == len(l) {
			ends = append(ends, len(c.buf)) // trailing empty field
			break
		}
	}
	c.fields = c.fields[:0]
	start := 0
	for _, e := range ends {
		c.fields = append(c.fields, c.buf[start:e:e])
		start = e
	}
	return nil
}

// readHeader reads the header record and indexes its column names
// (lower-cased, trimmed, a leading UTF-8 BOM removed).
func (c *csvReader) readHeader() error {
	if err := c.next(); err != nil {
		if errors.Is(err, io.EOF) {
			return &Error{File: c.file, Line: 1, Msg: "empty file: a header row is required"}
		}
		return err
	}
	c.cols = make(map[string]int, len(c.fields))
	c.header = make([]string, len(c.fields))
	for i, f := range c.fields {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(string(f), "\ufeff")))
		if _, dup := c.cols[name]; dup && name != "" {
			return c.errf(name, "column named twice in the header")
		}
		c.cols[name] = i
		c.header[i] = name
	}
	return nil
}

// col returns the index of a required column.
func (c *csvReader) col(name string) (int, error) {
	if i, ok := c.cols[name]; ok {
		return i, nil
	}
	return -1, &Error{File: c.file, Line: 1, Field: name,
		Msg: fmt.Sprintf("required column missing (header has: %s)", strings.Join(c.header, ","))}
}

// optCol returns the index of an optional column, or -1.
func (c *csvReader) optCol(name string) int {
	if i, ok := c.cols[name]; ok {
		return i
	}
	return -1
}

// record reads the next data record and checks its field count.
func (c *csvReader) record() error {
	if err := c.next(); err != nil {
		return err
	}
	if len(c.fields) != len(c.header) {
		return c.errf("", "%d fields, the header has %d", len(c.fields), len(c.header))
	}
	return nil
}
