// Package bench measures the server time of the Conversations pages against the configured
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
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/uptrace/bun"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/conversation"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/web"
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
type Query struct {
	SQL      string
	Duration time.Duration
}

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

// recorder is a bun query hook that records the statements run while it is armed.
type recorder struct {
	mu      sync.Mutex
	armed   bool
	queries []Query
}

func (r *recorder) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (r *recorder) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.armed {
		r.queries = append(r.queries, Query{SQL: e.Query, Duration: time.Since(e.StartTime)})
	}
}

func (r *recorder) arm() {
	r.mu.Lock()
	r.armed, r.queries = true, nil
	r.mu.Unlock()
}

func (r *recorder) disarm() []Query {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.armed = false
	q := r.queries
	r.queries = nil
	return q
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
	rec    *recorder
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
	r := &Runner{App: a, Opts: opts, Out: out, s: a.Store, rec: &recorder{}}
	r.s.DB = r.s.DB.WithQueryHook(r.rec)
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
		r.ws.ID, r.ws.Name, r.s.Dialect, counts.Total, counts.ByType[store.TypeTest], counts.ByType[store.TypeWidget], counts.ByType[store.TypeWhatsApp])
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
	for _, t := range []string{store.TypeTest, store.TypeWidget, store.TypeWhatsApp} {
		add("type="+t, vals("type", t))
	}
	if err := deep("type=whatsapp: deep cursor", vals("type", store.TypeWhatsApp)); err != nil {
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
	for _, t := range []string{store.TypeWidget, store.TypeWhatsApp, store.TypeTest} {
		var c string
		err := r.s.DB.NewSelect().TableExpr("conversations").Column("customer").
			Where("workspace_id = ? AND type = ? AND customer <> ''", ws, t).OrderExpr("id ASC").Limit(1).Scan(ctx, &c)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		any = c
		switch {
		case t == store.TypeWidget && len(c) > 8:
			for _, n := range []int{3, 6, 7} {
				prefixes[c[:n]] = true
			}
			prefixes[c] = true
		case t == store.TypeWhatsApp && len(c) > 8:
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
		var v string
		if err := r.s.DB.NewSelect().TableExpr("conversation_variables").Column("value").
			Where("workspace_id = ? AND name = ?", ws, n).OrderExpr("id DESC").Limit(1).Scan(ctx, &v); err != nil {
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
	add("type=whatsapp range=30 var=email", vals("type", store.TypeWhatsApp, "range", "30", "var", "email"))

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
		add("search q="+w+" type=widget", vals("q", w, "type", store.TypeWidget))
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
	var oldID int64
	if err := r.s.DB.NewSelect().TableExpr("conversations").Column("id").Where("workspace_id = ?", ws).
		OrderExpr("id ASC").Limit(1).Scan(ctx, &oldID); err == nil && oldID > 0 {
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
			r.rec.arm()
		}
		start := time.Now()
		n, err := storeCall()
		d := time.Since(start)
		if i == r.Opts.Warmup+r.Opts.Runs-1 {
			res.StoreQueries = r.rec.disarm()
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
			plan, err := r.explain(ctx, q.SQL)
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
			r.rec.arm()
		}
		res, err := r.client.Do(req)
		if err != nil {
			return Stats{}, nil, err
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if last {
			qs = r.rec.disarm()
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

func (r *Runner) explain(ctx context.Context, sql string) (string, error) {
	rows, err := r.s.DB.DB.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS) "+sql)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return "", err
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String(), rows.Err()
}

// ---- HTTP session ----

func (r *Runner) startHTTP(ctx context.Context) error {
	buf := make([]byte, 16)
	if _, err := rand.Read(buf); err != nil {
		return err
	}
	password := hex.EncodeToString(buf)
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	email := fmt.Sprintf("bench-%d-%s@parley.invalid", r.ws.ID, password[:8])
	u := &store.User{WorkspaceID: r.ws.ID, Email: email, Name: "Benchmark", PasswordHash: hash, Role: "admin", CreatedAt: time.Now().UTC()}
	if _, err := r.s.DB.NewInsert().Model(u).Returning("id").Exec(ctx); err != nil {
		return fmt.Errorf("create the benchmark user: %w", err)
	}
	r.userID = u.ID

	w := web.New(r.App)
	r.timer = &serverTimer{h: w.Handler()}
	r.srv = httptest.NewServer(r.timer)
	jar, _ := cookiejar.New(nil)
	r.client = &http.Client{Jar: jar, Timeout: 5 * time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	res, err := r.client.Get(r.srv.URL + "/login")
	if err != nil {
		return err
	}
	d, err := goquery.NewDocumentFromReader(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	tok, _ := d.Find(`input[name="_csrf"]`).First().Attr("value")
	if res.StatusCode != http.StatusOK || tok == "" {
		return fmt.Errorf("GET /login: status %d, no CSRF token", res.StatusCode)
	}
	res, err = r.client.PostForm(r.srv.URL+"/login", url.Values{"_csrf": {tok}, "email": {email}, "password": {password}})
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("POST /login: status %d", res.StatusCode)
	}
	return nil
}

func (r *Runner) stopHTTP() {
	if r.srv != nil {
		r.srv.Close()
	}
	if r.userID > 0 {
		_, _ = r.s.DB.NewDelete().TableExpr("users").Where("id = ?", r.userID).Exec(context.Background())
	}
}

// ---- output ----

// loadAverage is the first three fields of /proc/loadavg (Linux), or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64)
}

func (r *Runner) print(res Result) {
	w := r.Out
	fmt.Fprintf(w, "## %s\n", res.Name)
	fmt.Fprintf(w, "GET %s\n", res.URL)
	match := ""
	if res.Matches >= 0 {
		match = fmt.Sprintf(", %d matching", res.Matches)
	}
	fmt.Fprintf(w, "rows %d%s\n", res.Rows, match)
	line := func(label string, s Stats) {
		if s.N == 0 {
			return
		}
		fmt.Fprintf(w, "  %-6s min %7s ms  p50 %7s ms  p95 %7s ms  max %7s ms  (first %s ms)\n", label, ms(s.Min), ms(s.P50), ms(s.P95), ms(s.Max), ms(s.First))
	}
	line("store", res.Store)
	line("page", res.Page)
	line("htmx", res.Htmx)
	if len(res.PageQueries) > 0 {
		fmt.Fprintf(w, "  the page ran %d statements:\n", len(res.PageQueries))
		for _, q := range res.PageQueries {
			fmt.Fprintf(w, "    %7s ms  %s\n", ms(q.Duration), short(q.SQL, 150))
		}
	}
	for i, q := range res.StoreQueries {
		fmt.Fprintf(w, "  store statement %d (%s ms):\n    %s\n", i+1, ms(q.Duration), q.SQL)
		if i < len(res.Explains) {
			for _, l := range strings.Split(strings.TrimRight(res.Explains[i], "\n"), "\n") {
				fmt.Fprintf(w, "    | %s\n", l)
			}
		}
	}
	fmt.Fprintln(w)
}

func short(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// WriteTable writes the results as a Markdown table (milliseconds, server time).
func WriteTable(w io.Writer, results []Result) {
	fmt.Fprintln(w, "| case | rows | matching | store min | store p50 | store p95 | page p50 | page p95 | htmx p50 | htmx p95 |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	cell := func(s Stats, d time.Duration) string {
		if s.N == 0 {
			return "–"
		}
		return ms(d)
	}
	for _, r := range results {
		m := "–"
		if r.Matches >= 0 {
			m = strconv.FormatInt(r.Matches, 10)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", strings.ReplaceAll(r.Name, "|", "\\|"), r.Rows, m,
			cell(r.Store, r.Store.Min), cell(r.Store, r.Store.P50), cell(r.Store, r.Store.P95),
			cell(r.Page, r.Page.P50), cell(r.Page, r.Page.P95), cell(r.Htmx, r.Htmx.P50), cell(r.Htmx, r.Htmx.P95))
	}
}
