package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/config"
)

func runMigrate(ctx context.Context, env *Env, args []string) error {
	if len(args) != 1 {
		return &usageError{"say up, down or status"}
	}
	switch args[0] {
	case "up", "down", "status":
	default:
		// Checked before the database is opened: a typo must not create a SQLite file.
		return &usageError{fmt.Sprintf("unknown migrate action %q: say up, down or status", args[0])}
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
	switch args[0] {
	case "up":
		names, err := s.MigrateUp(ctx)
		if err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Fprintln(env.Stdout, "nothing to migrate: the database is up to date")
		}
		for _, n := range names {
			fmt.Fprintln(env.Stdout, "applied", n)
		}
	case "down":
		names, err := s.MigrateDown(ctx)
		if err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Fprintln(env.Stdout, "nothing to roll back")
		}
		for _, n := range names {
			fmt.Fprintln(env.Stdout, "rolled back", n)
		}
	case "status":
		st, err := s.InspectMigrations(ctx) // read-only: status creates no table
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MIGRATION\tSTATUS\tGROUP")
		for _, m := range st {
			state := "pending"
			if m.Applied {
				state = "applied " + m.AppliedAt.UTC().Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(tw, "%s_%s\t%s\t%d\n", m.Name, m.Comment, state, m.GroupID)
		}
		return tw.Flush()
	default:
		return &usageError{fmt.Sprintf("unknown migrate action %q: say up, down or status", args[0])}
	}
	return nil
}
