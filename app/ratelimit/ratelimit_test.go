package ratelimit_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app/ratelimit"
	"github.com/parleyhq/parley/app/testkit"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func redisClient(t *testing.T) redis.UniversalClient {
	t.Helper()
	opts, err := redis.ParseURL(testkit.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

// The limit is shared through Redis (two limiters, as in two web processes, count together),
// a peek counts nothing, and the bucket refills evenly: one event comes back after
// Period/Burst, not all of them at a window's end.
func TestSharedSlidingLimit(t *testing.T) {
	rdb := redisClient(t)
	a, b := ratelimit.New(rdb, quiet()), ratelimit.New(rdb, quiet())
	ctx := context.Background()
	rule := ratelimit.Rule{Name: "t", Burst: 3, Period: 3 * time.Second}
	for i := 0; i < 3; i++ {
		if p := a.Peek(ctx, rule, "k"); !p.Allowed || p.Local {
			t.Fatalf("peek %d: %+v", i, p)
		}
		l := a
		if i%2 == 1 {
			l = b
		}
		if r := l.Allow(ctx, rule, "k"); !r.Allowed || r.Local {
			t.Fatalf("event %d: %+v", i, r)
		}
	}
	for _, l := range []*ratelimit.Limiter{a, b} {
		if r := l.Peek(ctx, rule, "k"); r.Allowed || r.RetryAfter <= 0 || r.RetryAfter > time.Second+100*time.Millisecond {
			t.Fatalf("peek after the burst: %+v", r)
		}
		if r := l.Allow(ctx, rule, "k"); r.Allowed || r.RetryAfterSeconds() < 1 {
			t.Fatalf("event after the burst: %+v", r)
		}
	}
	if r := a.Allow(ctx, rule, "other"); !r.Allowed {
		t.Fatalf("another key has its own bucket: %+v", r)
	}
	time.Sleep(1100 * time.Millisecond) // one interval: one event back, not three
	if r := b.Allow(ctx, rule, "k"); !r.Allowed {
		t.Fatalf("after one interval: %+v", r)
	}
	if r := b.Allow(ctx, rule, "k"); r.Allowed {
		t.Fatalf("only one event came back: %+v", r)
	}
}

// While Redis does not answer, the in-process limiter keeps limiting.
func TestLimitsWithoutRedis(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	l := ratelimit.New(rdb, quiet())
	ctx := context.Background()
	rule := ratelimit.Rule{Name: "t", Burst: 2, Period: time.Minute}
	m.Close() // Redis is gone
	for i := 0; i < 2; i++ {
		if r := l.Allow(ctx, rule, "k"); !r.Allowed || !r.Local {
			t.Fatalf("event %d: %+v", i, r)
		}
	}
	if r := l.Peek(ctx, rule, "k"); r.Allowed || !r.Local || r.RetryAfter < 29*time.Second {
		t.Fatalf("peek: %+v", r)
	}
	if r := l.Allow(ctx, rule, "k"); r.Allowed || !r.Local {
		t.Fatalf("third event without Redis: %+v", r)
	}
}

// A Redis that hangs does not hold the caller: the in-process limiter answers within the
// limiter's own timeout.
func TestHungRedisFallsBack(t *testing.T) {
	m := miniredis.RunT(t)
	m.SetError("") // answers normally first
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	l := ratelimit.New(rdb, quiet())
	rule := ratelimit.Rule{Name: "t", Burst: 1, Period: time.Minute}
	m.SetError("LOADING Redis is loading the dataset in memory")
	r := l.Allow(context.Background(), rule, "k")
	if !r.Allowed || !r.Local {
		t.Fatalf("first event while Redis errs: %+v", r)
	}
	if r := l.Allow(context.Background(), rule, "k"); r.Allowed {
		t.Fatalf("second event while Redis errs: %+v", r)
	}
}

func TestClientKeyGroupsIPv6ByPrefix(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"not-an-ip", "not-an-ip"},
	} {
		if got := ratelimit.ClientKey(tc.in); got != tc.want {
			t.Errorf("ClientKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
