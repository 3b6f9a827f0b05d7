package store

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// ErrBadCursor is returned for a cursor that does not decode.
var ErrBadCursor = errors.New("invalid cursor")

// Cursor is a keyset position: the sort key of the last row seen and its id.
type Cursor struct {
	Sort string    // "last" (last_message_at), "cost" (cost_nanos), "csat" (CSATSortKey, then last_message_at) or "msg" (message created_at)
	Time time.Time // for "last", "csat" and "msg"
	Cost int64     // for "cost"
	Key  int64     // for "csat": 0 to 5
	ID   int64
}

// CSATSortKey is the first key of the "csat" sort for a conversation's estimate (see
// csatKeySQL): 6 - estimate, 0 without one.
func CSATSortKey(estimate *int) int64 {
	if estimate == nil {
		return 0
	}
	return int64(6 - *estimate)
}

// Encode gives the opaque, URL-safe form.
func (c Cursor) Encode() string {
	var key string
	switch c.Sort {
	case "cost":
		key = strconv.FormatInt(c.Cost, 10)
	case "csat":
		key = strconv.FormatInt(c.Key, 10) + "." + strconv.FormatInt(c.Time.UTC().UnixMicro(), 10)
	default:
		key = strconv.FormatInt(c.Time.UTC().UnixMicro(), 10)
	}
	return base64.RawURLEncoding.EncodeToString([]byte(c.Sort + "." + key + "." + strconv.FormatInt(c.ID, 10)))
}

// DecodeCursor parses an encoded cursor. Only what Encode gives decodes: any other string
// (tampered, re-spelt, or naming a time outside years 1 to 9999) is ErrBadCursor.
func DecodeCursor(s string) (Cursor, error) {
	if s == "" || len(s) > 100 {
		return Cursor{}, ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	parts := strings.Split(string(raw), ".")
	var csatKey int64
	if len(parts) == 4 && parts[0] == "csat" {
		// csat.<key>.<time>.<id>: the key first, then the rest reads as a time cursor.
		k, err := strconv.ParseInt(parts[1], 10, 64)
		if err != nil || k < 0 || k > 5 {
			return Cursor{}, ErrBadCursor
		}
		csatKey = k
		parts = append(parts[:1], parts[2:]...)
	} else if len(parts) != 3 || parts[0] == "csat" {
		return Cursor{}, ErrBadCursor
	}
	key, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || id <= 0 {
		return Cursor{}, ErrBadCursor
	}
	c := Cursor{Sort: parts[0], ID: id}
	switch c.Sort {
	case "cost":
		c.Cost = key
	case "last", "msg", "csat":
		c.Key = csatKey
		c.Time = time.UnixMicro(key).UTC()
		if c.Time.Before(minCursorTime) || c.Time.After(maxCursorTime) {
			return Cursor{}, ErrBadCursor // no row has such a time, and PostgreSQL cannot compare it
		}
	default:
		return Cursor{}, ErrBadCursor
	}
	// Only the exact form Encode gives is a cursor: "+5", "05", "-0" or base64 with stray
	// trailing bits would be another spelling of a position, accepted silently.
	if c.Encode() != s {
		return Cursor{}, ErrBadCursor
	}
	return c, nil
}

// The times a time cursor may name: years 1 to 9999.
var (
	minCursorTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxCursorTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)
