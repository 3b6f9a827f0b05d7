package account

import (
	"context"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/config"
)

// A person's own account (issue 13 item 4): name, email and password.

// InvalidError says which fields are wrong and why (field name -> sentence).
type InvalidError struct{ Fields map[string]string }

func (e *InvalidError) Error() string {
	var b strings.Builder
	for f, m := range e.Fields {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f + ": " + m)
	}
	return b.String()
}

// ErrEmailTaken: another account uses the email (case-insensitively). A conflict, not a typo.
var ErrEmailTaken = errors.New("another account uses this email")

// ErrWrongPassword: the current password given to change it is wrong.
var ErrWrongPassword = errors.New("the current password is wrong")

// MaxNameLength bounds a person's display name.
const MaxNameLength = 100

// PasswordProblem says what is wrong with a new password, "" when nothing: from
// auth.MinPasswordLength characters up to 72 bytes (bcrypt reads no further).
func PasswordProblem(pw string) string {
	switch {
	case len(pw) < auth.MinPasswordLength:
		return "Use at least 8 characters."
	case len(pw) > 72:
		return "Use at most 72 characters."
	}
	return ""
}

// UpdateProfile sets the user's display name and email: the name up to 100 characters (may be
// empty), the email a valid address that no other account uses. *InvalidError names the
// fields that are wrong (name, email); ErrEmailTaken is a conflict on email.
func (s *Service) UpdateProfile(ctx context.Context, userID int64, name, email string) error {
	name, email = strings.TrimSpace(name), strings.TrimSpace(email)
	bad := map[string]string{}
	if utf8.RuneCountInString(name) > MaxNameLength || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		bad["name"] = "Use at most 100 characters, on one line."
	}
	if !config.LooksLikeEmail(email) {
		bad["email"] = "Enter a valid email address."
	}
	if len(bad) > 0 {
		return &InvalidError{Fields: bad}
	}
	err := s.Store.UpdateProfile(ctx, userID, name, email)
	if errors.Is(err, store.ErrEmailTaken) {
		return ErrEmailTaken
	}
	return err
}

// ChangePassword sets u's password to next after checking current, and ends every other
// session of u (keepSession, the request's own, stays) and u's unused reset links. A wrong
// current password is ErrWrongPassword and counts as a failed sign-in of the account (so a
// borrowed session cannot guess it fast); while the account is throttled the answer is
// *ThrottledError. *InvalidError names new_password or new_password_confirm. It says how
// many sessions ended.
func (s *Service) ChangePassword(ctx context.Context, u *store.User, current, next, confirm string, keepSession int64) (int64, error) {
	acct := strings.ToLower(strings.TrimSpace(u.Email))
	if err := s.throttled(ctx, check{ruleAccount, acct}); err != nil {
		auth.BurnPasswordCheck(current)
		return 0, err
	}
	if !auth.CheckPassword(u.PasswordHash, current) {
		s.Limits.Allow(ctx, ruleAccount, acct)
		return 0, ErrWrongPassword
	}
	bad := map[string]string{}
	if p := PasswordProblem(next); p != "" {
		bad["new_password"] = p
	} else if next != confirm {
		bad["new_password_confirm"] = "The two passwords differ."
	}
	if len(bad) > 0 {
		return 0, &InvalidError{Fields: bad}
	}
	hash, err := auth.HashPassword(next)
	if err != nil {
		return 0, err
	}
	return s.Store.SetPassword(ctx, u.ID, hash, keepSession)
}
