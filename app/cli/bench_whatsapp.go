package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/parleyhq/parley/app/bench"
	"github.com/parleyhq/parley/app/store"
)

// runBenchWhatsApp is `parley bench whatsapp`: signed webhooks at a fixed rate to a local
// server, then (with DATABASE_URL or --check) a check that each message is stored once.
func runBenchWhatsApp(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("bench whatsapp")
	u := fs.String("url", "", "the webhook URL, on this machine (e.g. http://127.0.0.1:8080/webhooks/whatsapp)")
	secret := fs.String("secret", "", "the server's PARLEY_WHATSAPP_APP_SECRET")
	rate := fs.Float64("rate", 100, "webhooks per second")
	dur := fs.Duration("duration", 10*time.Second, "how long to send")
	pid := fs.String("phone-number-id", "106540352242922", "metadata.phone_number_id: an assistant must be connected to it")
	conc := fs.Int("concurrency", 256, "requests in flight at most")
	customers := fs.Int("customers", 500, "distinct customers (wa_id) the messages come from")
	check := fs.Bool("check", false, "check the database afterwards (also done when DATABASE_URL is set)")
	wait := fs.Duration("wait", 2*time.Minute, "how long the check waits for the workers to process the messages")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	case *u == "":
		return &usageError{"--url is required"}
	case *secret == "":
		return &usageError{"--secret is required"}
	}
	if err := bench.CheckLoopback(*u); err != nil {
		return &usageError{err.Error()}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	res, err := bench.WhatsApp(ctx, bench.WhatsAppOptions{
		URL: *u, Secret: *secret, PhoneNumberID: *pid, Rate: *rate, Duration: *dur, Concurrency: *conc, Customers: *customers,
	}, env.Stdout)
	if err != nil {
		return err
	}
	dbURL := env.Getenv("DATABASE_URL")
	if !*check && dbURL == "" {
		fmt.Fprintln(env.Stdout, "check skipped: set DATABASE_URL (or pass --check) to check the database")
		return nil
	}
	sqliteFile := ""
	if dbURL == "" {
		sqliteFile = "parley.db" // the embedded default
	}
	st, err := store.Open(ctx, dbURL, sqliteFile)
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := bench.CheckWhatsApp(ctx, st, res.IDs, *wait, env.Stdout)
	if err != nil {
		return err
	}
	if !c.OK() {
		return errors.New("bench whatsapp: some acknowledged messages are missing or duplicated in the database")
	}
	return nil
}
