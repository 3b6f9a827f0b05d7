// Package doctor checks a Parley installation and says, in plain words, what is wrong and what
// to do: configuration, database, migrations, Redis, queues, the LLM endpoint and WhatsApp.
// It never changes anything: no migration is applied, no table or user created, no secret key
// file written, no task touched.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/config"
	"github.com/parleyhq/parley/workers"
)

// Status is a check's verdict.
type Status string

const (
	OK   Status = "OK"
	Warn Status = "WARN"
	Fail Status = "FAIL"
)

// Check is one line of the report.
type Check struct {
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"` // what to do, when something is wrong
}

// Report is every check, in order.
type Report struct {
	Checks []Check `json:"checks"`
	// ConfigErr is set when the configuration does not load: nothing else was checked.
	ConfigErr error `json:"-"`
}

// Failed reports whether a check failed.
func (r *Report) Failed() bool {
	return slices.ContainsFunc(r.Checks, func(c Check) bool { return c.Status == Fail })
}

// Count is how many checks have status st.
func (r *Report) Count(st Status) int {
	n := 0
	for _, c := range r.Checks {
		if c.Status == st {
			n++
		}
	}
	return n
}

// Options configure Run.
type Options struct {
	Getenv func(string) string
	// Timeout bounds each network check (database, Redis, LLM, each Graph call); 5s when 0.
	Timeout time.Duration
	// HTTP is the client of the LLM and Graph checks; nil: a client of its own.
	HTTP *http.Client
}

// Run checks everything and returns the report.
func Run(ctx context.Context, o Options) *Report {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	r := &Report{}
	d := &doctor{o: o, r: r}
	cfg, err := config.Load(o.Getenv)
	if err != nil {
		r.ConfigErr = err
		fix := "Correct the variable in the environment; `parley --help` lists every variable."
		var ce *config.Error
		if errors.As(err, &ce) {
			fix = "Correct " + ce.Var + " in the environment; `parley --help` lists every variable."
		}
		d.add("configuration", Fail, "does not load: "+err.Error(), fix)
		return r
	}
	d.cfg = cfg
	d.configuration()
	d.database(ctx)
	d.migrations(ctx)
	d.checkRedis(ctx)
	d.queues()
	d.llm(ctx)
	d.whatsapp(ctx)
	if d.store != nil {
		d.store.Close()
	}
	if d.rdb != nil {
		d.rdb.Close()
	}
	return r
}

type doctor struct {
	o     Options
	r     *Report
	cfg   *config.Config
	store *store.Store
	dbErr string // why the database was not checked or did not answer
	// schemaOK: every migration is applied, so the tables can be read.
	schemaOK   bool
	rdb        redis.UniversalClient
	redisState string // "" ok, "embedded", or why Redis did not answer
	keys       *auth.Keys
}

func (d *doctor) add(name string, st Status, msg, fix string) {
	d.r.Checks = append(d.r.Checks, Check{Name: name, Status: st, Message: msg, Fix: fix})
}

// ---- configuration ----

func (d *doctor) configuration() {
	c := d.cfg
	db := "SQLite file " + c.SQLitePath
	if !c.Embedded() {
		db = "PostgreSQL " + redactURL(c.DatabaseURL)
	}
	rd := "in-process Redis"
	if c.RedisURL != "" {
		rd = "Redis " + redactURL(c.RedisURL)
	}
	d.add("configuration", OK, "loads: "+db+", "+rd+", listening on "+c.Addr, "")

	// The secret key: set, or the embedded mode's file, read but never written here.
	switch {
	case c.SecretKey != "":
		d.add("secret key", OK, fmt.Sprintf("PARLEY_SECRET_KEY is set (%d characters)", len(c.SecretKey)), "")
	default:
		file := c.SecretKeyFile
		if file == "" {
			file = c.SQLitePath + ".secret"
		}
		b, err := os.ReadFile(file)
		switch {
		case errors.Is(err, os.ErrNotExist):
			d.add("secret key", Warn, "PARLEY_SECRET_KEY is not set and "+file+" does not exist yet: the first start generates it",
				"Keep "+file+" with the database (sessions and stored WhatsApp tokens depend on it), or set PARLEY_SECRET_KEY (openssl rand -hex 32).")
		case err != nil:
			d.add("secret key", Fail, "cannot read "+file+": "+err.Error(), "Make the file readable by Parley, or set PARLEY_SECRET_KEY.")
		case len(strings.TrimSpace(string(b))) < 32:
			d.add("secret key", Fail, file+" holds a key shorter than 32 characters", "Delete the file to generate a new key at the next start (existing sessions and stored tokens are lost), or set PARLEY_SECRET_KEY.")
		default:
			c.SecretKey = strings.TrimSpace(string(b))
			d.add("secret key", OK, "read from "+file+" (PARLEY_SECRET_KEY is not set)", "")
		}
	}
	if c.SecretKey != "" {
		if k, err := auth.DeriveKeys(c.SecretKey); err == nil {
			d.keys = k
		}
	}

	u, _ := url.Parse(c.BaseURL) // Load checked it is an absolute http(s) URL
	host := u.Hostname()
	local := host == "localhost" || net.ParseIP(host) != nil && net.ParseIP(host).IsLoopback()
	switch {
	case u.Scheme == "http" && !local:
		d.add("base URL", Warn, c.BaseURL+" is plain http on a public host: session cookies are not marked Secure",
			"Serve Parley behind HTTPS and set PARLEY_BASE_URL to its https:// address.")
	default:
		d.add("base URL", OK, c.BaseURL, "")
	}

	var notes []string
	if c.Embedded() {
		notes = append(notes, "the database is the SQLite file "+c.SQLitePath+" (one machine; back it up)")
	}
	if c.RedisURL == "" {
		notes = append(notes, "REDIS_URL is not set: Redis runs inside the process and queued jobs are lost on restart (the sweeps re-enqueue what the database has not processed)")
	}
	if len(notes) == 0 {
		d.add("embedded mode", OK, "off: PostgreSQL and Redis are external", "")
	} else {
		d.add("embedded mode", Warn, strings.Join(notes, "; "),
			"Fine for a trial; for production set DATABASE_URL to PostgreSQL and REDIS_URL to a real Redis.")
	}
}

// redactURL hides the password of a connection URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// ---- database and migrations ----

func (d *doctor) database(ctx context.Context) {
	c := d.cfg
	if c.Embedded() {
		if _, err := os.Stat(c.SQLitePath); errors.Is(err, os.ErrNotExist) {
			d.dbErr = "there is no database yet"
			d.add("database", Warn, "the SQLite file "+c.SQLitePath+" does not exist yet", "Run `parley` (or `parley migrate up`) once: it creates the file.")
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	s, err := store.Open(ctx, c.DatabaseURL, c.SQLitePath)
	if err == nil {
		if err = s.Ping(ctx); err != nil {
			s.Close()
		}
	}
	if err != nil {
		d.dbErr = "the database does not answer"
		fix := "Check that PostgreSQL runs and that DATABASE_URL (host, port, user, password, database name) is right."
		if c.Embedded() {
			fix = "Check that " + c.SQLitePath + " is a Parley database, readable and writable by this user."
		}
		d.add("database", Fail, "cannot connect: "+plainErr(err), fix)
		return
	}
	d.store = s
	v, err := s.ServerVersion(ctx)
	if err != nil {
		v = "unknown version (" + plainErr(err) + ")"
	}
	if s.Dialect == store.Postgres {
		d.add("database", OK, "PostgreSQL "+v+" answers (dialect: postgres)", "")
	} else {
		d.add("database", OK, "SQLite "+v+" file "+c.SQLitePath+" opens (dialect: sqlite)", "")
	}
}

func (d *doctor) migrations(ctx context.Context) {
	if d.store == nil {
		d.add("migrations", Warn, "not checked: "+d.dbErr, "")
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	st, err := d.store.InspectMigrations(ctx)
	if err != nil {
		d.add("migrations", Fail, "cannot read the migration table: "+plainErr(err), "Run `parley migrate status` to see the full error.")
		return
	}
	var pending []string
	for _, m := range st {
		if !m.Applied {
			pending = append(pending, m.Name+"_"+m.Comment)
		}
	}
	if len(pending) == 0 {
		d.schemaOK = true
		d.add("migrations", OK, fmt.Sprintf("all %d applied", len(st)), "")
		return
	}
	msg := fmt.Sprintf("%d of %d pending: %s", len(pending), len(st), strings.Join(pending, ", "))
	if d.cfg.Embedded() {
		d.add("migrations", Warn, msg, "`parley` applies them at start on SQLite; `parley migrate up` applies them now.")
		return
	}
	d.add("migrations", Fail, msg, "Run `parley migrate up` (the Procfile's release phase does); web and worker refuse to start until then.")
}

// ---- Redis and queues ----

func (d *doctor) checkRedis(ctx context.Context) {
	if d.cfg.RedisURL == "" {
		d.redisState = "embedded"
		d.add("redis", OK, "in-process (REDIS_URL is not set): it lives inside the running parley process", "")
		return
	}
	opts, err := redis.ParseURL(d.cfg.RedisURL)
	if err != nil {
		d.redisState = "REDIS_URL does not parse"
		d.add("redis", Fail, "REDIS_URL does not parse: "+err.Error(), "Use redis://host:6379/0 or rediss://...")
		return
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout = d.o.Timeout, d.o.Timeout, d.o.Timeout
	opts.MaxRetries, opts.DialerRetries = -1, 1 // one attempt: a doctor reports, it does not insist
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		d.redisState = "Redis does not answer"
		d.add("redis", Fail, "Redis at "+opts.Addr+" does not answer: "+plainErr(err),
			"Start Redis, or correct REDIS_URL; web keeps storing webhooks without it, but no background job runs.")
		return
	}
	d.rdb = c
	version := "unknown version"
	if info, err := c.Info(ctx, "server").Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				version = v
			}
		}
	}
	d.add("redis", OK, fmt.Sprintf("Redis %s at %s answers (database %d)", version, opts.Addr, opts.DB), "")
}

func (d *doctor) queues() {
	switch d.redisState {
	case "":
	case "embedded":
		d.add("queues", OK, "not checked: the in-process Redis belongs to the running parley; admins see its queues at /queues", "")
		return
	default:
		d.add("queues", Warn, "not checked: "+d.redisState, "")
		return
	}
	in := asynq.NewInspectorFromRedisClient(d.rdb)
	names, err := in.Queues()
	if err != nil {
		d.add("queues", Fail, "cannot list the queues: "+plainErr(err), "")
		return
	}
	for q := range workers.QueuePriorities {
		if !slices.Contains(names, q) {
			names = append(names, q)
		}
	}
	slices.Sort(names)
	var pending, retry, archived int
	var paused []string
	for _, q := range names {
		qi, err := in.GetQueueInfo(q)
		if err != nil {
			continue // a queue that never had a task
		}
		pending += qi.Pending
		retry += qi.Retry
		archived += qi.Archived
		if qi.Paused {
			paused = append(paused, q)
		}
	}
	servers, _ := in.Servers()
	msg := fmt.Sprintf("%d pending, %d waiting for a retry, %d archived; %d worker process(es) running", pending, retry, archived, len(servers))
	var warns, fixes []string
	if archived > 0 {
		warns = append(warns, fmt.Sprintf("%d task(s) failed for good and are archived", archived))
		fixes = append(fixes, "Look at their last error on the dashboard's Queues page (admins), then run them again or delete them.")
	}
	if len(paused) > 0 {
		warns = append(warns, "paused: "+strings.Join(paused, ", "))
		fixes = append(fixes, "Resume the paused queues on the Queues page.")
	}
	if pending > 0 && len(servers) == 0 {
		warns = append(warns, "tasks are pending but no worker is running")
		fixes = append(fixes, "Start `parley worker` (or `parley`).")
	}
	if len(warns) > 0 {
		d.add("queues", Warn, msg+"; "+strings.Join(warns, "; "), strings.Join(fixes, " "))
		return
	}
	d.add("queues", OK, msg, "")
}

// ---- helpers ----

// plainErr is an error on one line, without the noise of nested wrapping.
func plainErr(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer within the timeout"
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}

func snippet(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

// Print writes one line per check: status, name, message, and what to do.
func Print(w io.Writer, r *Report) {
	for _, c := range r.Checks {
		line := fmt.Sprintf("%-4s  %-20s %s", c.Status, c.Name, c.Message)
		if c.Fix != "" {
			line += ". To fix: " + c.Fix
		}
		fmt.Fprintln(w, line)
	}
	switch f, wn := r.Count(Fail), r.Count(Warn); {
	case f > 0:
		fmt.Fprintf(w, "\n%d problem(s) to fix, %d warning(s).\n", f, wn)
	case wn > 0:
		fmt.Fprintf(w, "\nNothing failed; %d warning(s).\n", wn)
	default:
		fmt.Fprintln(w, "\nEverything looks right.")
	}
}

// PrintJSON writes the report as one JSON object.
func PrintJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		OK     bool    `json:"ok"`
		Checks []Check `json:"checks"`
	}{!r.Failed() && r.ConfigErr == nil, r.Checks})
}
