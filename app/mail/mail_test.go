package mail_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/parleyhq/parley/app/mail"
	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/app/testkit"
	"github.com/parleyhq/parley/config"
)

// service is a mail service on a fresh database that sends to srv.
func service(t *testing.T, srv *testkit.FakeSMTP) (*mail.Service, *[]*store.OutgoingMail) {
	t.Helper()
	sc, err := config.ParseSMTPURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var notified []*store.OutgoingMail
	s := &mail.Service{Store: testkit.Store(t), SMTP: sc, From: "Parley <parley@example.test>", Log: testkit.Logger(t), TLSConfig: srv.ClientTLS, Timeout: 5 * time.Second,
		Notify: func(_ context.Context, m *store.OutgoingMail) error { notified = append(notified, m); return nil }}
	return s, &notified
}

func TestNotConfigured(t *testing.T) {
	s := &mail.Service{Store: testkit.Store(t)}
	if s.Enabled() {
		t.Fatal("enabled without SMTP")
	}
	if err := s.Enqueue(context.Background(), "a@b.test", "Hi", "text", ""); !errors.Is(err, mail.ErrNotConfigured) {
		t.Fatalf("enqueue: %v", err)
	}
	var nilService *mail.Service
	if nilService.Enabled() {
		t.Fatal("a nil service is enabled")
	}
}

func TestEnqueueThenDeliver(t *testing.T) {
	srv := testkit.NewFakeSMTP(t)
	s, notified := service(t, srv)
	ctx := context.Background()
	id, err := s.EnqueueMessage(ctx, mail.Message{To: "ann@example.test", Subject: "Reset your password", Text: "Open https://x.test/reset/SECRET-LINK", HTML: "<p>Open <a href=\"https://x.test/reset/SECRET-LINK\">it</a></p>", Kind: "password_reset"})
	if err != nil {
		t.Fatal(err)
	}
	if len(*notified) != 1 || (*notified)[0].ID != id || (*notified)[0].Token == "" {
		t.Fatalf("notified: %+v", *notified)
	}
	// The promise is a row before anything is sent.
	row, err := s.Store.MailByID(ctx, id)
	if err != nil || row.State != store.MailPending || row.TextBody == "" || len(srv.Messages()) != 0 {
		t.Fatalf("row before sending: %+v %v", row, err)
	}
	if err := s.Deliver(ctx, id); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.From != "parley@example.test" || len(m.To) != 1 || m.To[0] != "ann@example.test" || m.User != testkit.FakeSMTPUser {
		t.Fatalf("envelope: %+v", m)
	}
	for _, want := range []string{"Subject: Reset your password", "SECRET-LINK", "text/plain", "text/html", "Message-ID:"} {
		if !bytes.Contains(m.Data, []byte(want)) {
			t.Errorf("the message lacks %q:\n%s", want, m.Data)
		}
	}
	row, _ = s.Store.MailByID(ctx, id)
	if row.State != store.MailSent || row.SentAt == nil || row.Attempts != 1 || row.TextBody != "" || row.HTMLBody != "" {
		t.Fatalf("row after sending: %+v", row)
	}
	// Delivered once: a second run of the task sends nothing.
	if err := s.Deliver(ctx, id); err != nil || len(srv.Messages()) != 1 {
		t.Fatalf("second delivery: %v, %d messages", err, len(srv.Messages()))
	}
	// A message that is gone (its workspace deleted) is nothing to do.
	if err := s.Deliver(ctx, id+1000); err != nil {
		t.Fatalf("unknown message: %v", err)
	}
}

func TestEnqueueRefusesBadInput(t *testing.T) {
	s, _ := service(t, testkit.NewFakeSMTP(t))
	ctx := context.Background()
	for _, m := range []mail.Message{
		{To: "not an address", Subject: "s", Text: "t"},
		{To: "a@b.test, c@d.test", Subject: "s", Text: "t"},
		{To: "Ann <a@b.test>", Subject: "s", Text: "t"},
		{To: "a@b.test", Subject: "s\r\nBcc: x@evil.test", Text: "t"},
		{To: "a@b.test", Subject: "s", Text: ""},
	} {
		if _, err := s.EnqueueMessage(ctx, m); err == nil {
			t.Errorf("%+v was queued", m)
		}
	}
	if rows, _ := s.Store.DueMail(ctx, time.Now().Add(time.Hour), 10); len(rows) != 0 {
		t.Fatalf("refused messages left rows: %d", len(rows))
	}
}

func TestDeliverRetriesTemporaryFailuresAndGivesUpOnPermanentOnes(t *testing.T) {
	srv := testkit.NewFakeSMTP(t)
	s, _ := service(t, srv)
	ctx := context.Background()
	id, err := s.EnqueueMessage(ctx, mail.Message{To: "bob@example.test", Subject: "Hi", Text: "body"})
	if err != nil {
		t.Fatal(err)
	}
	srv.FailNext(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"})
	before := time.Now()
	err = s.Deliver(ctx, id)
	if err == nil || errors.Is(err, mail.ErrGaveUp) {
		t.Fatalf("temporary failure: %v", err)
	}
	row, _ := s.Store.MailByID(ctx, id)
	if row.State != store.MailPending || row.Attempts != 1 || !strings.Contains(row.LastError, "try again later") || !row.DueAt.After(before) || row.LockedUntil != nil {
		t.Fatalf("after a temporary failure: %+v", row)
	}
	if err := s.Deliver(ctx, id); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages after the retry", n)
	}

	id2, _ := s.EnqueueMessage(ctx, mail.Message{To: "nobody@example.test", Subject: "Hi", Text: "body"})
	srv.FailNext(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"})
	if err := s.Deliver(ctx, id2); !errors.Is(err, mail.ErrGaveUp) {
		t.Fatalf("permanent failure: %v", err)
	}
	row, _ = s.Store.MailByID(ctx, id2)
	if row.State != store.MailFailed || row.FailedAt == nil || row.TextBody != "" || !strings.Contains(row.LastError, "no such mailbox") {
		t.Fatalf("after a permanent failure: %+v", row)
	}
}

func TestDeliverGivesUpAfterMaxAttempts(t *testing.T) {
	srv := testkit.NewFakeSMTP(t)
	s, _ := service(t, srv)
	ctx := context.Background()
	id, _ := s.EnqueueMessage(ctx, mail.Message{To: "c@example.test", Subject: "Hi", Text: "body"})
	var err error
	for i := 0; i < mail.MaxAttempts; i++ {
		srv.FailNext(&smtp.SMTPError{Code: 421, Message: "busy"})
		err = s.Deliver(ctx, id)
	}
	if !errors.Is(err, mail.ErrGaveUp) {
		t.Fatalf("attempt %d: %v", mail.MaxAttempts, err)
	}
	if row, _ := s.Store.MailByID(ctx, id); row.State != store.MailFailed || row.Attempts != mail.MaxAttempts {
		t.Fatalf("row: %+v", row)
	}
}

func TestDeliverUnreachableServerIsRetried(t *testing.T) {
	srv := testkit.NewFakeSMTP(t)
	s, _ := service(t, srv)
	s.SMTP = &config.SMTP{Host: "127.0.0.1", Port: 1} // nothing listens there
	ctx := context.Background()
	id, _ := s.EnqueueMessage(ctx, mail.Message{To: "d@example.test", Subject: "Hi", Text: "body"})
	if err := s.Deliver(ctx, id); err == nil || errors.Is(err, mail.ErrGaveUp) {
		t.Fatalf("unreachable server: %v", err)
	}
	if row, _ := s.Store.MailByID(ctx, id); row.State != store.MailPending || row.LastError == "" {
		t.Fatalf("row: %+v", row)
	}
}

// STARTTLS is used when the server offers it, and the password goes over TLS only.
func TestDeliverUsesSTARTTLSWhenOffered(t *testing.T) {
	srv := testkit.NewFakeSMTPTLS(t)
	s, _ := service(t, srv)
	ctx := context.Background()
	id, _ := s.EnqueueMessage(ctx, mail.Message{To: "e@example.test", Subject: "Hi", Text: "body"})
	if err := s.Deliver(ctx, id); err != nil {
		t.Fatal(err)
	}
	if m := srv.Messages(); len(m) != 1 || !m[0].TLS || m[0].User != testkit.FakeSMTPUser {
		t.Fatalf("messages: %+v", m)
	}
	// Without trusting the certificate, nothing is sent in clear instead.
	s.TLSConfig = nil
	id, _ = s.EnqueueMessage(ctx, mail.Message{To: "f@example.test", Subject: "Hi", Text: "body"})
	if err := s.Deliver(ctx, id); err == nil {
		t.Fatal("sent over a TLS connection it could not verify")
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages", n)
	}
}

// A password is not sent in clear to a server that is not this machine.
func TestNoPlainAuthWithoutTLSToAnotherHost(t *testing.T) {
	srv := testkit.NewFakeSMTPAt(t, "127.0.0.2:0") // not "localhost" to the client
	s, _ := service(t, srv)
	ctx := context.Background()
	id, _ := s.EnqueueMessage(ctx, mail.Message{To: "g@example.test", Subject: "Hi", Text: "body"})
	err := s.Deliver(ctx, id)
	if err == nil || !strings.Contains(err.Error(), "authentication mechanism") {
		t.Fatalf("authenticating in clear to a host that is not localhost: %v", err)
	}
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d messages", n)
	}
}
