package app

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/config"
)

// The in-process Redis answers only this process: a local client without the password it drew
// at start (any other user of the machine) is refused, so it cannot enqueue work or read queues.
func TestEmbeddedRedisRequiresItsPassword(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(dir, "parley.db")}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := Open(ctx, cfg, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !a.EmbeddedRedis() {
		t.Fatal("without REDIS_URL the app runs its in-process Redis")
	}
	if err := a.Redis.Ping(ctx).Err(); err != nil {
		t.Fatalf("the app's own client: %v", err)
	}
	addr := a.mini.Addr()
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("in-process Redis listens on %s, want loopback", addr)
	}
	for name, opts := range map[string]*redis.Options{
		"no password":    {Addr: addr},
		"wrong password": {Addr: addr, Password: "guess"},
	} {
		c := redis.NewClient(opts)
		err := c.Set(ctx, "asynq:{default}:pending", "x", 0).Err()
		c.Close()
		if err == nil {
			t.Fatalf("%s: a local client wrote to the in-process Redis", name)
		}
		if !strings.Contains(err.Error(), "NOAUTH") && !strings.Contains(err.Error(), "WRONGPASS") && !strings.Contains(strings.ToLower(err.Error()), "auth") {
			t.Fatalf("%s: refused for another reason: %v", name, err)
		}
	}
}
