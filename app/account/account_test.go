package account_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/parleyhq/parley/app/account"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/ratelimit"
	"github.com/parleyhq/parley/app/testkit"
)

func service(t *testing.T) *account.Service {
	t.Helper()
	s := testkit.Store(t)
	opts, err := redis.ParseURL(testkit.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	for _, email := range []string{"ana@example.com", "bo@example.com"} {
		h, err := auth.HashPassword("right password")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.CreateWorkspaceWithUser(ctx, "WS "+email, email, h); err != nil {
			t.Fatal(err)
		}
	}
	return &account.Service{Store: s, Limits: ratelimit.New(rdb, slog.New(slog.NewTextHandler(io.Discard, nil)))}
}

func throttled(err error) bool {
	var te *account.ThrottledError
	return errors.As(err, &te) && te.RetryAfter > 0
}

// Ten failures for one account throttle it from every address, the right password included.
func TestAccountIsThrottledAfterTenFailures(t *testing.T) {
	a := service(t)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if _, err := a.SignIn(ctx, "ana@example.com", "guess", fmt.Sprintf("198.51.100.%d", i)); !errors.Is(err, account.ErrWrongCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	if _, err := a.SignIn(ctx, "ANA@example.com", "right password", "203.0.113.9"); !throttled(err) {
		t.Fatalf("right password while throttled: %v", err)
	}
	if u, err := a.SignIn(ctx, "bo@example.com", "right password", "203.0.113.9"); err != nil || u.Email != "bo@example.com" {
		t.Fatalf("another account from another address: %v", err)
	}
}

// Ten failures from one address throttle it for every account; another address signs in.
func TestClientIsThrottledAfterTenFailures(t *testing.T) {
	a := service(t)
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		email := fmt.Sprintf("nobody%d@example.com", i)
		if _, err := a.SignIn(ctx, email, "guess", "2001:db8:5:6::"+fmt.Sprint(i+1)); !errors.Is(err, account.ErrWrongCredentials) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	// Another address of the same /64 is the same client.
	if _, err := a.SignIn(ctx, "ana@example.com", "right password", "2001:db8:5:6::ffff"); !throttled(err) {
		t.Fatalf("same /64 while throttled: %v", err)
	}
	if u, err := a.SignIn(ctx, "ana@example.com", "right password", "2001:db8:5:7::1"); err != nil || u == nil {
		t.Fatalf("another network: %v", err)
	}
}

// Successful sign-ins are not failures: many in a row never throttle.
func TestSuccessesAreNotCounted(t *testing.T) {
	a := service(t)
	for i := 0; i < 15; i++ {
		if _, err := a.SignIn(context.Background(), "ana@example.com", "right password", "192.0.2.1"); err != nil {
			t.Fatalf("sign-in %d: %v", i, err)
		}
	}
}

func TestSetupAttemptsAreThrottled(t *testing.T) {
	a := service(t)
	for i := 0; i < 10; i++ {
		if err := a.AttemptSetup(context.Background(), "192.0.2.7"); err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if err := a.AttemptSetup(context.Background(), "192.0.2.7"); !throttled(err) {
		t.Fatalf("11th setup attempt: %v", err)
	}
}
