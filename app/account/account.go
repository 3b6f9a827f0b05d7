// Package account holds the sign-in use cases: checking a password against the store and
// throttling guessing, per account and per client address (10 failures in 15 minutes each,
// counted by app/ratelimit in Redis, in-process while Redis does not answer). While throttled,
// every attempt is refused, the correct password included, so that guessing learns nothing.
//
// It also owns a person's own account (profile.go: name, email, password change) and password
// reset by one-time links (reset.go).
//
// It owns these rules; the dashboard and the CLI translate its errors. It may import the
// store, app/auth, app/mail and app/ratelimit; never app/web, views or workers.
package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/audit"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/mail"
	"github.com/parleyhq/parley/app/ratelimit"
	"github.com/parleyhq/parley/app/store"
)

// The throttling rules: failures per account (whatever the address) and per client address
// (whatever the account), and attempts to run the one-time setup per client address.
var (
	ruleAccount = ratelimit.Rule{Name: "signin:account", Burst: 10, Period: 15 * time.Minute}
	ruleClient  = ratelimit.Rule{Name: "signin:client", Burst: 10, Period: 15 * time.Minute}
	ruleSetup   = ratelimit.Rule{Name: "setup:client", Burst: 10, Period: 15 * time.Minute}
)

// ErrWrongCredentials is a sign-in with an unknown email or a wrong password (the two are
// not told apart).
var ErrWrongCredentials = errors.New("wrong email or password")

// ThrottledError refuses an attempt while too many have failed.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many attempts: try again in %s", e.RetryAfter.Round(time.Second))
}

// RetryAfterSeconds is the Retry-After header's value: whole seconds, at least 1.
func (e *ThrottledError) RetryAfterSeconds() int {
	return ratelimit.Result{RetryAfter: e.RetryAfter}.RetryAfterSeconds()
}

// Minutes says the wait in words for a page: "1 minute", "12 minutes".
func (e *ThrottledError) Minutes() string {
	m := int((e.RetryAfter + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// Service signs people in and keeps their accounts.
type Service struct {
	Store  *store.Store
	Limits *ratelimit.Limiter
	// Mail sends reset links (not Enabled without PARLEY_SMTP_URL); BaseURL
	// (PARLEY_BASE_URL) begins every link.
	Mail    *mail.Service
	BaseURL string
}

// SignIn returns the user whose email and password these are. client is the client's
// address. It answers *ThrottledError while the account or the address has failed too often,
// ErrWrongCredentials on a wrong pair (counted against both), or the store's error.
func (s *Service) SignIn(ctx context.Context, email, password, client string) (*store.User, error) {
	acct := strings.ToLower(strings.TrimSpace(email))
	addr := ratelimit.ClientKey(client)
	if err := s.throttled(ctx, check{ruleAccount, acct}, check{ruleClient, addr}); err != nil {
		auth.BurnPasswordCheck(password) // the same time as a real check
		return nil, err
	}
	u, err := s.Store.UserByEmail(ctx, email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		auth.BurnPasswordCheck(password)
	case err != nil:
		return nil, err
	case auth.CheckPassword(u.PasswordHash, password):
		// The sign-in, recorded in the audit log of every workspace the user belongs to (the
		// session opens them all), in its transaction; the user is the actor (nobody is signed
		// in yet in ctx).
		wss, err := s.Store.UserWorkspaces(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		entries := make([]*store.AuditEntry, 0, len(wss))
		for _, w := range wss {
			entries = append(entries, audit.NewBy(audit.UserActor(u), w.ID, audit.SignIn, audit.On(audit.TargetUser, u.ID), map[string]any{"ip": client}))
		}
		if err := s.Store.TouchLogin(ctx, u.ID, entries...); err != nil {
			return nil, err
		}
		return u, nil
	}
	s.Limits.Allow(ctx, ruleAccount, acct)
	s.Limits.Allow(ctx, ruleClient, addr)
	return nil, ErrWrongCredentials
}

// AttemptSetup counts one attempt at the one-time setup from client; past the rule it answers
// *ThrottledError.
func (s *Service) AttemptSetup(ctx context.Context, client string) error {
	if r := s.Limits.Allow(ctx, ruleSetup, ratelimit.ClientKey(client)); !r.Allowed {
		return &ThrottledError{RetryAfter: r.RetryAfter}
	}
	return nil
}

// check is a rule and the key it counts.
type check struct {
	rule ratelimit.Rule
	key  string
}

// throttled looks at checks without counting, and answers the longest wait.
func (s *Service) throttled(ctx context.Context, checks ...check) error {
	var wait time.Duration
	for _, c := range checks {
		if r := s.Limits.Peek(ctx, c.rule, c.key); !r.Allowed {
			wait = max(wait, r.RetryAfter)
		}
	}
	if wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	return nil
}
