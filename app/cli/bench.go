package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/parleyhq/parley/app"
	"github.com/parleyhq/parley/app/bench"
	"github.com/parleyhq/parley/config"
)

func runBench(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 && args[0] == "whatsapp" { // bench_whatsapp.go
		return runBenchWhatsApp(ctx, env, args[1:])
	}
	if len(args) == 0 || args[0] != "conversations" {
		return &usageError{"say conversations or whatsapp"}
	}
	fs := newFlags("bench conversations")
	wsID := fs.Int64("workspace", 0, "workspace id (default: the first workspace)")
	runs := fs.Int("runs", 20, "measured runs per case and mode")
	warmup := fs.Int("warmup", 2, "unmeasured runs before them")
	explain := fs.Bool("explain", true, "print EXPLAIN (ANALYZE, BUFFERS) of each store query (PostgreSQL)")
	count := fs.Bool("count", true, "count the rows each filter matches (not timed)")
	httpToo := fs.Bool("http", true, "measure the HTTP handlers in-process too")
	only := fs.String("only", "", "run only the cases whose name contains this")
	words := fs.String("words", "zanzibar,kilimanjaro,lisbon,order", "comma-separated search words")
	deepAt := fs.Int("deep", 500_000, "row position of the deep cursors")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	case *wsID < 0:
		return &usageError{"--workspace must be a positive id"}
	case *runs <= 0 || *runs > 10000:
		return &usageError{"--runs must be between 1 and 10000"}
	case *warmup < 0:
		return &usageError{"--warmup must not be negative"}
	case *deepAt <= 0:
		return &usageError{"--deep must be a positive number"}
	}
	var ws []string
	for _, w := range strings.Split(*words, ",") {
		if w = strings.TrimSpace(w); w != "" {
			ws = append(ws, w)
		}
	}
	cfg, err := config.Load(env.Getenv)
	if err != nil {
		return err
	}
	a, err := app.Open(ctx, cfg, app.Options{SkipMigrate: !cfg.Embedded()})
	if err != nil {
		return err
	}
	defer a.Close()
	if !cfg.Embedded() {
		if n, err := a.Store.Pending(ctx); err != nil {
			return err
		} else if n > 0 {
			return fmt.Errorf("%d database migration(s) pending: run `parley migrate up` first", n)
		}
	}
	_, err = bench.Conversations(ctx, a, bench.Options{
		WorkspaceID: *wsID, Runs: *runs, Warmup: *warmup, Explain: *explain, Count: *count,
		Only: *only, Words: ws, DeepAt: *deepAt, HTTP: *httpToo,
	}, env.Stdout)
	return err
}
