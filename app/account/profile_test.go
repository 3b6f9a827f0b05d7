package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/app/account"
	"github.com/parleyhq/parley/app/auth"
	"github.com/parleyhq/parley/app/mail"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/config"
)

func user(t *testing.T, a *account.Service, email string) *store.User {
	t.Helper()
	u, err := a.Store.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// login stores a logged-in session of u and returns its id.
func login(t *testing.T, a *account.Service, u *store.User, token string) int64 {
	t.Helper()
	ctx := context.Background()
	ws := u.WorkspaceID
	r := &store.Session{TokenHash: token, Data: []byte("x"), Expiry: time.Now().Add(time.Hour), UserID: &u.ID, WorkspaceID: &ws, LastSeenAt: time.Now()}
	if err := a.Store.SaveSession(ctx, r); err != nil {
		t.Fatal(err)
	}
	row, err := a.Store.SessionByHash(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	return row.ID
}

func sessionIDs(t *testing.T, a *account.Service, u *store.User) []int64 {
	t.Helper()
	rows, err := a.Store.UserSessions(context.Background(), u.ID, time.Now(), time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids
}

func fields[T any](_ T, err error) map[string]string {
	var ie *account.InvalidError
	if errors.As(err, &ie) {
		return ie.Fields
	}
	return nil
}

func TestUpdateProfile(t *testing.T) {
	a := service(t)
	ctx := context.Background()
	ana := user(t, a, "ana@example.com")
	if err := a.UpdateProfile(ctx, ana.ID, "  Ana Lima ", "Ana.Lima@Example.com "); err != nil {
		t.Fatal(err)
	}
	if u := user(t, a, "ana.lima@example.com"); u.Name != "Ana Lima" || u.Email != "Ana.Lima@Example.com" {
		t.Fatalf("saved: %+v", u)
	}
	// Another account's email, whatever its case, is a conflict; nothing is written.
	if err := a.UpdateProfile(ctx, ana.ID, "Someone", "BO@example.COM"); !errors.Is(err, account.ErrEmailTaken) {
		t.Fatalf("taken email: %v", err)
	}
	if u := user(t, a, "ana.lima@example.com"); u.Name != "Ana Lima" {
		t.Fatalf("a refused change wrote: %+v", u)
	}
	if f := fields(0, a.UpdateProfile(ctx, ana.ID, "x", "not-an-email")); f["email"] == "" {
		t.Fatalf("bad email: %v", f)
	}
	if f := fields(0, a.UpdateProfile(ctx, ana.ID, strings.Repeat("n", 101), "ana@example.com")); f["name"] == "" {
		t.Fatalf("long name: %v", f)
	}
	// Keeping one's own email (another case) is no conflict.
	if err := a.UpdateProfile(ctx, ana.ID, "Ana", "ANA.LIMA@example.com"); err != nil {
		t.Fatal(err)
	}
}

func TestChangePasswordEndsOtherSessions(t *testing.T) {
	a := service(t)
	ctx := context.Background()
	ana, bo := user(t, a, "ana@example.com"), user(t, a, "bo@example.com")
	here := login(t, a, ana, "here")
	login(t, a, ana, "laptop")
	login(t, a, ana, "phone")
	boSession := login(t, a, bo, "bo")

	if _, err := a.ChangePassword(ctx, ana, "wrong password", "new password 1", "new password 1", here); !errors.Is(err, account.ErrWrongPassword) {
		t.Fatalf("wrong current password: %v", err)
	}
	if f := fields(a.ChangePassword(ctx, ana, "right password", "short", "short", here)); f["new_password"] == "" {
		t.Fatalf("short password: %v", f)
	}
	if f := fields(a.ChangePassword(ctx, ana, "right password", "new password 1", "new password 2", here)); f["new_password_confirm"] == "" {
		t.Fatalf("mismatch: %v", f)
	}
	if n := len(sessionIDs(t, a, ana)); n != 3 {
		t.Fatalf("refused changes ended sessions: %d left", n)
	}
	ended, err := a.ChangePassword(ctx, ana, "right password", "new password 1", "new password 1", here)
	if err != nil || ended != 2 {
		t.Fatalf("change: %d %v", ended, err)
	}
	if ids := sessionIDs(t, a, ana); len(ids) != 1 || ids[0] != here {
		t.Fatalf("sessions left: %v, want only %d", ids, here)
	}
	if ids := sessionIDs(t, a, bo); len(ids) != 1 || ids[0] != boSession {
		t.Fatalf("another user's sessions: %v", ids)
	}
	if !auth.CheckPassword(user(t, a, "ana@example.com").PasswordHash, "new password 1") {
		t.Fatal("the new password does not work")
	}
	if _, err := a.SignIn(ctx, "ana@example.com", "right password", "10.0.0.1"); !errors.Is(err, account.ErrWrongCredentials) {
		t.Fatalf("the old password still works: %v", err)
	}
}

// Wrong current passwords count as failed sign-ins: a borrowed session cannot guess fast.
func TestChangePasswordIsThrottled(t *testing.T) {
	a := service(t)
	ctx := context.Background()
	ana := user(t, a, "ana@example.com")
	for i := 0; i < 10; i++ {
		if _, err := a.ChangePassword(ctx, ana, "guess", "new password 1", "new password 1", 0); !errors.Is(err, account.ErrWrongPassword) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if _, err := a.ChangePassword(ctx, ana, "right password", "new password 1", "new password 1", 0); !throttled(err) {
		t.Fatalf("after 10 wrong guesses: %v", err)
	}
}

func TestResetLinks(t *testing.T) {
	a := service(t)
	a.BaseURL = "https://parley.example.test"
	ctx := context.Background()
	ana := user(t, a, "ana@example.com")
	here := login(t, a, ana, "here")
	login(t, a, ana, "there")

	if _, _, err := a.ResetLink(ctx, "nobody@example.com"); !errors.Is(err, account.ErrUnknownEmail) {
		t.Fatalf("unknown email: %v", err)
	}
	link, u, err := a.ResetLink(ctx, "ANA@example.com")
	if err != nil || u.ID != ana.ID || !strings.HasPrefix(link, "https://parley.example.test/reset/") {
		t.Fatalf("link: %q %v", link, err)
	}
	token := strings.TrimPrefix(link, "https://parley.example.test/reset/")
	// Only the token's hash is stored.
	if rows, _ := a.Store.MailTo(ctx, "ana@example.com"); len(rows) != 0 {
		t.Fatalf("ResetLink sent mail: %d", len(rows))
	}
	if got, err := a.CheckReset(ctx, token); err != nil || got.ID != ana.ID {
		t.Fatalf("check: %v", err)
	}
	for _, bad := range []string{"", "nope", strings.ToLower(token), token + "x"} {
		if _, err := a.CheckReset(ctx, bad); !errors.Is(err, account.ErrResetInvalid) {
			t.Errorf("check %q: %v", bad, err)
		}
		if _, err := a.Reset(ctx, bad, "brand new pw", "brand new pw"); !errors.Is(err, account.ErrResetInvalid) {
			t.Errorf("reset with %q: %v", bad, err)
		}
	}
	// A refused password leaves the link working.
	if f := fields(a.Reset(ctx, token, "short", "short")); f["new_password"] == "" {
		t.Fatalf("short: %v", f)
	}
	if f := fields(a.Reset(ctx, token, "brand new pw", "brand new px")); f["new_password_confirm"] == "" {
		t.Fatalf("mismatch: %v", f)
	}
	got, err := a.Reset(ctx, token, "brand new pw", "brand new pw")
	if err != nil || got.ID != ana.ID {
		t.Fatalf("reset: %v", err)
	}
	if ids := sessionIDs(t, a, ana); len(ids) != 0 {
		t.Fatalf("a reset leaves sessions (%d was the current one): %v", here, ids)
	}
	if _, err := a.SignIn(ctx, "ana@example.com", "brand new pw", "10.0.0.2"); err != nil {
		t.Fatalf("the new password: %v", err)
	}
	// Once only.
	if _, err := a.Reset(ctx, token, "another pw 123", "another pw 123"); !errors.Is(err, account.ErrResetInvalid) {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := a.SignIn(ctx, "ana@example.com", "brand new pw", "10.0.0.2"); err != nil {
		t.Fatalf("a refused reuse changed the password: %v", err)
	}
}

func TestResetLinksExpireAndEndWithPasswordOrEmailChanges(t *testing.T) {
	a := service(t)
	ctx := context.Background()
	ana := user(t, a, "ana@example.com")
	expired, err := a.IssueReset(ctx, ana.ID, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := a.Reset(ctx, expired, "brand new pw", "brand new pw"); !errors.Is(err, account.ErrResetInvalid) {
		t.Fatalf("expired: %v", err)
	}
	t1, _ := a.IssueReset(ctx, ana.ID, 0)
	t2, _ := a.IssueReset(ctx, ana.ID, 0)
	if _, err := a.ChangePassword(ctx, ana, "right password", "changed pw 1", "changed pw 1", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CheckReset(ctx, t1); !errors.Is(err, account.ErrResetInvalid) {
		t.Fatalf("a link made before a password change: %v", err)
	}
	t3, _ := a.IssueReset(ctx, ana.ID, 0)
	if err := a.UpdateProfile(ctx, ana.ID, "Ana", "ana@new.example.com"); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{t2, t3} {
		if _, err := a.CheckReset(ctx, tok); !errors.Is(err, account.ErrResetInvalid) {
			t.Fatalf("a link sent to the old email: %v", err)
		}
	}
	// Using one link ends the user's others.
	t4, _ := a.IssueReset(ctx, ana.ID, 0)
	t5, _ := a.IssueReset(ctx, ana.ID, 0)
	if _, err := a.Reset(ctx, t4, "brand new pw", "brand new pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CheckReset(ctx, t5); !errors.Is(err, account.ErrResetInvalid) {
		t.Fatalf("a second link after a reset: %v", err)
	}
}

func TestRequestReset(t *testing.T) {
	a := service(t)
	ctx := context.Background()
	if err := a.RequestReset(ctx, "ana@example.com", "10.0.0.1"); !errors.Is(err, mail.ErrNotConfigured) {
		t.Fatalf("without mail: %v", err)
	}
	srv := testkit.NewFakeSMTP(t)
	sc, _ := config.ParseSMTPURL(srv.URL)
	a.Mail = &mail.Service{Store: a.Store, SMTP: sc, From: "parley@example.test", Log: testkit.Logger(t)}
	a.BaseURL = "https://parley.example.test/"
	if err := a.RequestReset(ctx, "Ana@Example.com", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	rows, err := a.Store.MailTo(ctx, "ana@example.com")
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows: %d %v", len(rows), err)
	}
	if !strings.Contains(rows[0].TextBody, "https://parley.example.test/reset/") || rows[0].Kind != "password_reset" {
		t.Fatalf("mail: %+v", rows[0])
	}
	// An unknown or malformed email: the same answer, no mail.
	for _, e := range []string{"nobody@example.com", "garbage"} {
		if err := a.RequestReset(ctx, e, "10.0.0.2"); err != nil {
			t.Fatalf("%s: %v", e, err)
		}
		if rows, _ := a.Store.MailTo(ctx, e); len(rows) != 0 {
			t.Fatalf("mail to %s", e)
		}
	}
	// Three mails an hour per account, from any address; then the same answer and no mail.
	for i := 0; i < 4; i++ {
		if err := a.RequestReset(ctx, "bo@example.com", "10.1.0."+string(rune('1'+i))); err != nil {
			t.Fatal(err)
		}
	}
	if rows, _ := a.Store.MailTo(ctx, "bo@example.com"); len(rows) != 3 {
		t.Fatalf("%d mails to bo", len(rows))
	}
	// Five requests per 15 minutes per client: the sixth is refused.
	for i := 0; i < 5; i++ {
		if err := a.RequestReset(ctx, "x"+string(rune('a'+i))+"@example.com", "10.9.9.9"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.RequestReset(ctx, "ana@example.com", "10.9.9.9"); !throttled(err) {
		t.Fatalf("sixth request from one client: %v", err)
	}
}
