package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/parleyhq/parley/app/account"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/config"
)

// runUser runs `parley user SUBCOMMAND`.
func runUser(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return &usageError{"say create or reset-password EMAIL"}
	}
	switch args[0] {
	case "create":
		return runUserCreate(ctx, env, args[1:])
	case "reset-password":
		return runUserResetPassword(ctx, env, args[1:])
	}
	return &usageError{fmt.Sprintf("unknown subcommand %q", args[0])}
}

// runUserResetPassword prints a one-time link (PARLEY_BASE_URL/reset/TOKEN, valid for
// account.ResetTTL) that sets the password of the account with EMAIL: for installations
// without mail, or a person who cannot receive it.
func runUserResetPassword(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("user reset-password")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || strings.TrimSpace(fs.Arg(0)) == "" {
		return &usageError{"name exactly one EMAIL"}
	}
	email := strings.TrimSpace(fs.Arg(0))
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
	link, _, err := (&account.Service{Store: s, BaseURL: cfg.BaseURL}).ResetLink(ctx, email)
	if errors.Is(err, account.ErrUnknownEmail) {
		return fmt.Errorf("no account has the email %q", email)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, link)
	fmt.Fprintf(env.Stderr, "This link sets a new password for %s once, within 1 hour; every session of the account ends when it is used.\n", email)
	return nil
}
