package bench

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// ---- the cases ----

func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func with(v url.Values, kv ...string) url.Values {
	w := url.Values{}
	for k, x := range v {
		w[k] = slices.Clone(x)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		w.Set(kv[i], kv[i+1])
	}
	return w
}

// cases builds the list of cases from the workspace's data: assistants, customers and
// variable values are sampled, deep cursors found by walking the list.
func (r *Runner) cases(ctx context.Context) ([]benchCase, error) {
	ws := r.ws.ID
	var cs []benchCase
	add := func(name string, v url.Values) { cs = append(cs, benchCase{name: name, kind: kindList, values: v}) }
	deep := func(name string, v url.Values) error {
		if r.Opts.Only != "" && !strings.Contains(name, r.Opts.Only) {
			return nil
		}
		cur, pos, err := r.deepCursor(ctx, v)
		if err != nil {
			return err
		}
		if cur == "" {
			fmt.Fprintf(r.Out, "(skipping %q: the list has a single page)\n", name)
			return nil
		}
		add(fmt.Sprintf("%s (cursor at row %d)", name, pos), with(v, "cursor", cur))
		return nil
	}

	add("list: first page", vals())
	if err := deep("list: deep cursor", vals()); err != nil {
		return nil, err
	}
	for _, t := range []string{model.TypeTest, model.TypeWidget, model.TypeWhatsApp} {
		add("type="+t, vals("type", t))
	}
	if err := deep("type=whatsapp: deep cursor", vals("type", model.TypeWhatsApp)); err != nil {
		return nil, err
	}
	as, err := r.s.Assistants(ctx, ws)
	if err != nil {
		return nil, err
	}
	if len(as) > 0 {
		id := strconv.FormatInt(as[0].ID, 10)
		add("assistant="+id, vals("assistant", id))
		if err := deep("assistant="+id+": deep cursor", vals("assistant", id)); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"7", "30", "90"} {
		add("range="+d+" days", vals("range", d))
	}
	from := time.Now().AddDate(0, 0, -60).Format("2006-01-02")
	to := time.Now().AddDate(0, 0, -30).Format("2006-01-02")
	add("range=custom "+from+".."+to, vals("range", "custom", "from", from, "to", to))

	// Customers: prefixes of a widget customer (sess_ + 12 hex digits in the bulk data) of
	// decreasing selectivity, a WhatsApp country code, and one whole identifier.
	prefixes := map[string]bool{}
	var any string
	for _, t := range []string{model.TypeWidget, model.TypeWhatsApp, model.TypeTest} {
		c, err := r.s.FirstCustomerOfType(ctx, ws, t)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		any = c
		switch {
		case t == model.TypeWidget && len(c) > 8:
			for _, n := range []int{3, 6, 7} {
				prefixes[c[:n]] = true
			}
			prefixes[c] = true
		case t == model.TypeWhatsApp && len(c) > 8:
			// A country code, and all but the last five digits (in the bulk data, where the
			// number ends with the id: some thousands of a million).
			prefixes[c[:3]] = true
			prefixes[c[:len(c)-5]] = true
		}
	}
	if len(prefixes) == 0 && any != "" {
		prefixes[any] = true
	}
	ps := make([]string, 0, len(prefixes))
	for p := range prefixes {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b string) int { return len(a) - len(b) })
	for _, p := range ps {
		add("customer="+p, vals("customer", p))
	}

	// The judgement's filters and sort (issue 14). The bulk data carries no judgement of its
	// own: BENCHMARKS.md gives the SQL that fills it before a run.
	for _, kv := range [][]string{
		{"outcome", model.OutcomeUnresolved}, {"sentiment", model.SentimentNegative},
		{"review_status", model.ReviewFlagged}, {"needs_review", "1"}, {"assignee", "none"},
		{"tag", "refund"}, {"eval.polite", "false"}, {"eval.upsell", "4"},
		{"csat_min", "1", "csat_max", "2"}, {"sort", "csat_estimate"},
		{"needs_review", "1", "type", model.TypeWhatsApp}, {"eval.polite", "false", "sentiment", model.SentimentNegative},
	} {
		name := strings.Join(kv, "=")
		if len(kv) == 4 {
			name = kv[0] + "=" + kv[1] + "&" + kv[2] + "=" + kv[3]
		}
		add(name, vals(kv...))
	}
	if err := deep("needs_review=1: deep cursor", vals("needs_review", "1")); err != nil {
		return nil, err
	}

	// Variables: each of the first names (email, order_number in the bulk data) alone, and
	// with the value of its newest row.
	names, err := r.s.VariableNames(ctx, ws)
	if err != nil {
		return nil, err
	}
	if slices.Contains(names, "email") && slices.Contains(names, "order_number") {
		names = []string{"email", "order_number"}
	} else if len(names) > 2 {
		names = names[:2]
	}
	for _, n := range names {
		v, err := r.s.LatestVariableValue(ctx, ws, n)
		if err != nil {
			return nil, err
		}
		add("var="+n, vals("var", n))
		add("var="+n+" value="+v, vals("var", n, "value", v))
	}
	add("closing=1 (WhatsApp window closes within 2 h)", vals("closing", "1"))
	add("sort=cost: first page", vals("sort", "cost"))
	if err := deep("sort=cost: deep cursor", vals("sort", "cost")); err != nil {
		return nil, err
	}
	add("type=whatsapp range=30 var=email", vals("type", model.TypeWhatsApp, "range", "30", "var", "email"))

	for _, w := range r.Opts.Words {
		add("search q="+w, vals("q", w))
	}
	if len(r.Opts.Words) > 1 {
		w := r.Opts.Words[1]
		if name := "search q=" + w + ": page 2"; r.Opts.Only == "" || strings.Contains(name, r.Opts.Only) {
			f := store.Filter{Query: w}
			_, next, err := r.s.ListConversations(ctx, ws, f, "", 50)
			if err != nil {
				return nil, err
			}
			if next != "" {
				add(name, vals("q", w, "cursor", next))
			}
		}
		add("search q="+w+" type=widget", vals("q", w, "type", model.TypeWidget))
		add("search q="+w+" range=30", vals("q", w, "range", "30"))
	}
	add("search q=zanzibar lisbon (two words)", vals("q", "zanzibar lisbon"))

	// Detail: the newest conversation and one deep in the list.
	first, _, err := r.s.ListConversations(ctx, ws, store.Filter{}, "", 1)
	if err != nil {
		return nil, err
	}
	if len(first) > 0 {
		cs = append(cs, benchCase{name: "detail: newest conversation", kind: kindDetail, convID: first[0].ID})
	}
	if oldID, err := r.s.OldestConversationID(ctx, ws); err == nil && oldID > 0 {
		cs = append(cs, benchCase{name: "detail: oldest conversation", kind: kindDetail, convID: oldID})
	}
	return cs, nil
}

// deepCursor walks the filtered list in pages of 10,000 through the store (the real keyset
// code) and returns the cursor after row DeepAt, or after half the rows when there are fewer.
func (r *Runner) deepCursor(ctx context.Context, v url.Values) (string, int, error) {
	_, f, err := conversation.ParseQuery(v, time.Now())
	if err != nil {
		return "", 0, err
	}
	const step = 10_000
	var cursors []string
	cur := ""
	for len(cursors)*step < r.Opts.DeepAt {
		_, next, err := r.s.ListConversations(ctx, r.ws.ID, f, cur, step)
		if err != nil {
			return "", 0, err
		}
		if next == "" {
			break
		}
		cursors = append(cursors, next)
		cur = next
	}
	if len(cursors) == 0 {
		// Fewer than a walking step: one page of the list's size after the first.
		_, next, err := r.s.ListConversations(ctx, r.ws.ID, f, "", 50)
		return next, 50, err
	}
	if len(cursors)*step < r.Opts.DeepAt { // ran out of rows: take the middle
		i := (len(cursors) - 1) / 2
		return cursors[i], (i + 1) * step, nil
	}
	return cursors[len(cursors)-1], len(cursors) * step, nil
}
