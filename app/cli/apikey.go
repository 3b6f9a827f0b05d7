package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/config"
)

func runAPIKey(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return &usageError{"say create"}
	}
	fs := newFlags("apikey create")
	name := fs.String("name", "", "a name for the key")
	wsID := fs.Int64("workspace", 0, "workspace id (default: the first workspace)")
	scopeFlag := fs.String("scope", model.DefaultScope, "what the key may do: read (GET only) or write (everything)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	n := strings.TrimSpace(*name)
	if n == "" || len(n) > 100 {
		return &usageError{"--name is required (1 to 100 characters)"}
	}
	scope, err := model.ParseScope(*scopeFlag)
	if err != nil || *scopeFlag == "" {
		return &usageError{fmt.Sprintf("--scope must be %s or %s, not %q", model.ScopeRead, model.ScopeWrite, *scopeFlag)}
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
	var ws *store.Workspace
	if *wsID > 0 {
		ws, err = s.WorkspaceByID(ctx, *wsID)
	} else {
		ws, err = s.FirstWorkspace(ctx)
	}
	if errors.Is(err, store.ErrNotFound) {
		if *wsID > 0 {
			return fmt.Errorf("workspace %d does not exist", *wsID)
		}
		return errors.New("no workspace exists yet: start Parley and create the first admin (or set PARLEY_ADMIN_EMAIL and PARLEY_ADMIN_PASSWORD)")
	}
	if err != nil {
		return err
	}
	key, prefix, hash, err := auth.NewAPIKey()
	if err != nil {
		return err
	}
	// Made from the command line: the system's doing in the audit log.
	entry := audit.New(ctx, ws.ID, audit.APIKeyCreate, audit.On(audit.TargetAPIKey, 0), map[string]any{"name": n, "prefix": prefix, "scope": scope, "via": "cli"})
	if err := s.InsertAPIKey(ctx, &store.APIKey{WorkspaceID: ws.ID, Name: n, Prefix: prefix, KeyHash: hash, Scope: scope}, entry); err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, key)
	return nil
}
