package cli

import (
	"context"
	"fmt"

	"github.com/parleyhq/parley/app/doctor"
)

func init() {
	helpText["doctor"] = `Checks, in order, and prints one line per check with OK, WARN or FAIL and what to do:
the configuration (variables, secret key, base URL, embedded-mode caveats), the database
(connects, version, dialect), migrations (pending ones by name), Redis (ping, version),
the asynq queues (pending, retry, archived), the LLM endpoint (GET /models with the key;
the default model is listed) and WhatsApp (app secret, verify token, and for every assistant
with a number, Graph API access with its stored token).
Doctor changes nothing: it applies no migration, creates no user or file, touches no task.
Exit code 0 when nothing fails, 1 when a check fails, 2 when the configuration is invalid.
  --json  print the report as JSON
`
}

func runDoctor(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("doctor")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	r := doctor.Run(ctx, doctor.Options{Getenv: env.Getenv})
	if *asJSON {
		if err := doctor.PrintJSON(env.Stdout, r); err != nil {
			return err
		}
	} else {
		doctor.Print(env.Stdout, r)
	}
	if r.ConfigErr != nil {
		return r.ConfigErr // exit code 2, like every command
	}
	if r.Failed() {
		return fmt.Errorf("doctor: %d check(s) failed", r.Count(doctor.Fail))
	}
	return nil
}
