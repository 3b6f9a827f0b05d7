package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/seed"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/config"
)

func runSeed(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("seed")
	demo := fs.Bool("demo", false, "believable demo data")
	bulk := fs.Bool("bulk", false, "a large generated data set")
	wsID := fs.Int64("workspace", 0, "workspace id (default: the first workspace)")
	n := fs.Int("conversations", 0, "bulk: how many conversations")
	m := fs.Int("messages-per-conversation", 0, "bulk: messages per conversation")
	batch := fs.Int("batch", 10000, "bulk: conversations per transaction")
	workers := fs.Int("workers", 2, "bulk: parallel writers (PostgreSQL)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case *demo && *bulk:
		return &usageError{"--demo and --bulk exclude each other"}
	case !*demo && !*bulk:
		return &usageError{"say --demo or --bulk"}
	case *wsID < 0:
		return &usageError{"--workspace must be a positive id"}
	}
	if *demo {
		for _, f := range []string{"conversations", "messages-per-conversation", "batch", "workers"} {
			if set[f] {
				return &usageError{fmt.Sprintf("--%s goes with --bulk, not --demo", f)}
			}
		}
	} else {
		switch {
		case *n <= 0:
			return &usageError{"--conversations must be a positive number"}
		case *m <= 0:
			return &usageError{"--messages-per-conversation must be a positive number"}
		case *batch <= 0:
			return &usageError{"--batch must be a positive number"}
		case *workers <= 0 || *workers > 16:
			return &usageError{"--workers must be between 1 and 16"}
		}
	}

	cfg, err := config.Load(env.Getenv)
	if err != nil {
		return err
	}
	s, err := store.Open(ctx, cfg.DatabaseURL, cfg.SQLitePath)
	if err != nil {
		return err
	}
	defer s.Close()
	if cfg.Embedded() {
		if _, err := s.MigrateUp(ctx); err != nil {
			return err
		}
	}
	ws, password, err := seed.Workspace(ctx, s, *wsID)
	if err != nil {
		return err
	}
	if password != "" {
		fmt.Fprintf(env.Stdout, "created workspace %d %q; sign in as %s with password %s (shown once: keep it)\n",
			ws.ID, ws.Name, seed.DemoEmail, password)
	}

	if *demo {
		added, err := seed.Demo(ctx, s, ws.ID, time.Now())
		if err != nil {
			return err
		}
		if !added {
			fmt.Fprintf(env.Stdout, "demo data already present in workspace %d (%s): nothing added\n", ws.ID, ws.Name)
			return nil
		}
		counts, err := s.ConversationCounts(ctx, ws.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "added demo data to workspace %d (%s): 2 assistants, %d conversations; the workspace now has %d test, %d widget and %d WhatsApp conversations\n",
			ws.ID, ws.Name, seed.DemoConversations, counts.ByType[model.TypeTest], counts.ByType[model.TypeWidget], counts.ByType[model.TypeWhatsApp])
		return nil
	}

	fmt.Fprintf(env.Stdout, "loading %d conversations of %d messages into workspace %d (%s, %s), %d per transaction\n",
		*n, *m, ws.ID, ws.Name, s.Dialect, *batch)
	res, err := seed.Bulk(ctx, s, seed.BulkOptions{
		WorkspaceID: ws.ID, Conversations: *n, MessagesPerConversation: *m, Batch: *batch, Workers: *workers,
	}, env.Stdout)
	if err != nil {
		if res.Rows() > 0 {
			fmt.Fprintf(env.Stderr, "parley seed: stopped after %s (committed batches stay, with their counts)\n", res)
		}
		return err
	}
	fmt.Fprintln(env.Stdout, res.String())
	return nil
}
