package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/parleyhq/parley/app/model"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/team"
	"github.com/parleyhq/parley/app/web/routenames"
	"github.com/parleyhq/parley/config"
)

// Workspaces and people for scripted setups: `parley workspace create` and `parley user
// create`. app/team decides; these parse flags and print.

func init() {
	register(command{"workspace", "create a workspace and print its id", "create --name N [--owner-email E]", runWorkspace})
	helpText["workspace"] = `  create --name N [--owner-email E]
          create a workspace and print its id; E (an existing account) becomes its owner.
          Without an owner, fill it with ` + "`parley user create --role owner --workspace ID`" + `.
`
}

// openStore opens the database of the configuration (migrating the embedded SQLite file).
func openStore(ctx context.Context, env *Env) (*config.Config, *store.Store, error) {
	cfg, err := config.Load(env.Getenv)
	if err != nil {
		return nil, nil, err
	}
	s, err := store.Open(ctx, cfg.DatabaseURL, cfg.SQLitePath)
	if err != nil {
		return nil, nil, err
	}
	if cfg.Embedded() {
		if _, err := s.MigrateUp(ctx); err != nil {
			s.Close()
			return nil, nil, err
		}
	}
	return cfg, s, nil
}

// fieldError is a team.FieldError as the command line names it: the flag.
func fieldError(err error, flags map[string]string) error {
	var fe *team.FieldError
	if errors.As(err, &fe) {
		name := fe.Field
		if f, ok := flags[fe.Field]; ok {
			name = f
		}
		return &usageError{"--" + name + " " + fe.Message}
	}
	return err
}

func runWorkspace(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		return &usageError{"say create"}
	}
	fs := newFlags("workspace create")
	name := fs.String("name", "", "the workspace's name")
	owner := fs.String("owner-email", "", "the email of an existing account that becomes its owner")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	_, s, err := openStore(ctx, env)
	if err != nil {
		return err
	}
	defer s.Close()
	ws, err := (&team.Service{Store: s}).CreateWorkspaceForScript(ctx, *name, strings.TrimSpace(*owner))
	if err != nil {
		return fieldError(err, nil)
	}
	fmt.Fprintln(env.Stdout, ws.ID)
	return nil
}

// runUserCreate runs `parley user create` (user.go dispatches the subcommands of user).
func runUserCreate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("user create")
	email := fs.String("email", "", "the person's email")
	role := fs.String("role", "", "their role in the workspace: owner, admin, agent or viewer")
	wsID := fs.Int64("workspace", 0, "workspace id (default: the first workspace)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	if strings.TrimSpace(*email) == "" {
		return &usageError{"--email is required"}
	}
	if !model.MemberRole(*role).Valid() {
		return &usageError{fmt.Sprintf("--role must be one of owner, admin, agent, viewer (got %q)", *role)}
	}
	var password string
	if *pwStdin {
		in := env.Stdin
		if in == nil {
			in = strings.NewReader("")
		}
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading the password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	cfg, s, err := openStore(ctx, env)
	if err != nil {
		return err
	}
	defer s.Close()
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
		return errors.New("no workspace exists yet: create one with `parley workspace create --name N`")
	}
	if err != nil {
		return err
	}
	t := &team.Service{Store: s}
	flags := map[string]string{"password": "password-stdin"}
	if *pwStdin {
		u, err := t.CreateMemberForScript(ctx, ws.ID, *email, model.MemberRole(*role), password)
		if err != nil {
			return fieldError(err, flags)
		}
		fmt.Fprintln(env.Stdout, u.ID)
		return nil
	}
	link := func(token string) string { return cfg.BaseURL + routenames.URL(routenames.Invite, token) }
	inv, err := t.InviteForScript(ctx, ws, *email, model.MemberRole(*role), link)
	if err != nil {
		return fieldError(err, flags)
	}
	fmt.Fprintln(env.Stdout, inv.URL)
	return nil
}
