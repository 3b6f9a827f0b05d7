// Package cli implements Parley's subcommands. main.go only loads the configuration and calls
// Run.
//
// It parses flags, opens the container (app.Open) and starts roles and tools; what a command
// does is a call into a feature service, the store's bulk load (seed, bench) or doctor. It
// builds no SQL and holds no product rule.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/parleyhq/parley/config"
)

// ExitUsage is the exit code for bad configuration or usage.
const ExitUsage = 2

type command struct {
	name    string
	summary string
	usage   string // arguments after the name
	run     func(ctx context.Context, env *Env, args []string) error
}

// Env is what a subcommand gets.
type Env struct {
	// Stdin is read by commands that take a secret from it (nil: empty).
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

var commands []command

func register(c command) { commands = append(commands, c) }

func init() {
	register(command{"web", "run the web server only (Echo: dashboard, API, webhooks)", "", runWeb})
	register(command{"worker", "run the background worker only (asynq server)", "", runWorker})
	register(command{"scheduler", "run the periodic scheduler (asynq scheduler); run exactly one", "", runScheduler})
	register(command{"migrate", "apply, roll back or list database migrations, under the migrator's lock", "up|down|status", runMigrate})
	register(command{"apikey", "create an API key and print it", "create --name NAME [--scope read|write] [--workspace ID]", runAPIKey})
	register(command{"user", "manage accounts: create a member of a workspace, print a one-time password reset link", "create --email E --role owner|admin|agent|viewer [--workspace ID] [--password-stdin] | reset-password EMAIL", runUser})
	register(command{"seed", "fill the database with demo data, or with a large data set for benchmarks", "--demo | --bulk --conversations N --messages-per-conversation M", runSeed})
	register(command{"doctor", "check configuration, database, migrations, Redis, queues, the LLM endpoint and WhatsApp; change nothing", "[--json]", runDoctor})
	register(command{"bench", "load tools: server time of the Conversations pages, or signed WhatsApp webhooks at a fixed rate", "conversations [--workspace ID] [--runs N] [--only TEXT] | whatsapp --url URL --secret S [--rate R] [--duration D]", runBench})
}

// usageError is a wrong command line: printed with the usage, exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// Run runs the subcommand named by args (all roles in one process when there is none) and
// returns the process exit code.
func Run(args []string, env *Env) int {
	if env == nil {
		env = &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	name, rest := "", args
	if len(args) > 0 {
		name, rest = args[0], args[1:]
	}
	if name == "-h" || name == "--help" || name == "help" {
		printUsage(env.Stdout)
		return 0
	}
	var run func(context.Context, *Env, []string) error
	cmd := command{name: "", usage: "", summary: "web, workers and scheduler in one process: the embedded default"}
	if name == "" || strings.HasPrefix(name, "-") {
		run = runAll
		rest = args
	} else {
		for _, c := range commands {
			if c.name == name {
				cmd, run = c, c.run
			}
		}
		if run == nil {
			fmt.Fprintf(env.Stderr, "parley: unknown command %q\n\n", name)
			printUsage(env.Stderr)
			return ExitUsage
		}
	}
	for _, a := range rest {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprintf(env.Stdout, "usage: parley %s %s\n\n%s.\n", cmd.name, cmd.usage, cmd.summary)
			if h := helpText[cmd.name]; h != "" {
				fmt.Fprintln(env.Stdout)
				fmt.Fprint(env.Stdout, h)
			}
			fmt.Fprintln(env.Stdout, "\nConfiguration comes from the environment: run `parley --help` for the variables.")
			return 0
		}
	}
	err := run(ctx, env, rest)
	if err == nil {
		return 0
	}
	var ce *config.Error
	var ue *usageError
	switch {
	case errors.As(err, &ce):
		fmt.Fprintf(env.Stderr, "parley: configuration error: %s\n", ce.Error())
		return ExitUsage
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "parley %s: %s\nusage: parley %s %s\n", cmd.name, ue.msg, cmd.name, cmd.usage)
		return ExitUsage
	case errors.Is(err, context.Canceled):
		return 0
	}
	fmt.Fprintf(env.Stderr, "parley: %v\n", err)
	return 1
}

var helpText = map[string]string{
	"": `With no command, Parley runs every role in one process: it applies pending migrations,
creates the first admin from PARLEY_ADMIN_EMAIL/PARLEY_ADMIN_PASSWORD when no user exists,
serves the web on PARLEY_ADDR, and runs the workers and the scheduler.
`,
	"web": `Serves the dashboard, the JSON API and the webhooks on PARLEY_ADDR. Scale it out freely:
the database and Redis are the shared state. Stops gracefully on SIGTERM.
`,
	"worker": `Processes background jobs from Redis (inbound events, replies, extraction, tallies).
Scale it out freely. Stops gracefully on SIGTERM, finishing the jobs in flight.
`,
	"scheduler": `Enqueues the periodic sweeps (unprocessed inbound events, and more as the product grows).
Run exactly one.
`,
	"migrate": `  up      apply every pending migration
  down    roll back the last group of migrations
  status  list migrations and whether each is applied
`,
	"apikey": `  create --name NAME [--scope read|write] [--workspace ID]
          create an API key in the first workspace (or the one named) and print it once;
          a read key may only read (GET), a write key (the default) may also change things
`,
	"user": `  create --email E --role R [--workspace ID] [--password-stdin]
          make E a member of the workspace (default: the first) with the workspace role R
          (owner, admin, agent or viewer). With --password-stdin the account is created at
          once with the password read from the first line of stdin (at least 8 characters),
          and its id is printed. Without it, a one-time invite link (valid 7 days) is printed:
          the account is created, with a password of the person's choosing, when it is used.
  reset-password EMAIL
          print a one-time link (PARLEY_BASE_URL/reset/TOKEN) that sets the password of the
          account with EMAIL; it works once, within 1 hour, and ends the account's sessions.
          For installations without mail (PARLEY_SMTP_URL), or a person who cannot receive it.
`,
	"seed": `  --demo [--workspace ID]
          two assistants and 60 believable conversations (test, widget, WhatsApp) over the
          last 90 days; a second run adds nothing. Without any workspace it creates one with
          the user demo@parley.local and a random password, printed once.
  --bulk --conversations N --messages-per-conversation M [--workspace ID] [--batch B] [--workers W]
          a large generated data set for benchmarks: COPY on PostgreSQL (W parallel writers,
          default 2), multi-row INSERTs on SQLite; B conversations per transaction (default
          10000), counts kept right after every batch; ANALYZE at the end on PostgreSQL.
          Search words: "zanzibar" is in 0.1% of the conversations, "kilimanjaro" in 1%;
          city, product and weekday names in a few percent; "order" is common.
`,
	"bench": `  conversations [--workspace ID] [--runs N] [--warmup W] [--only TEXT] [--words a,b,c]
          [--deep ROW] [--explain=false] [--count=false] [--http=false]
          server time of the Conversations pages against DATABASE_URL: the list (first page,
          a deep cursor at row ROW, default 500000), every filter, both sorts, full-text search
          and the detail page; each store call alone and the full handler in-process (a
          temporary user logs in through the real form). p50/p95/max over N runs (default 20)
          after W warm-up runs (default 2), the statements each page ran, EXPLAIN (ANALYZE,
          BUFFERS) of each store query on PostgreSQL, and a Markdown table for BENCHMARKS.md.
          Meant for a scratch database filled by ` + "`parley seed --bulk`" + `.
  whatsapp --url URL --secret SECRET [--rate 100] [--duration 10s] [--concurrency 256]
          [--customers 500] [--phone-number-id ID] [--check] [--wait 2m]
          signed text-message webhooks at a fixed rate to a server on this machine (its
          PARLEY_WHATSAPP_APP_SECRET; an assistant connected to the phone number id), with the
          acknowledgement latency p50/p95/p99/max; then, with DATABASE_URL or --check, waits
          for the workers and checks that every acknowledged message is stored exactly once.
`,
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `Parley: the conversation log for AI assistants.

usage: parley [command] [arguments]

With no command, runs web, workers and scheduler in one process (the embedded default).

Commands:
`)
	cs := append([]command(nil), commands...)
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\n`parley COMMAND --help` tells more.\n\nEnvironment:\n")
	for _, v := range config.Vars {
		fmt.Fprintf(w, "  %-22s %s\n  %-22s default: %s\n", v.Name, strings.ReplaceAll(v.Help, "`", ""), "", strings.ReplaceAll(v.Default, "`", ""))
	}
}

// newFlags is a FlagSet that reports errors instead of exiting.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return &usageError{err.Error()}
	}
	return nil
}
