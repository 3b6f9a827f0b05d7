package conversation

import (
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/store"
)

// queryFuzzSeeds are real filter URLs of the list, the API and the exports.
func queryFuzzSeeds() []string {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	last := store.Cursor{Sort: "last", Time: now, ID: 3}.Encode()
	cost := store.Cursor{Sort: "cost", Cost: 525300, ID: 9}.Encode()
	return []string{
		"", "type=whatsapp", "assistant=7", "assistant_id=7", "range=7", "range=30&type=widget",
		"range=custom&from=2026-11-01&to=2026-11-02", "from=2026-11-01T10:00:00%2B02:00&to=2026-11-30T00:00:00Z",
		"var=email&value=a%40b.co", "q=+refund+", "sort=cost", "closing=1", "missing=true", "limit=100",
		"type=fax", "assistant=x", "assistant_id=-1", "range=5", "from=yesterday", "from=2026-11-02&to=2026-11-01",
		"sort=name", "value=x", "limit=0", "limit=101", "cursor=abc", "q=%00", "customer=%2B4915112345678",
		"cursor=" + last, "cursor=" + cost + "&sort=cost", "cursor=" + cost, "type=test&q=hi&customer=&cursor=" + last,
		"outcome=unresolved&sentiment=negative&review_status=flagged&needs_review=1", "tag=VIP&assignee=none", "assignee=me",
		"eval.polite=true&eval.accuracy=04&eval.outcome=resolved", "eval.summary=x", "csat_min=2&csat_max=1", "sort=csat_estimate",
		"range=7&from=2026-11-01&to=2026-10-01", "from=0000-01-01T00:00:00Z", "from=0001-01-01T00:00:00%2B01:00",
		"from=0001-01-01&to=9999-12-31", "to=9999-12-31T23:59:59-23:59", "type=widget&type=test", "%zz=1&q=a;b",
	}
}

// FuzzParseQuery: no panic; an error is a FieldError naming a parameter of the URL; a parsed
// query encoded by Values (plus its cursor and limit) parses back to the same filter, the same
// encoding, cursor and limit (Values leaves out what the filter ignores, such as from and to
// beside range=7).
func FuzzParseQuery(f *testing.F) {
	for _, s := range queryFuzzSeeds() {
		f.Add(s)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	params := map[string]bool{"type": true, "assistant": true, "assistant_id": true, "customer": true, "range": true, "from": true,
		"to": true, "var": true, "value": true, "q": true, "sort": true, "cursor": true, "limit": true,
		"outcome": true, "sentiment": true, "review_status": true, "tag": true, "assignee": true, "csat_min": true, "csat_max": true,
		"csat_estimate_min": true, "csat_estimate_max": true}
	f.Fuzz(func(t *testing.T, raw string) {
		v, _ := url.ParseQuery(raw) // what parses of a broken query string is what a handler sees
		q, fl, err := ParseQuery(v, now)
		if err != nil {
			fe, ok := err.(*FieldError)
			if !ok || !(params[fe.Param] || strings.HasPrefix(fe.Param, EvalParamPrefix)) || fe.Msg == "" {
				t.Fatalf("ParseQuery(%q): %v, want a FieldError naming a parameter", raw, err)
			}
			return
		}
		for _, tm := range []*time.Time{fl.From, fl.To} {
			if tm != nil && (tm.Year() < 1 || tm.After(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))) {
				t.Fatalf("ParseQuery(%q): a date PostgreSQL cannot compare: %v", raw, tm)
			}
		}
		v2 := q.Values()
		if q.Cursor != "" {
			v2.Set("cursor", q.Cursor)
		}
		if q.Limit != 50 {
			v2.Set("limit", strconv.Itoa(q.Limit))
		}
		q2, fl2, err := ParseQuery(v2, now)
		if err != nil {
			t.Fatalf("ParseQuery(%q) ok, but its own encoding %q: %v", raw, v2.Encode(), err)
		}
		if q2.Values().Encode() != q.Values().Encode() || q2.Cursor != q.Cursor || q2.Limit != q.Limit {
			t.Fatalf("query round trip of %q:\n%+v\n%+v", raw, q, q2)
		}
		if !sameFilter(fl, fl2) {
			t.Fatalf("filter round trip of %q:\n%+v\n%+v", raw, fl, fl2)
		}
	})
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func sameFilter(a, b store.Filter) bool {
	if !sameTime(a.From, b.From) || !sameTime(a.To, b.To) {
		return false
	}
	a.From, a.To, b.From, b.To = nil, nil, nil, nil
	return reflect.DeepEqual(a, b)
}
