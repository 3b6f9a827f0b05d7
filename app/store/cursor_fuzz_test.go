package store_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/store"
)

// Fuzz targets of the keyset cursor. A cursor is not signed (it names a position in a list
// the query scopes to one workspace), so what DecodeCursor promises is exactness: it accepts
// only the strings Encode gives, so a changed cursor is refused unless it is, byte for byte,
// the cursor of another position; never another spelling of a position, never a time the
// database cannot compare.

var cursorSorts = []string{"last", "cost", "msg"}

func cursorSeeds(f *testing.F) []string {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC)
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	return []string{
		store.Cursor{Sort: "last", Time: t0, ID: 5}.Encode(),
		store.Cursor{Sort: "cost", Cost: 525300, ID: 77}.Encode(),
		store.Cursor{Sort: "msg", Time: t0, ID: 1}.Encode(),
		store.Cursor{Sort: "last", Time: time.Unix(0, 0), ID: 1<<63 - 1}.Encode(),
		store.Cursor{Sort: "cost", Cost: -1, ID: 1}.Encode(),
		"", "abc", "!!!", "   ", "+/+/", strings.Repeat("A", 101),
		b64("last.x.1"), b64("last.1.0"), b64("cost.1.-3"), b64("last.1"), b64("last.1.2.3"), b64("first.1.1"),
		b64("last.+5.1"), b64("cost.007.1"), b64("last.-9223372036854775808.1"), b64("msg.9223372036854775807.2"),
		base64.URLEncoding.EncodeToString([]byte("last.1.1")),
	}
}

// FuzzDecodeCursor: no panic; an error is ErrBadCursor; an accepted cursor names a known sort,
// a positive id, a time within years 1 to 9999 (time sorts), and is exactly its own encoding.
func FuzzDecodeCursor(f *testing.F) {
	for _, s := range cursorSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := store.DecodeCursor(s)
		if err != nil {
			if !errors.Is(err, store.ErrBadCursor) {
				t.Fatalf("DecodeCursor(%q) = %v, not ErrBadCursor", s, err)
			}
			if c != (store.Cursor{}) {
				t.Fatalf("a cursor beside an error: %+v", c)
			}
			return
		}
		if c.ID <= 0 {
			t.Fatalf("DecodeCursor(%q): id %d", s, c.ID)
		}
		switch c.Sort {
		case "cost":
			if !c.Time.IsZero() {
				t.Fatalf("cost cursor with a time: %+v", c)
			}
		case "last", "msg":
			if y := c.Time.Year(); y < 1 || y > 9999 || c.Cost != 0 {
				t.Fatalf("time cursor %+v outside what the database compares", c)
			}
		default:
			t.Fatalf("DecodeCursor(%q): sort %q", s, c.Sort)
		}
		if enc := c.Encode(); enc != s {
			t.Fatalf("DecodeCursor(%q) accepted another spelling of %q (%+v)", s, enc, c)
		}
	})
}

// FuzzCursorRoundTrip: Encode then DecodeCursor gives the same position; a one-byte change of
// the encoding is refused, or decodes to a different position whose encoding is the changed
// string itself.
func FuzzCursorRoundTrip(f *testing.F) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC).UnixMicro()
	f.Add(uint8(0), t0, int64(0), int64(5), uint(3), byte(1))
	f.Add(uint8(1), int64(0), int64(525300), int64(77), uint(0), byte(0x20))
	f.Add(uint8(2), t0, int64(0), int64(1), uint(9), byte(0x7f))
	f.Add(uint8(0), int64(-62135596800000000), int64(0), int64(1), uint(1), byte(2))
	f.Add(uint8(2), int64(1<<63-1), int64(0), int64(1<<63-1), uint(1), byte(2))
	f.Fuzz(func(t *testing.T, sortIdx uint8, micros, cost, id int64, pos uint, flip byte) {
		c := store.Cursor{Sort: cursorSorts[int(sortIdx)%len(cursorSorts)], ID: id}
		if c.Sort == "cost" {
			c.Cost = cost
		} else {
			c.Time = time.UnixMicro(micros).UTC()
		}
		enc := c.Encode()
		got, err := store.DecodeCursor(enc)
		inRange := c.Sort == "cost" || (c.Time.Year() >= 1 && c.Time.Year() <= 9999)
		if id <= 0 || !inRange {
			if err == nil {
				t.Fatalf("cursor %+v (id or time out of range) decoded: %+v", c, got)
			}
			return
		}
		if err != nil || got != c {
			t.Fatalf("round trip of %+v: %+v, %v", c, got, err)
		}
		if flip == 0 {
			return
		}
		b := []byte(enc)
		b[pos%uint(len(b))] ^= flip
		mut := string(b)
		got2, err := store.DecodeCursor(mut)
		if err != nil {
			return
		}
		if got2 == c {
			t.Fatalf("changed cursor %q accepted as the same position %+v", mut, c)
		}
		if got2.Encode() != mut {
			t.Fatalf("changed cursor %q accepted as %+v, whose cursor is %q", mut, got2, got2.Encode())
		}
	})
}
