package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"strings"
	"time"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/mail"
	"github.com/parleyhq/parley/app/ratelimit"
	"github.com/parleyhq/parley/app/store"
)

// Password reset (issue 13 item 4). A reset link carries a random one-time token (130 bits);
// the database keeps only its SHA-256. A link is valid ResetTTL after it was made, works once,
// and ends with any password change of its user (or a new email). Using it sets the password
// and ends all of the user's sessions. The links come by email (RequestReset, when mail is
// configured) or from an operator (`parley user reset-password EMAIL`, ResetLink).

// ResetTTL is how long a reset link works.
const ResetTTL = time.Hour

// Requests for reset mail are limited per client address (5 in 15 minutes) and per account
// (3 an hour): over the client's limit the request is refused; over the account's it is
// answered as usual and no mail is sent, so that nobody can flood a mailbox and the answer
// never tells whether an account exists.
var (
	ruleResetClient  = ratelimit.Rule{Name: "reset:client", Burst: 5, Period: 15 * time.Minute}
	ruleResetAccount = ratelimit.Rule{Name: "reset:account", Burst: 3, Period: time.Hour}
)

// ErrResetInvalid: the reset link is unknown, used or expired.
var ErrResetInvalid = errors.New("this reset link is unknown, used or expired")

// ErrUnknownEmail: no account has the email.
var ErrUnknownEmail = errors.New("no account has this email")

// ResetPath is the path of a reset link (the dashboard's route /reset/:token).
func ResetPath(token string) string { return "/reset/" + token }

// hashResetToken is the stored form of a reset token.
func hashResetToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// MailEnabled reports whether reset links can be emailed.
func (s *Service) MailEnabled() bool { return s.Mail.Enabled() }

// IssueReset makes a reset link for the user, valid for ttl (ResetTTL when 0), and returns its
// token (shown once: only its hash is kept).
func (s *Service) IssueReset(ctx context.Context, userID int64, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		ttl = ResetTTL
	}
	token := rand.Text()
	if err := s.Store.CreatePasswordReset(ctx, userID, hashResetToken(token), time.Now().Add(ttl)); err != nil {
		return "", err
	}
	return token, nil
}

// ResetLink makes a reset link for the account with email (ErrUnknownEmail when none) and
// returns the full URL (the base URL and ResetPath).
func (s *Service) ResetLink(ctx context.Context, email string) (string, *store.User, error) {
	u, err := s.Store.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, ErrUnknownEmail
	}
	if err != nil {
		return "", nil, err
	}
	token, err := s.IssueReset(ctx, u.ID, ResetTTL)
	if err != nil {
		return "", nil, err
	}
	return strings.TrimRight(s.BaseURL, "/") + ResetPath(token), u, nil
}

// RequestReset emails a reset link to the account with email, if there is one. The answer is
// the same whether or not it exists: nil (nothing said about the account), *ThrottledError
// when the client asked too often, mail.ErrNotConfigured when mail is off, or a store error.
func (s *Service) RequestReset(ctx context.Context, email, client string) error {
	if !s.Mail.Enabled() {
		return mail.ErrNotConfigured
	}
	if r := s.Limits.Allow(ctx, ruleResetClient, ratelimit.ClientKey(client)); !r.Allowed {
		return &ThrottledError{RetryAfter: r.RetryAfter}
	}
	email = strings.TrimSpace(email)
	if !mail.ValidAddress(email) {
		return nil
	}
	if r := s.Limits.Allow(ctx, ruleResetAccount, strings.ToLower(email)); !r.Allowed {
		return nil
	}
	link, u, err := s.ResetLink(ctx, email)
	if errors.Is(err, ErrUnknownEmail) {
		return nil
	}
	if err != nil {
		return err
	}
	text := fmt.Sprintf("Someone, hopefully you, asked to reset the password of your Parley account %s.\n\n"+
		"Set a new password here:\n%s\n\n"+
		"The link works once, for %s. If you did not ask for it, ignore this email: your password stays as it is.\n",
		u.Email, link, "1 hour")
	body := fmt.Sprintf(`<p>Someone, hopefully you, asked to reset the password of your Parley account %s.</p>`+
		`<p><a href="%s">Set a new password</a></p>`+
		`<p>The link works once, for 1 hour. If you did not ask for it, ignore this email: your password stays as it is.</p>`,
		html.EscapeString(u.Email), html.EscapeString(link))
	_, err = s.Mail.EnqueueMessage(ctx, mail.Message{To: u.Email, Subject: "Reset your Parley password", Text: text, HTML: body, Kind: "password_reset"})
	return err
}

// CheckReset returns the user of a reset link that still works (ErrResetInvalid otherwise).
func (s *Service) CheckReset(ctx context.Context, token string) (*store.User, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrResetInvalid
	}
	u, err := s.Store.ValidPasswordReset(ctx, hashResetToken(token), time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrResetInvalid
	}
	return u, err
}

// Reset spends a reset link and sets its user's password: *InvalidError (new_password,
// new_password_confirm; the link still works) or ErrResetInvalid (nothing written). Every
// session of the user ends, and the user's other reset links.
func (s *Service) Reset(ctx context.Context, token, next, confirm string) (*store.User, error) {
	if _, err := s.CheckReset(ctx, token); err != nil {
		return nil, err
	}
	if p := PasswordProblem(next); p != "" {
		return nil, &InvalidError{Fields: map[string]string{"new_password": p}}
	}
	if next != confirm {
		return nil, &InvalidError{Fields: map[string]string{"new_password_confirm": "The two passwords differ."}}
	}
	hash, err := auth.HashPassword(next)
	if err != nil {
		return nil, err
	}
	u, err := s.Store.UsePasswordReset(ctx, hashResetToken(token), hash, time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrResetInvalid
	}
	return u, err
}
