// Package bench is the load tools that BENCHMARKS.md quotes. It owns their cases and their
// output; it builds no SQL (its probes and query recorder are in app/store's bulk.go) and
// changes nothing in the product.
//
// Conversations measures the server time of the Conversations pages against the configured
// database: each store call alone, and the full HTTP handler in-process (routing, session,
// middleware, queries, templ rendering), for the list (first page, a deep cursor, every
// filter, both sorts), full-text search and the detail page. On PostgreSQL it also prints
// EXPLAIN (ANALYZE, BUFFERS) of every query a store call runs, captured with a bun query hook.
//
// It is a tool for BENCHMARKS.md, meant for a scratch database filled by
// `parley seed --bulk`; it adds one user to the workspace for the HTTP session and deletes it
// at the end.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
)

// Options describe a run.
type Options struct {
	WorkspaceID int64    // 0: the first workspace
	Runs        int      // measured runs per case and mode (default 20)
	Warmup      int      // unmeasured runs before them (default 2)
	Explain     bool     // print EXPLAIN (ANALYZE, BUFFERS) of each store query (PostgreSQL)
	Count       bool     // count the rows each filter matches (not timed)
	Only        string   // run only the cases whose name contains this
	Words       []string // search words (default zanzibar, kilimanjaro, lisbon, order)
	DeepAt      int      // position of the deep cursors (default 500,000, or half the matches)
	HTTP        bool     // measure the HTTP handlers too
}

// Stats summarise the durations of one case in one mode.
type Stats struct {
	First, Min, P50, P95, Max time.Duration
	N                         int
}

func summarise(first time.Duration, ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Stats{First: first, Min: s[0], P50: at(0.50), P95: at(0.95), Max: s[len(s)-1], N: len(s)}
}

// Query is one SQL statement a store call or a handler ran, with its time.
type Query = store.RecordedQuery

// Result is one measured case.
type Result struct {
	Name    string
	URL     string // the page's path and query
	Rows    int    // rows on the page (list) or messages loaded (detail)
	Matches int64  // rows the filter matches (-1: not counted)
	Store   Stats  // the store call(s) alone
	Page    Stats  // GET of the full page, server time
	Htmx    Stats  // GET with HX-Request (the fragment a filter change loads), server time
	// StoreQueries and PageQueries are the statements of one run.
	StoreQueries, PageQueries []Query
	Explains                  []string
}

// kind of a case.
const (
	kindList   = "list"
	kindDetail = "detail"
)

type benchCase struct {
	name   string
	kind   string
	values url.Values // list: the page's query parameters
	convID int64      // detail
}

// serverTimer wraps a handler and records how long each request spent in it.
type serverTimer struct {
	h    http.Handler
	mu   sync.Mutex
	last time.Duration
}

func (t *serverTimer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	t.h.ServeHTTP(w, r)
	d := time.Since(start)
	t.mu.Lock()
	t.last = d
	t.mu.Unlock()
}

func (t *serverTimer) lastDuration() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// Runner holds one benchmark session.
type Runner struct {
	App  *app.App
	Opts Options
	Out  io.Writer

	s      *store.Store
	ws     *store.Workspace
	rec    *store.QueryRecorder
	srv    *httptest.Server
	timer  *serverTimer
	client *http.Client
	userID int64
}

// Conversations runs the Conversations benchmark and writes its report to out. The App must
// not have served anything yet: the runner adds a query hook to its database handle.
func Conversations(ctx context.Context, a *app.App, opts Options, out io.Writer) ([]Result, error) {
	if opts.Runs <= 0 {
		opts.Runs = 20
	}
	if opts.Warmup < 0 {
		opts.Warmup = 0
	}
	if len(opts.Words) == 0 {
		opts.Words = []string{"zanzibar", "kilimanjaro", "lisbon", "order"}
	}
	if opts.DeepAt <= 0 {
		opts.DeepAt = 500_000
	}
	r := &Runner{App: a, Opts: opts, Out: out, s: a.Store}
	r.rec = r.s.RecordQueries()
	var err error
	if opts.WorkspaceID > 0 {
		r.ws, err = r.s.WorkspaceByID(ctx, opts.WorkspaceID)
	} else {
		r.ws, err = r.s.FirstWorkspace(ctx)
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("bench: no such workspace (load one with `parley seed --bulk`)")
	}
	if err != nil {
		return nil, err
	}
	counts, err := r.s.ConversationCounts(ctx, r.ws.ID)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "# Conversations benchmark: workspace %d (%s), %s, %d conversations (%d test, %d widget, %d WhatsApp)\n",
		r.ws.ID, r.ws.Name, r.s.Dialect, counts.Total, counts.ByType[model.TypeTest], counts.ByType[model.TypeWidget], counts.ByType[model.TypeWhatsApp])
	fmt.Fprintf(out, "# %d warm-up + %d measured runs per case and mode; times are server time (store call; handler ServeHTTP)\n", opts.Warmup, opts.Runs)
	fmt.Fprintf(out, "# load average at the start: %s\n\n", loadAverage())

	if opts.HTTP {
		if err := r.startHTTP(ctx); err != nil {
			return nil, err
		}
		defer r.stopHTTP()
	}
	cases, err := r.cases(ctx)
	if err != nil {
		return nil, err
	}
	var results []Result
	for _, c := range cases {
		if opts.Only != "" && !strings.Contains(c.name, opts.Only) {
			continue
		}
		res, err := r.run(ctx, c)
		if err != nil {
			return results, fmt.Errorf("bench %q: %w", c.name, err)
		}
		r.print(res)
		results = append(results, res)
	}
	fmt.Fprintf(out, "\n# load average at the end: %s\n", loadAverage())
	fmt.Fprintln(out, "\n## Summary (milliseconds)")
	fmt.Fprintln(out)
	WriteTable(out, results)
	return results, nil
}

// ---- running ----

func (r *Runner) run(ctx context.Context, c benchCase) (Result, error) {
	res := Result{Name: c.name, Matches: -1}
	var storeCall func() (int, error)
	switch c.kind {
	case kindList:
		res.URL = "/conversations"
		if len(c.values) > 0 {
			res.URL += "?" + c.values.Encode()
		}
		storeCall = func() (int, error) {
			q, f, err := conversation.ParseQuery(c.values, time.Now())
			if err != nil {
				return 0, err
			}
			rows, _, err := r.s.ListConversations(ctx, r.ws.ID, f, q.Cursor, 50)
			return len(rows), err
		}
		if r.Opts.Count {
			if _, f, err := conversation.ParseQuery(c.values, time.Now()); err == nil {
				cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
				n, err := r.s.CountMatching(cctx, r.ws.ID, f)
				cancel()
				if err == nil {
					res.Matches = n
				}
			}
		}
	case kindDetail:
		res.URL = "/conversations/" + strconv.FormatInt(c.convID, 10)
		storeCall = func() (int, error) {
			conv, err := r.s.GetConversation(ctx, r.ws.ID, c.convID)
			if err != nil {
				return 0, err
			}
			if _, err := r.s.Variables(ctx, r.ws.ID, conv.ID); err != nil {
				return 0, err
			}
			page, err := r.s.Messages(ctx, r.ws.ID, conv.ID, "", 100)
			return len(page.Messages), err
		}
	}

	// The store call.
	var first time.Duration
	var ds []time.Duration
	for i := 0; i < r.Opts.Warmup+r.Opts.Runs; i++ {
		if i == r.Opts.Warmup+r.Opts.Runs-1 {
			r.rec.Arm()
		}
		start := time.Now()
		n, err := storeCall()
		d := time.Since(start)
		if i == r.Opts.Warmup+r.Opts.Runs-1 {
			res.StoreQueries = r.rec.Disarm()
		}
		if err != nil {
			return res, err
		}
		res.Rows = n
		if i == 0 {
			first = d
		}
		if i >= r.Opts.Warmup {
			ds = append(ds, d)
		}
	}
	res.Store = summarise(first, ds)

	if r.srv != nil {
		var err error
		if res.Page, res.PageQueries, err = r.measureHTTP(ctx, res.URL, false); err != nil {
			return res, err
		}
		if c.kind == kindList {
			if res.Htmx, _, err = r.measureHTTP(ctx, res.URL, true); err != nil {
				return res, err
			}
		}
	}
	if r.Opts.Explain && r.s.Dialect == store.Postgres {
		for _, q := range res.StoreQueries {
			if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(q.SQL)), "EXPLAIN") {
				res.Explains = append(res.Explains, "(an EXPLAIN itself: the store's search estimate)\n")
				continue
			}
			plan, err := r.s.Explain(ctx, q.SQL)
			if err != nil {
				return res, err
			}
			res.Explains = append(res.Explains, plan)
		}
	}
	return res, nil
}

func (r *Runner) measureHTTP(ctx context.Context, path string, htmx bool) (Stats, []Query, error) {
	var first time.Duration
	var ds []time.Duration
	var qs []Query
	for i := 0; i < r.Opts.Warmup+r.Opts.Runs; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.srv.URL+path, nil)
		if err != nil {
			return Stats{}, nil, err
		}
		if htmx {
			req.Header.Set("HX-Request", "true")
		}
		last := i == r.Opts.Warmup+r.Opts.Runs-1
		if last {
			r.rec.Arm()
		}
		res, err := r.client.Do(req)
		if err != nil {
			return Stats{}, nil, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if last {
			qs = r.rec.Disarm()
		}
		if res.StatusCode != http.StatusOK {
			return Stats{}, nil, fmt.Errorf("GET %s: status %d", path, res.StatusCode)
		}
		d := r.timer.lastDuration()
		if i == 0 {
			first = d
		}
		if i >= r.Opts.Warmup {
			ds = append(ds, d)
		}
	}
	return summarise(first, ds), qs, nil
}
